"""The Training tab: the run's form (corpus, preset, settings) and the live charts, samples and heads."""

from playground.views.training.view import TrainingView

__all__ = ["TrainingView"]
