"""The architectures, one readable file each (config dataclass first), sharing one attention module and
one model interface (`interface.Model`: what every tool may ask of a model)."""

from models.nn.bert import Bert, BertConfig
from models.nn.decoder import Decoder, DecoderConfig
from models.nn.gpt import GPT, GPTConfig
from models.nn.interface import Model
from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig

ModelConfig = GPTConfig | BertConfig | DecoderConfig | Seq2SeqConfig


def build(config: ModelConfig) -> Model:
    """The model a config describes, with fresh weights (on the meta device inside `torch.device("meta")`)."""
    if isinstance(config, DecoderConfig):
        return Decoder(config)
    if isinstance(config, Seq2SeqConfig):
        return Seq2Seq(config)
    return GPT(config) if isinstance(config, GPTConfig) else Bert(config)


__all__ = [
    "GPT", "Bert", "BertConfig", "Decoder", "DecoderConfig", "GPTConfig", "Model", "ModelConfig", "Seq2Seq",
    "Seq2SeqConfig", "build",
]  # fmt: skip
