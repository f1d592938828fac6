"""The worker's answers as Qt signals, declared once: the worker emits them, the client relays them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Answers(QObject):
    """Emitted on the worker thread; a GUI-thread receiver gets them queued, in order."""

    model_loaded = Signal(object)  # ModelInfo
    started = Signal(str)  # a job began: its name
    prompt_tokenized = Signal(object)  # TokenizedText of the prompt actually used (with notes)
    tokens_generated = Signal(object)  # list[GenerationStep], in order, none dropped
    generation_finished = Signal(str)  # finish reason: length, eos, stop, context, stopped, failed
    probed = Signal(str, object)  # tag, Probe
    mask_filled = Signal(object)  # FillMaskResult (with attentions)
    progress_changed = Signal(int, int)  # done, total (total 0 = unknown)
    busy_changed = Signal(str)  # what the worker is doing; "" when idle
    errored = Signal(str, str)  # message, details
    training_started = Signal(object)  # TrainingStarted
    training_updated = Signal(object)  # list[TrainingUpdate], in order, none dropped
    training_finished = Signal(str, str)  # status (finished, stopped, failed), message
    model_saved = Signal(str)  # folder


ANSWERS = tuple(name for name, value in vars(Answers).items() if isinstance(value, Signal))
