"""The app's views: prompt, attention, probabilities, fill-mask, and the pieces they share."""
