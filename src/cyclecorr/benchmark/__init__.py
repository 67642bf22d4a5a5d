"""Benchmarks that print measured numbers: label propagation and training steps (``cli``)."""
