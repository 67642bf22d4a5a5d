"""CRW's training data: clips of consecutive frames and their grids of jittered patches."""
