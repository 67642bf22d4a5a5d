"""``python -m cyclecorr.benchmark``: see ``cyclecorr.benchmark.cli``."""

from cyclecorr.benchmark.cli import main

main()
