"""TimeCycle's training data: clips (past frames, target, motion frame), patches, the sample."""
