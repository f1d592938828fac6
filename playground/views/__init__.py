"""The app's views, one module per tab (or a package where a tab has parts: prompt/, training/,
finetune/), and the widgets they share (widgets/)."""

VIEW_NAMES = (
    "prompt",
    "attention",
    "probabilities",
    "lens",
    "attribution",
    "steering",
    "heads",
    "head-types",
    "neurons",
    "fill-mask",
    "training",
    "finetune",
    "compare",
    "positions",
)  # in tab order
