"""Training: settings and presets (torch-free), batches, and the Trainer (`models.training.trainer`)."""
