"""Evaluation metrics as pure functions of arrays: DAVIS J/F and statistics, PCK, mIoU."""
