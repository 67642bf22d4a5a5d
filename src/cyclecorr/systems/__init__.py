"""LightningModules: the shared run-time policy (``base``) and one objective per module."""
