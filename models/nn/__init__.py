"""The architectures, one readable file each (config dataclass first), sharing one attention module."""

from models.nn.bert import Bert, BertConfig
from models.nn.decoder import Decoder, DecoderConfig
from models.nn.gpt import GPT, GPTConfig

Model = GPT | Bert | Decoder
ModelConfig = GPTConfig | BertConfig | DecoderConfig
