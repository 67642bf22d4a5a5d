"""Evaluation tasks that do I/O: DAVIS/JHMDB/VIP runners, scoring a folder, baselines."""
