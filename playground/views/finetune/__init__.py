"""The Fine-tune tab: the active model tuned on text or labels, before and after, and a from-scratch twin."""

from playground.views.finetune.view import FinetuneView

__all__ = ["FinetuneView"]
