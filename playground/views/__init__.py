"""The app's views (prompt, attention, probabilities, logit lens, fill-mask, training) and shared parts."""

VIEW_NAMES = ("prompt", "attention", "probabilities", "lens", "fill-mask", "training")  # in tab order
