"""What a model change, a refusal and a finished stop reset: the events, and the one rule that
names the event a finished request calls for. Each view's `reset(event)` says what it clears."""

from __future__ import annotations

MODEL = "model"  # another model became active: what the last one showed says nothing about it
REFUSED = "refused"  # the view's request ended before it did anything (bad data, bad settings)
STOPPED = "stopped"  # the view's request ended early (stopped, or failed part-way): no "…ing" left


def event_of(status: str, started: bool) -> str:
    """The reset a finished request calls for ("" for "done": the view shows its result)."""
    if status == "done":
        return ""
    return STOPPED if started else REFUSED


def reset_views(views, event: str) -> None:
    """Every view that keeps something the event makes stale clears it."""
    for view in views:
        if hasattr(view, "reset"):
            view.reset(event)


def ended_line(event: str, message: str, step: int, steps: int) -> str:
    """A run's status line once it has ended early (what replaces "stopping after this step…")."""
    if event == REFUSED:
        return f"Not started: {message}" if message else "Not started."
    where = f"stopped at step {step:,} of {steps:,}" if steps else f"stopped at step {step:,}"
    return f"{where}: {message}" if message else where
