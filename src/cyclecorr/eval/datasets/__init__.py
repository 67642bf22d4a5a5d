"""Readers of evaluation datasets on disk: DAVIS-2017, JHMDB, VIP, and frame image files."""
