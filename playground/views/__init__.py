"""The app's views (prompt, attention, probabilities, lens, head effects, fill-mask, training) and parts."""

VIEW_NAMES = (
    "prompt",
    "attention",
    "probabilities",
    "lens",
    "heads",
    "fill-mask",
    "training",
)  # in tab order
