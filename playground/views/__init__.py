"""The app's views (prompt, attention, probabilities, lens, head effects, fill-mask, training, fine-tune,
compare, positional encoding) and their parts."""

VIEW_NAMES = (
    "prompt",
    "attention",
    "probabilities",
    "lens",
    "heads",
    "fill-mask",
    "training",
    "finetune",
    "compare",
    "positions",
)  # in tab order
