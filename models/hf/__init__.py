"""Hugging Face folders: config mapping, weight-name tables, and crash-safe load/save."""
