"""Evaluation encoders: frozen feature extractors from checkpoints, published layouts, baselines."""
