"""Video readers behind one interface: decord, PyAV and frame folders (``factory.open_video``)."""
