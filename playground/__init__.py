"""Transformer Playground: the Qt desktop app over the `models` engine."""
