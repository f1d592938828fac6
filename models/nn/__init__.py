"""The architectures, one readable file each (config dataclass first), sharing one attention module."""

from models.nn.bert import Bert, BertConfig
from models.nn.decoder import Decoder, DecoderConfig
from models.nn.gpt import GPT, GPTConfig
from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig

Model = GPT | Bert | Decoder | Seq2Seq
ModelConfig = GPTConfig | BertConfig | DecoderConfig | Seq2SeqConfig
