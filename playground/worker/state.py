"""What the worker is doing, as one immutable record every view, button and menu action binds to."""

from __future__ import annotations

from dataclasses import dataclass

ACTIVITIES = (
    "idle",
    "loading",  # opening a model
    "preparing",  # corpus and tokenizer of a training run
    "generating",
    "training",
    "paused",  # a training run that keeps its place
    "stopping",  # a stop was asked for and has not yet been honoured
    "probing",  # scoring a text for the inspection views (between chunks of a job)
    "filling",  # BERT fill-mask
    "sweeping",  # every head knocked out or patched in turn
    "reading",  # the logit lens, a block of positions at a time
    "explaining",  # token attributions, a chunk of targets at a time
    "saving",
)
JOB_ACTIVITY = {
    "generate": "generating",
    "train": "training",
    "scaling": "training",
    "sweep": "sweeping",
    "lens": "reading",
    "attribute": "explaining",
    "steer": "generating",
    "contexts": "reading",
}  # a running job's activity, by kind


@dataclass(frozen=True)
class WorkerState:
    """The worker's state with the identity of the request it serves (0: none, e.g. a probe)."""

    activity: str = "idle"  # one of ACTIVITIES: what it does right now
    request: int = 0  # the request that activity serves
    label: str = ""  # status-bar words, e.g. "opening GPT…"
    job: str = ""  # kind of the live chunked job ("generate", "train", "sweep", "lens"), "" if none
    job_request: int = 0  # the request the live job serves
    job_phase: str = ""  # "running", "paused" or "stopping" while there is a job
    version: int = 0  # grows with every change: a state that arrives late is recognised as old

    @property
    def busy(self) -> bool:
        return self.activity != "idle"

    @property
    def stoppable(self) -> int:
        """The request a Cancel button stops: what the status bar names, if it can stop (0: none).

        A probe, a save or a fill between chunks of a job is not stoppable, and Cancel must not
        then stop the job behind it.
        """
        if self.activity in ("loading", "preparing"):
            return self.request
        if self.activity in (*JOB_ACTIVITY.values(), "paused", "stopping"):
            return self.job_request
        return 0
