"""Looking inside: generation as a stream of steps, sampling, probes, fill-mask and head scores."""
