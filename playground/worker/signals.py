"""The worker's answers as Qt signals, declared once: the worker emits them, the client relays them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Answers(QObject):
    """Emitted on the worker thread; a GUI-thread receiver gets them queued, in order."""

    model_loaded = Signal(object)  # ModelInfo
    state_changed = Signal(object)  # WorkerState: the one truth about what runs
    request_finished = Signal(int, str, str)  # request id, status (done, stopped, failed), message
    prompt_tokenized = Signal(object)  # TokenizedText of the prompt actually used (with notes)
    tokens_generated = Signal(object)  # list[GenerationStep], in order, none dropped
    vector_made = Signal(object)  # SteeringVector: the direction a steered generation uses
    steering_generated = Signal(object)  # list[(side, GenerationStep)]: "plain" then "steered"
    probed = Signal(int, object)  # request id, Probe (a view reads the newest of its channel)
    layer_attention_read = Signal(int, object)  # request id, (layer, its attention [heads, T, T])
    mask_filled = Signal(object)  # FillMaskResult (with attentions)
    lens_read = Signal(object)  # LogitLens, again after each block of positions (NaN where pending)
    attributed = Signal(object)  # Attribution, again after each chunk of targets (zeros where pending)
    head_types_scored = Signal(object)  # HeadTypes: every head's scores on each type
    neurons_read = Signal(object)  # NeuronEffects: the neurons behind one token
    contexts_found = Signal(object)  # TopContexts, again after each batch of corpus windows
    heads_checked = Signal(object)  # HeadCheck: a task's exact answers with heads knocked out
    heads_swept = Signal(object)  # HeadSweep, again after each batch of heads (NaN where pending)
    ablation_changed = Signal(object, str)  # the (layer, head) pairs knocked out, mode
    steering_changed = Signal(str)  # the vector every model call is steered by, described ("": none)
    progress_changed = Signal(int, int)  # done, total (total 0 = unknown)
    errored = Signal(str, str)  # message, details
    training_started = Signal(object)  # TrainingStarted
    training_updated = Signal(object)  # list[TrainingUpdate], in order, none dropped
    scaling_updated = Signal(object)  # list[SweepRun]: a scaling sweep's runs so far, the newest growing
    model_saved = Signal(str)  # folder
    compared = Signal(object)  # Comparison: two models on one text
    threads_changed = Signal(int)  # the threads the worker computes with now


ANSWERS = tuple(name for name, value in vars(Answers).items() if isinstance(value, Signal))
