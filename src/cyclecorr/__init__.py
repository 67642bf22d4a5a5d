"""cyclecorr: TimeCycle (Wang, Jabri, Efros, CVPR 2019) as a Lightning + Hydra project.

Nothing heavy is imported here; import submodules directly.
"""

__version__ = "0.1.0"
