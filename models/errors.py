"""The one exception type the engine raises for bad input, with a message that names the problem."""


class ModelError(ValueError):
    """Bad input or a fault the user can fix: a missing file, a corrupt tensor, an invalid setting."""


def refuse_encoder_decoder(model, doing: str) -> None:
    """What reads one stack of heads (the lens, knocking heads out, sweeps, comparing) refuses an
    encoder–decoder, which has three kinds of heads in two stacks."""
    if model.config.arch == "seq2seq":
        raise ModelError(
            f"{doing} is for decoders (GPT) and encoders (BERT): an encoder–decoder's heads come in "
            "three kinds (Attention tab), which it does not read yet"
        )
