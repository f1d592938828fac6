"""The Prompt tab: the prompt, sampling settings, streamed tokens and a clicked token's details."""

from playground.views.prompt.view import PromptView

__all__ = ["PromptView"]
