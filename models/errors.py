"""The one exception type the engine raises for bad input, with a message that names the problem."""


class ModelError(ValueError):
    """Bad input or a fault the user can fix: a missing file, a corrupt tensor, an invalid setting."""
