"""Text in: tokenizers, corpora (files, folders, the built-in Shakespeare) and the built-in tasks."""
