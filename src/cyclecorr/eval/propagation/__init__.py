"""Label propagation maths: protocols, attention, the streaming propagator, label resizing.

Pure functions and plain classes on tensors (no file I/O): a protocol (``protocols``) fixes every
step of a reference test loop; ``attention`` / ``windowed`` / ``candidates`` compute each query's
weighted top-k references; ``propagator`` streams a video through a bounded context;
``label_maps`` moves label maps between pixels and the feature grid; ``segmentation`` and
``keypoints`` glue frames, masks and joints to the propagator.
"""
