"""The one exception type the engine raises for bad input, with a message that names the problem."""

import sys


class ModelError(ValueError):
    """Bad input or a fault the user can fix: a missing file, a corrupt tensor, an invalid setting."""


def refuse_encoder_decoder(model, doing: str) -> None:
    """What reads one stack of heads (the lens, knocking heads out, sweeps, comparing) refuses an
    encoder–decoder, which has three kinds of heads in two stacks."""
    if not model.capabilities.one_stack:
        raise ModelError(
            f"{doing} is for decoders (GPT) and encoders (BERT): an encoder–decoder's heads come in "
            "three kinds (Attention tab), which it does not read yet"
        )


def is_out_of_memory(e: BaseException) -> bool:
    """A failed allocation, known by its type: Python's MemoryError (numpy) or torch's
    OutOfMemoryError (a GPU's allocator; torch ≥ 2.5). torch is not imported here: a GUI without
    it has no torch error to meet."""
    torch = sys.modules.get("torch")
    return isinstance(e, MemoryError) or (torch is not None and isinstance(e, torch.OutOfMemoryError))
