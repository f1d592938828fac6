"""Training settings (a torch-free frozen dataclass, validated) and named presets built from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from models.capabilities import Capabilities
from models.device import DEVICES
from models.errors import ModelError
from models.text.modadd import check as check_modadd
from models.text.tokenizer import KINDS as TOKENIZERS

TASKS = ("lm", "classify")  # what a run learns: the language model's own objective, or labels
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Architecture:
    """What a run of one architecture builds, and the settings it needs (read by the forms too)."""

    label: str  # the form's words
    capabilities: Capabilities  # of the model a run builds (what the trainer asks of it)
    tokenizers: tuple[str, ...]  # the tokenizers its runs learn with; the first is the default
    tokenizer_rule: str  # why another is refused
    tasks: tuple[str, ...] = ("lm",)
    preset: str = ""  # the preset made for it ("" = any)


ARCHITECTURES = {
    "gpt": Architecture(
        "GPT (next token)", Capabilities(causal=True), ("char", "bpe"),
        "GPT needs a tokenizer that keeps spaces and newlines: choose 'char' or 'bpe', not 'wordpiece'",
    ),
    "bert": Architecture(
        "BERT (masked LM)", Capabilities(masked_lm=True), ("wordpiece",),
        "BERT needs the WordPiece tokenizer (it provides [MASK], [CLS] and [SEP])", ("lm", "classify"),
    ),
    "seq2seq": Architecture(
        "Encoder–decoder (source → target)", Capabilities(encoder_decoder=True), ("char",),
        "the encoder–decoder uses the char tokenizer (the built-in tasks are characters: numerals, "
        "letters, digits)", preset="seq2seq",
    ),
}  # fmt: skip
ARCHS = tuple(ARCHITECTURES)


def arch_of(capabilities: Capabilities) -> str:
    """The architecture whose runs train a model with these capabilities (a fine-tune of a Llama
    trains as a GPT does: the next token)."""
    if capabilities.encoder_decoder:
        return "seq2seq"
    return "gpt" if capabilities.causal else "bert"


def tokenizer_for(arch: str, wanted: str | None = None) -> str:
    """The tokenizer a run of `arch` uses: `wanted` if the architecture can learn with it, else
    its default (BERT: WordPiece for [MASK], [CLS] and [SEP]; GPT: char, keeping spaces and
    newlines)."""
    allowed = ARCHITECTURES[arch].tokenizers
    return wanted if wanted in allowed else allowed[0]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs besides the corpus. Torch-free, so the app can build and check it."""

    # model
    arch: str = "gpt"  # "gpt" (next token), "bert" (masked LM) or "seq2seq" (source → target)
    tokenizer: str = "char"  # "char", "bpe" or "wordpiece" (BERT needs "wordpiece")
    vocab_size: int = 1000  # target vocabulary of a trained bpe/wordpiece tokenizer
    n_layer: int = 4
    n_head: int = 4  # must divide n_embd
    n_embd: int = 128
    context: int = 64  # training window in tokens = size of the position table
    dropout: float = 0.0
    # fine-tuning
    task: str = "lm"  # "lm": next token (GPT) or masked tokens (BERT); "classify": labels (BERT)
    base_model: str = ""  # the folder a fine-tune started from ("" = trained from scratch)
    trainable_blocks: int = 0  # train only the last N blocks (and what follows them); 0 = all
    # optimisation
    batch_size: int = 12
    steps: int = 2000  # optimizer steps in the whole run
    lr: float = 1e-3  # peak learning rate, reached after warmup
    min_lr: float = 1e-4  # floor of the cosine decay
    warmup_steps: int = 100
    weight_decay: float = 0.1  # on 2-D weights only (matrices and embeddings)
    beta1: float = 0.9
    beta2: float = 0.99  # 0.99 rather than 0.999: small models and few tokens per step
    grad_clip: float = 1.0  # max global gradient norm; 0 = off
    mask_prob: float = 0.15  # BERT: fraction of tokens to predict (80% [MASK], 10% random, 10% kept)
    label_smoothing: float = 0.0  # encoder–decoder: the article's 0.1 spreads that much of each target
    # the modular-addition task (grokking): (a + b) mod this prime, this share of the pairs trained on
    modulus: int = 59
    train_fraction: float = 0.5
    # what the run reports and writes
    eval_every: int = 250  # validation loss every N steps (and at the end); 0 = only at the end
    eval_batches: int = 20  # batches averaged for one validation loss
    sample_every: int = 500  # a generated sample (GPT) or fill-mask line (BERT); 0 = never
    sample_tokens: int = 100
    probe_every: int = 250  # attention of the probe text; 0 = never
    induction_heads: bool = False  # a GPT on text: its induction heads measured at every validation
    # a GPT on text: this share of the windows (training and held out) is one passage written over
    # and over, so copying from context pays at once and induction heads form in minutes, not days
    repeat_share: float = 0.0
    probe_text: str = ""  # "" = a line taken from the corpus
    checkpoint_every: int = 1000  # 0 = only on stop and at the end
    keep_training_state: bool = True  # False: the final folder has no optimizer state (small)
    # environment
    val_fraction: float = 0.1  # the last 10% of the corpus is held out
    seed: int = 1337
    device: str = "auto"  # auto = cuda, then mps, then cpu
    precision: str = "auto"  # auto = bf16 autocast on a GPU that supports it, fp32 on CPU

    def __post_init__(self) -> None:
        _choice("arch", self.arch, ARCHS)
        _choice("task", self.task, TASKS)
        built = ARCHITECTURES[self.arch]
        if self.task not in built.tasks:
            raise ModelError("classification fine-tuning needs a BERT (a GPT learns text, not labels)")
        _choice("tokenizer", self.tokenizer, TOKENIZERS)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        if tokenizer_for(self.arch, self.tokenizer) != self.tokenizer:
            raise ModelError(f"{built.tokenizer_rule}; got '{self.tokenizer}'")
        for name in (
            "n_layer",
            "n_head",
            "n_embd",
            "context",
            "batch_size",
            "steps",
            "eval_batches",
            "sample_tokens",
        ):
            _at_least(name, getattr(self, name), 1)
        for name in (
            "warmup_steps",
            "eval_every",
            "sample_every",
            "probe_every",
            "checkpoint_every",
            "trainable_blocks",
        ):
            _at_least(name, getattr(self, name), 0)
        if self.n_embd % self.n_head:
            raise ModelError(
                f"heads ({self.n_head}) must divide the width ({self.n_embd}); "
                f"try {_divisors_near(self.n_embd, self.n_head)}"
            )
        if self.context > 8192:
            raise ModelError(f"context {self.context} is larger than this trainer supports (8192)")
        if self.tokenizer != "char" and not 64 <= self.vocab_size <= 100_000:
            raise ModelError(f"vocab size must be between 64 and 100000 (got {self.vocab_size})")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"dropout must be in [0, 1) (got {self.dropout})")
        if not 0.0 < self.lr <= 1e3 or self.lr != self.lr:
            raise ModelError(f"learning rate must be positive (got {self.lr})")
        if not 0.0 <= self.min_lr <= self.lr:
            raise ModelError(f"min lr must be between 0 and the learning rate {self.lr} (got {self.min_lr})")
        if self.warmup_steps > self.steps:
            raise ModelError(
                f"warmup ({self.warmup_steps} steps) is longer than the run ({self.steps} steps)"
            )
        if self.weight_decay < 0:
            raise ModelError(f"weight decay must be 0 or more (got {self.weight_decay})")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ModelError(f"{name} must be in [0, 1) (got {getattr(self, name)})")
        if self.grad_clip < 0:
            raise ModelError(f"gradient clipping must be 0 (off) or more (got {self.grad_clip})")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ModelError(f"label smoothing must be in [0, 1) (got {self.label_smoothing})")
        check_modadd(self.modulus, self.train_fraction)
        if self.induction_heads and (self.arch != "gpt" or self.n_layer < 2):
            raise ModelError(
                "induction heads are measured on a GPT of 2 layers or more (one head finds the "
                "previous token, a later one copies what followed it)"
            )
        if not 0.0 <= self.repeat_share <= 1.0:
            raise ModelError(f"the share of repeated passages must be in [0, 1] (got {self.repeat_share})")
        if self.repeat_share and self.arch != "gpt":
            raise ModelError("repeated passages are for a GPT learning a text (the next token)")
        if not 0.0 < self.mask_prob < 1.0:
            raise ModelError(f"mask probability must be in (0, 1) (got {self.mask_prob})")
        # labelled examples are few and each is scored whole: more may be held out than of a text
        high = 0.9 if self.task == "classify" else 0.5
        if not 0.0 < self.val_fraction < high:
            raise ModelError(f"validation fraction must be in (0, {high:g}) (got {self.val_fraction})")

    def warnings(self) -> list[str]:
        """Legal settings that usually make a run diverge or learn nothing: said before the run."""
        out = []
        if self.lr > 0.05:
            out.append(
                f"learning rate {self.lr:g} is far above the usual 1e-4 to 1e-2: the loss will "
                "likely explode (the run stops itself if it does)"
            )
        elif self.lr > 0.01 and self.warmup_steps < 10:
            out.append(
                f"learning rate {self.lr:g} with almost no warmup often diverges: try 50+ warmup steps"
            )
        if self.lr < 1e-6:
            out.append(f"learning rate {self.lr:g} is so small that the model will barely change")
        if self.grad_clip == 0 and self.lr > 0.01:
            out.append("gradient clipping is off at a high learning rate: one bad batch can ruin the run")
        if self.batch_size * self.context < 64:
            out.append(
                f"a batch of {self.batch_size} × {self.context} tokens is very small: the loss will be noisy"
            )
        if self.dropout > 0.5:
            out.append(f"dropout {self.dropout:g} drops most of the signal: the model may not learn")
        return out

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some settings changed; unknown names are refused by name."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ModelError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _choice(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ModelError(f"{name} must be one of {', '.join(options)} (got '{value}')")


def _at_least(name: str, value: int, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ModelError(f"{name} must be a whole number ≥ {low} (got {value!r})")


def _divisors_near(width: int, heads: int) -> str:
    ds = [d for d in range(1, min(width, 64) + 1) if width % d == 0]
    best = sorted(ds, key=lambda d: abs(d - heads))[:3]
    return " or ".join(str(d) for d in sorted(best)) + f" heads for width {width}"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str  # what it is for and how long it takes, shown in the app's preset list
    config: TrainConfig


_TASK = dict(  # measured: copy 100%, reverse 98%, sort 100%, addition 78%, induction 91% exact answers
    n_layer=2,
    n_head=4,
    n_embd=64,
    context=32,  # a few lines per window: at 64 the copying heads did not form in 1500 steps
    batch_size=32,
    steps=3000,
    lr=3e-3,
    min_lr=3e-4,
    warmup_steps=50,
    eval_every=100,
    sample_every=250,
    probe_every=100,
    checkpoint_every=500,  # a crash costs at most ~5 s of a task run
    sample_tokens=40,
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny",
            "tiny: about a minute on a laptop CPU — 2 layers, width 64; loss falls, attention starts to form",
            TrainConfig(
                n_layer=2,
                n_head=2,
                n_embd=64,
                context=64,
                batch_size=16,
                steps=600,
                lr=2e-3,
                min_lr=2e-4,
                warmup_steps=30,
                eval_every=100,
                sample_every=200,
                probe_every=50,
                checkpoint_every=200,
            ),
        ),
        Preset(
            "task",
            "task: a built-in task (copy, reverse, sort, addition, induction) in "
            "a minute or two on CPU — watch the attention pattern appear",
            TrainConfig(**_TASK),
        ),
        Preset(
            "seq2seq",
            "seq2seq: the original Transformer (encoder and decoder, 2 + 2 layers, width 128) on a "
            "built-in translation task or your TSV — a few minutes on CPU",
            TrainConfig(
                arch="seq2seq",
                n_layer=2,
                n_head=4,
                n_embd=128,
                context=32,
                batch_size=64,
                steps=3000,
                lr=1e-3,
                min_lr=1e-4,
                warmup_steps=100,
                dropout=0.1,
                label_smoothing=0.1,
                eval_every=250,
                eval_batches=1,
                sample_every=250,
                probe_every=100,
                checkpoint_every=500,
            ),
        ),
        Preset(
            "grok",
            "grok: modular addition, (a + b) mod 59 from half the pairs (1 layer, width 128, "
            "full batch, AdamW with weight decay 1) — test accuracy jumps long after train "
            "accuracy, in about a minute on CPU",
            TrainConfig(
                n_layer=1,
                n_head=4,
                n_embd=128,
                context=5,
                batch_size=4096,  # every training pair in each step
                steps=3000,
                lr=3e-3,
                min_lr=3e-3,  # constant after warmup: the papers' schedule
                warmup_steps=10,
                weight_decay=1.0,
                beta2=0.98,
                grad_clip=0.0,
                eval_every=20,
                eval_batches=1,
                sample_every=500,
                sample_tokens=1,
                probe_every=100,
                checkpoint_every=1000,
            ),
        ),
        Preset(
            "induction",
            "induction: the induction-head phase change (Olsson et al. 2022) on Shakespeare in about "
            "four minutes on CPU — 2 layers, context 256, half the windows a passage read over and "
            "over; the step the heads form is marked on the loss, and knocking them out undoes the "
            "in-context learning",
            TrainConfig(
                n_layer=2,
                n_head=4,
                n_embd=128,
                context=256,
                batch_size=16,
                steps=2500,
                lr=1e-3,
                min_lr=1e-4,
                warmup_steps=100,
                eval_every=100,
                eval_batches=8,
                sample_every=500,
                probe_every=100,
                checkpoint_every=500,
                induction_heads=True,
                repeat_share=0.5,
            ),
        ),
        Preset(
            "scaling",
            "scaling: a scaling law — GPTs of 5 sizes (20k to 1.5M parameters) on the same corpus for the "
            "same tokens, one after another, and L(N) = E + A·N^−α fitted to their final losses; each "
            "size's shape and learning rate are the sweep's own; about two minutes on CPU",
            TrainConfig(),
        ),
        Preset(
            "shakespeare",
            "Shakespeare: a few minutes on CPU — nanoGPT's CPU recipe "
            "(4 layers, 4 heads, width 128, context 64), validation loss about 1.9",
            TrainConfig(),
        ),
        Preset(
            "small",
            "small: a GPU recommended (about 10 M parameters, context 256); hours on a CPU",
            TrainConfig(
                n_layer=6,
                n_head=6,
                n_embd=384,
                context=256,
                batch_size=64,
                steps=5000,
                lr=1e-3,
                min_lr=1e-4,
                warmup_steps=100,
                dropout=0.2,
                eval_every=250,
                sample_every=1000,
                probe_every=250,
                checkpoint_every=1000,
            ),
        ),
    )
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The named preset's settings with `overrides` applied (and validated)."""
    key = name.split(":")[0].strip().lower()
    if key not in PRESETS:
        raise ModelError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    if "arch" in overrides and "tokenizer" not in overrides:
        overrides["tokenizer"] = tokenizer_for(overrides["arch"])
    base = PRESETS[key].config
    if "steps" in overrides and "warmup_steps" not in overrides:  # a short run, a short warmup
        overrides["warmup_steps"] = min(base.warmup_steps, int(overrides["steps"]) // 10)
    return base.replace(**overrides)


# What a fine-tune changes from a from-scratch run: 10x lower peak rate, a short warmup, few steps,
# little weight decay (the weights are already good: pulling them to zero undoes pre-training).
FINETUNE_PRESETS: dict[str, dict[str, Any]] = {
    "lm": dict(
        steps=300, lr=1e-4, min_lr=1e-5, warmup_steps=20, weight_decay=0.01, batch_size=8, context=128,
        eval_every=50, eval_batches=20, sample_every=100, sample_tokens=200, probe_every=50,
        checkpoint_every=100,
    ),
    # a small BERT on a few hundred examples: a higher rate than BERT's usual 2e-5 to 5e-5 (see
    # tests/bench/bench_finetune.py for what it reaches); batch 16 is the usual fine-tuning batch
    "classify": dict(
        steps=300, lr=2e-4, min_lr=2e-5, warmup_steps=30, weight_decay=0.01, batch_size=16, context=64,
        eval_every=25, eval_batches=1, sample_every=50, probe_every=50, checkpoint_every=100,
        val_fraction=0.2,
    ),
}  # fmt: skip
