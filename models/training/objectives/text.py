"""Learning a text: the next token (GPT and every decoder) or masked tokens (BERT), on random windows."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from models.errors import ModelError
from models.inspect.analysis import fill_mask
from models.inspect.generation import generate
from models.nn import BertConfig, GPTConfig, Model
from models.nn.bert import Bert
from models.nn.gpt import GPT
from models.results import Baseline
from models.text.corpus import BUILTIN_CORPORA, Corpus, check_size, load_corpus, read_text
from models.text.tokenizer import Tokenizer
from models.training.batches import Masker, encode_ids, gpt_batch, repeat_passages
from models.training.objectives.base import Objective, evaluated
from models.training.settings import TrainConfig

CORPUS_FILE = "corpus.txt"  # a user's corpus, kept with the run so resuming reads nothing else


class TextObjective(Objective):
    """A corpus split as nanoGPT splits it (the last tenth held out) and its token ids; the
    tokenizer is learned on the whole corpus unless the model brings its own."""

    data_file = CORPUS_FILE

    def __init__(self, config: TrainConfig, data: Corpus | str | Path, tokenizer: Tokenizer | None) -> None:
        super().__init__(config, data, tokenizer)
        self.data = corpus = data if isinstance(data, Corpus) else load_corpus(data, seed=config.seed)
        self.tokenizer = tokenizer or Tokenizer.train(
            corpus.text.splitlines(keepends=True), config.tokenizer, config.vocab_size
        )
        train_text, val_text = corpus.split(config.val_fraction)
        self.train_ids = encode_ids(self.tokenizer, train_text)
        self.val_ids = encode_ids(self.tokenizer, val_text)
        check_size(corpus.name, len(self.train_ids), len(self.val_ids), config.context, config.val_fraction)
        self.probe_text = config.probe_text or corpus.probe_text(config.val_fraction)
        if config.induction_heads and not config.probe_text:  # a line read twice: induction shows
            self.probe_text = f"{self.probe_text}\n{self.probe_text}"
        self.sample_prompt = corpus.sample_prompt(config.val_fraction)

    def windows(self, data: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets [B, T] from random windows of `data`."""
        raise NotImplementedError

    def batch(self, gen: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.windows(self.train_ids, gen)
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    def loss(self, net: torch.nn.Module, model: Model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = net(x).logits  # [B, T, vocab]
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100)

    def evaluate(
        self, model: Model, device: torch.device, autocast: AbstractContextManager
    ) -> tuple[float, dict[str, Any]]:
        """The mean loss of the same held-out windows every time (any module whose output has
        `.logits` will do: a benchmark scores a reference model on the very same batches)."""
        total = 0.0
        with evaluated(model), torch.inference_mode(), autocast:
            for x, y in self.held_out(device):
                total += float(self.loss(model, model, x, y))
        return total / self.config.eval_batches, {}

    def held_out(self, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The validation batches: the same windows of the held-out text at every validation."""
        gen = torch.Generator().manual_seed(self.config.seed + 10_000)
        batches = (self.windows(self.val_ids, gen) for _ in range(self.config.eval_batches))
        return [(x.to(device), y.to(device)) for x, y in batches]

    def describe(self) -> str:
        return f"{len(self.train_ids)} training tokens"

    @classmethod
    def saved_data(cls, folder: Path, saved: dict[str, Any], seed: int) -> Corpus:
        name = saved["name"]
        if (folder / CORPUS_FILE).is_file():
            return Corpus(name, read_text(folder / CORPUS_FILE))
        if name.startswith("task:") or name in BUILTIN_CORPORA:
            return load_corpus(name, seed=seed)
        raise ModelError(
            f"{folder}: this checkpoint does not carry its corpus ({name}); name the corpus to resume"
        )


class NextToken(TextObjective):
    """Each position predicts the next token (a GPT trained here, or any decoder fine-tuned)."""

    def model(self, given: Model | None, resuming: bool = False) -> Model:
        return given if given is not None else new_gpt(self.config, self.tokenizer)

    def windows(self, data: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        x, y = gpt_batch(data, cfg.batch_size, cfg.context, gen)
        return repeat_passages(data, x, y, cfg.repeat_share, gen) if cfg.repeat_share else (x, y)

    @property
    def look_for(self) -> str:
        """What the run shows (its induction heads forming, when measured), else ""."""
        from models.inspect.induction import LOOK_FOR

        return LOOK_FOR if self.config.induction_heads else ""

    def evaluate(
        self, model: Model, device: torch.device, autocast: AbstractContextManager
    ) -> tuple[float, dict[str, Any]]:
        """The held-out loss; with `induction_heads`, from the loss at each position of the same
        windows, and the induction measurements with it (`models.inspect.induction`)."""
        if not self.config.induction_heads:
            return super().evaluate(model, device, autocast)
        from models.inspect.induction import held_out_passages, measure_induction

        passages = held_out_passages(self.val_ids, self.config.context)
        with evaluated(model), autocast:
            measured = measure_induction(model, self.held_out(device), passages)
        return float(measured.losses.mean()), {"induction": measured}

    def sample(self, model: Model, step: int) -> str:
        """A continuation of the run's prompt, with the run's seed (every sample alike)."""
        cfg = self.config
        with evaluated(model):
            steps = generate(
                model, self.tokenizer, self.sample_prompt, max_new_tokens=cfg.sample_tokens,
                temperature=0.8, seed=cfg.seed, alternatives=1,
            )  # fmt: skip
            return self.sample_prompt + "".join(s.text for s in steps)

    def baseline(self, model: Model, evaluate) -> Baseline:
        """The held-out loss and a sample from the run's prompt and seed, which the run's own
        samples share, so before and after read side by side."""
        return Baseline(val_loss=evaluate(), sample=self.sample(model, 0))


def new_gpt(cfg: TrainConfig, tok: Tokenizer) -> GPT:
    """A GPT of the settings' shape for this tokenizer (made under the run's seed)."""
    return GPT(
        GPTConfig(
            vocab_size=tok.vocab_size, n_positions=cfg.context, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
            n_head=cfg.n_head, dropout=cfg.dropout, bos_token_id=tok.eos_id, eos_token_id=tok.eos_id,
        )
    )  # fmt: skip


class MaskedTokens(TextObjective):
    """BERT's masked language model: 15% of each window's tokens hidden (80% [MASK], 10% random,
    10% kept) and predicted from both sides."""

    masker: Masker

    def model(self, given: Model | None, resuming: bool = False) -> Model:
        if given is not None and not given.capabilities.masked_lm:
            raise ModelError(
                "this BERT has no masked-LM head (an encoder-only folder), so it cannot be fine-tuned "
                "on text; fine-tune it for classification instead"
            )
        cfg, tok = self.config, self.tokenizer
        model = given or Bert(
            BertConfig(
                vocab_size=tok.vocab_size, max_position_embeddings=cfg.context, hidden_size=cfg.n_embd,
                num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head,
                intermediate_size=4 * cfg.n_embd, dropout=cfg.dropout,
                pad_token_id=tok.token_id("[PAD]") or 0,
            )
        )  # fmt: skip
        self.masker = Masker(tok, model.config.vocab_size, cfg.mask_prob)
        return model

    def windows(self, data: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.masker.batch(data, self.config.batch_size, self.config.context, gen)

    def sample(self, model: Model, step: int) -> str:
        """The probe text with a whole word near its middle masked, and the top three fills."""
        tokens = self.tokenizer.encode(self.probe_text)
        inner = min(len(tokens), self.config.context) - 2
        if inner < 1:
            return ""
        texts = tokens.texts[: inner + 2]
        # mask a whole word near the middle (a "##" piece is a poor question), else the middle
        words = [i for i in range(1, inner + 1) if texts[i].isalpha() and not texts[i + 1].startswith("##")]
        position = min(words or [1 + inner // 2], key=lambda i: abs(i - (1 + inner // 2)))
        with evaluated(model):
            result = fill_mask(model, self.tokenizer, self.probe_text, k=3, mask_positions=[position])
        fill = result.fills[0]
        shown = " ".join(result.tokens.texts[1 : inner + 1])
        guesses = ", ".join(f"{t} {p:.2f}" for t, p in zip(fill.top_texts, fill.top_probs, strict=True))
        return f"{shown} → {guesses} (was '{texts[position]}')"
