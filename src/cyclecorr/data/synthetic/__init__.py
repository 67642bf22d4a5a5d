"""Generated video with ground truth: textured scenes, their training clips, a DAVIS export."""
