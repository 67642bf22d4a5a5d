"""Video readers behind ``factory.open_video``: decord, PyAV, torchcodec and frame folders."""
