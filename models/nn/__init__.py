"""The architectures, one readable file each (config dataclass first), sharing one attention module."""

from models.nn.bert import Bert, BertConfig
from models.nn.gpt import GPT, GPTConfig

Model = GPT | Bert
ModelConfig = GPTConfig | BertConfig
