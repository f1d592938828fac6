"""Every request the GUI sends the worker, declared once: its kind, its payload and its answer (torch-free).

`WorkerClient.send(request)` queues any of them and returns its id; `Worker.serve` runs the handler
registered for its type (`@serves`). Each request ends with exactly one `request_finished` for its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from models.inspect.sampling import SamplingSettings
from models.training.settings import TrainConfig

# probe channels: probes on one supersede each other, and a view reads the newest of its channel
INSPECT = "inspect"  # the text the attention and probability views show (either may ask)
SCORES = "scores"  # a finished run's text, scored without attentions
TOKENS = "tokens"  # fill-mask: the tokens of a text with nothing masked yet
EXAMPLE = "example"  # fine-tune: a clicked held-out example
LAYER = "layer"  # one layer of the last long text inspected on a big model (`LayerAttention`)


class Request:
    """What each kind declares besides its payload (the fields of a frozen dataclass)."""

    kind: ClassVar[str]  # its name: what the client's bookkeeping and `active()` know it by
    activity: ClassVar[str] = "probing"  # the worker's activity while it is served (state.ACTIVITIES)
    answer: ClassVar[str] = ""  # the `Answers` signal its result comes on ("" = its end only)
    between_chunks: ClassVar[bool] = False  # served between chunks of a running job, newest first

    def label(self) -> str:
        """The status bar's words while it is served."""
        return f"{self.activity}…"


@dataclass(frozen=True)
class Load(Request):
    """Open a folder, a hub id ("org/name") or "builtin:gpt"/"builtin:bert"; on failure the old
    model stays (with none yet, the built-in GPT opens and says why)."""

    kind: ClassVar[str] = "load"
    activity: ClassVar[str] = "loading"
    answer: ClassVar[str] = "model_loaded"
    source: str
    precision: str = "auto"  # "auto", "fp32", "bf16" or "int8" (models.device.PRECISIONS)

    def label(self) -> str:
        return f"opening {short_name(self.source)}…"


@dataclass(frozen=True)
class Generate(Request):
    """Continue a prompt (or translate a source), streamed a token at a time; stoppable."""

    kind: ClassVar[str] = "generate"
    activity: ClassVar[str] = "generating"
    answer: ClassVar[str] = "tokens_generated"
    prompt: str
    settings: SamplingSettings


@dataclass(frozen=True)
class Steer(Request):
    """The same prompt continued twice with one seed, as the model is and steered by a vector
    (made from `plus` and `minus` at `layer`, or the `vector` given); both streamed; stoppable."""

    kind: ClassVar[str] = "steer"
    activity: ClassVar[str] = "generating"
    answer: ClassVar[str] = "steering_generated"
    prompt: str
    settings: SamplingSettings
    coefficient: float
    positions: str = "all"
    plus: tuple[str, ...] = ()
    minus: tuple[str, ...] = ()
    layer: int = 0
    vector: Any = None  # a SteeringVector (loaded from a file), used instead of making one

    def label(self) -> str:
        return "generating, as it is and steered…"


@dataclass(frozen=True)
class SetSteering(Request):
    """Steer every later model call (generation, probes, the lens, attributions…) by a vector made
    from `plus` and `minus` at `layer` (or the `vector` given) × `coefficient`, added at
    `positions`; a coefficient of 0 takes it off."""

    kind: ClassVar[str] = "steer-all"
    answer: ClassVar[str] = "steering_changed"
    coefficient: float = 0.0
    positions: str = "all"
    plus: tuple[str, ...] = ()
    minus: tuple[str, ...] = ()
    layer: int = 0
    vector: Any = None

    def label(self) -> str:
        return "steering every view…" if self.coefficient else "taking the steering off…"


@dataclass(frozen=True)
class Inspect(Request):
    """A probe: one pass over `text` with everything the inspection views draw. Probes on one
    `channel` supersede each other while they wait (typing fast sends fifty, one is served)."""

    kind: ClassVar[str] = "probe"
    answer: ClassVar[str] = "probed"
    between_chunks: ClassVar[bool] = True
    text: str
    channel: str = INSPECT
    attentions: bool = True  # False: only the scores (cheaper; its attentions are empty)
    training: bool = False  # read the model a run is training, while it trains
    # a long text on a big model is read a layer at a time (`Probe.pooled`): its overview is pooled
    # in this colour scale ("auto": both of automatic's choices), and this layer is kept whole
    scale: str = "auto"
    layer: int = 0

    def label(self) -> str:
        return "inspecting…"


@dataclass(frozen=True)
class LayerAttention(Request):
    """One layer's attention [heads, T, T] of the last text inspected whose probe kept only its
    overview (`Probe.pooled`), made again from the residual stream the worker kept. Waits between
    chunks like a probe; a newer one supersedes it (walking the layers sends one per key)."""

    kind: ClassVar[str] = "layer"
    answer: ClassVar[str] = "layer_attention_read"
    between_chunks: ClassVar[bool] = True
    layer: int
    channel: str = LAYER

    def label(self) -> str:
        return f"reading layer {self.layer}…"


@dataclass(frozen=True)
class SaveAttention(Request):
    """Write every head's attention [layers, heads, T, T] of the last text inspected layer by layer
    (`Probe.pooled`) to the NumPy file `path`: a layer at a time, from the streams the worker kept,
    through a temporary file (a failure leaves what was there)."""

    kind: ClassVar[str] = "save-attention"
    activity: ClassVar[str] = "saving"
    answer: ClassVar[str] = "request_finished"  # (its end is all there is to say)
    path: str

    def label(self) -> str:
        return "writing every head's attention…"


@dataclass(frozen=True)
class FillMask(Request):
    """BERT's top fills of every `[MASK]` in `text`, or of the tokens at `positions`."""

    kind: ClassVar[str] = "fill"
    activity: ClassVar[str] = "filling"
    answer: ClassVar[str] = "mask_filled"
    text: str
    positions: tuple[int, ...] = ()

    def label(self) -> str:
        return "filling masks…"


@dataclass(frozen=True)
class ReadLayers(Request):
    """The logit lens: every layer's prediction over `text` (following `token`, if one is given),
    answered again after each block of positions; stoppable, with progress."""

    kind: ClassVar[str] = "lens"
    activity: ClassVar[str] = "reading"
    answer: ClassVar[str] = "lens_read"
    text: str
    token: str = ""

    def label(self) -> str:
        return "reading the layers…"


@dataclass(frozen=True)
class Attribute(Request):
    """Which earlier tokens made each token of `text` from position `first` on (models.attribute),
    answered again after each chunk of targets; stoppable, with progress."""

    kind: ClassVar[str] = "attribute"
    activity: ClassVar[str] = "explaining"
    answer: ClassVar[str] = "attributed"
    text: str
    method: str = "input_x_gradient"
    first: int = 1  # the first position explained (a run's first generated token)
    contrast: str = ""  # an alternative token: explain log p(token) - log p(alternative)
    steps: int = 32  # integrated gradients' steps

    def label(self) -> str:
        return "explaining the tokens…"


@dataclass(frozen=True)
class ScoreHeadTypes(Request):
    """Every head's type scores on random repeated tokens and on `text` (models.head_types)."""

    kind: ClassVar[str] = "head-types"
    activity: ClassVar[str] = "probing"
    answer: ClassVar[str] = "head_types_scored"
    text: str = ""

    def label(self) -> str:
        return "scoring every head's type…"


@dataclass(frozen=True)
class ReadNeurons(Request):
    """The neurons with the largest direct effects on the token after `position` in `text`."""

    kind: ClassVar[str] = "neurons"
    activity: ClassVar[str] = "probing"
    answer: ClassVar[str] = "neurons_read"
    text: str
    position: int = -1  # -1: the last token (its prediction)

    def label(self) -> str:
        return "reading the neurons…"


@dataclass(frozen=True)
class FindContexts(Request):
    """A layer's neurons' top-activating contexts over a corpus (the built-in Shakespeare when
    `corpus` is ""), a batch of windows at a time; stoppable; kept per model, layer and corpus."""

    kind: ClassVar[str] = "contexts"
    activity: ClassVar[str] = "reading"
    answer: ClassVar[str] = "contexts_found"
    layer: int
    corpus: str = ""

    def label(self) -> str:
        return f"finding layer {self.layer}'s neurons' top contexts…"


@dataclass(frozen=True)
class KnockOut(Request):
    """Knock these (layer, head) pairs out of every later model call; () puts every head back."""

    kind: ClassVar[str] = "ablate"
    answer: ClassVar[str] = "ablation_changed"
    heads: tuple[tuple[int, int], ...]
    mode: str = "zero"

    def label(self) -> str:
        return "knocking heads out…"


@dataclass(frozen=True)
class Sweep(Request):
    """Every head in turn: knocked out over `text` ("ablation", by `mode`), or patched from the
    run on `text` (clean) into the run on `corrupted` ("patching"), read on `target` vs `other`
    (empty: the clean and corrupted predictions). Stoppable, with progress."""

    kind: ClassVar[str] = "sweep"
    answer: ClassVar[str] = "heads_swept"
    sweep: str  # "ablation" or "patching"
    text: str
    corrupted: str = ""
    target: str = ""
    other: str = ""
    mode: str = "zero"
    intact: bool = False  # True: on the model with every head in, whatever is knocked out now

    def label(self) -> str:
        return "sweeping the heads…"


@dataclass(frozen=True)
class CheckHeads(Request):
    """Exact answers on fresh questions of the task the active model was trained on, with each set
    of heads knocked out (exactly those: the heads knocked out elsewhere are back in)."""

    kind: ClassVar[str] = "check"
    answer: ClassVar[str] = "heads_checked"
    head_sets: tuple[tuple[tuple[int, int], ...], ...]

    def label(self) -> str:
        return "answering fresh questions…"


@dataclass(frozen=True)
class Finetune:
    """Fine-tune the active model (the worker turns it into settings for the model's shape)."""

    task: str  # "lm": continue on text; "classify": labels (BERT)
    data: str  # a text file or built-in corpus (lm); a labelled file or "task:NAME" (classify)
    settings: dict[str, Any]  # changes to the fine-tune preset: steps, lr, batch_size, context, ...
    text_column: str = ""  # labelled files: "" = guessed
    label_column: str = ""
    scratch: bool = False  # the same architecture from random weights, for comparison: the active
    # model stays active, and this run only draws its curve


@dataclass(frozen=True)
class Train(Request):
    """A training run as a chunked job: new, resumed, or a fine-tune of the active model; its
    model becomes active at the end (a from-scratch twin's does not)."""

    kind: ClassVar[str] = "train"
    activity: ClassVar[str] = "preparing"
    answer: ClassVar[str] = "training_started"
    config: TrainConfig | None  # None when resuming or fine-tuning: the settings come from elsewhere
    corpus: str = ""  # a .txt file, a folder of them, or "task:NAME"
    resume_from: str = ""  # a checkpoint folder with training state; "" = a new run
    out_dir: str = ""  # where checkpoints go; "" = a new folder under the app's runs
    steps: int = 0  # when resuming: the new total number of steps; 0 = as saved
    finetune: Finetune | None = None  # fine-tune the active model instead of a new one

    def label(self) -> str:
        if self.finetune is not None:
            return "preparing the data and the model's copy…"
        return "preparing the corpus and tokenizer…"


@dataclass(frozen=True)
class Save(Request):
    """Write the active model to `folder` (a training run's, live or just ended, with its state)."""

    kind: ClassVar[str] = "save"
    activity: ClassVar[str] = "saving"
    answer: ClassVar[str] = "model_saved"
    folder: str


@dataclass(frozen=True)
class SaveGGUF(Request):
    """Write the active model to a GGUF file `path` with its matrices as `type` (F16, BF16, F32, Q8_0)."""

    kind: ClassVar[str] = "save-gguf"
    activity: ClassVar[str] = "saving"
    answer: ClassVar[str] = "model_saved"
    path: str
    type: str = "F16"

    def label(self) -> str:
        return f"writing {Path(self.path).name} ({self.type})…"


@dataclass(frozen=True)
class Compare(Request):
    """Two models on one text: "active", "base" (before the last fine-tune) or a folder each, shown
    under `names`."""

    kind: ClassVar[str] = "compare"
    answer: ClassVar[str] = "compared"
    a: str
    b: str
    text: str
    names: tuple[str, str] = ("A", "B")

    def label(self) -> str:
        return "comparing the two models…"


@dataclass(frozen=True)
class ScalingSweep(Request):
    """GPTs of `sizes` (non-embedding parameters) trained for `tokens` tokens each on `corpus`, one
    after another, as one stoppable job (models.training.scaling); each run's folder under `out_dir`."""

    kind: ClassVar[str] = "scaling"
    activity: ClassVar[str] = "training"
    answer: ClassVar[str] = "scaling_updated"
    corpus: str
    sizes: tuple[int, ...]
    tokens: int
    seed: int = 1337
    out_dir: str = ""

    def label(self) -> str:
        return f"training {len(self.sizes)} sizes for a scaling law…"


@dataclass(frozen=True)
class SetThreads(Request):
    """Compute with this many threads from now on (0: one per core, or OMP_NUM_THREADS if set)."""

    kind: ClassVar[str] = "threads"
    answer: ClassVar[str] = "threads_changed"
    threads: int = 0

    def label(self) -> str:
        return "choosing threads…"


REQUESTS: tuple[type[Request], ...] = (
    Load, Generate, Steer, Inspect, LayerAttention, SaveAttention, FillMask, ReadLayers, Attribute,
    ScoreHeadTypes, ReadNeurons, FindContexts, KnockOut, SetSteering, Sweep, CheckHeads, Train, ScalingSweep,
    Save, SaveGGUF, Compare, SetThreads,
)  # fmt: skip


def short_name(source: str) -> str:
    """A model source as the status bar names it ("GPT" for "builtin:gpt", a folder's name)."""
    return source.split(":", 1)[1].upper() if source.startswith("builtin:") else Path(source).name
