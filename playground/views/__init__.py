"""The app's views: prompt, attention, probabilities, fill-mask, and the pieces they share."""

VIEW_NAMES = ("prompt", "attention", "probabilities", "fill-mask", "training")  # in tab order
