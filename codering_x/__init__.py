"""codering-x: run the code learners type, fast, reliably and safely."""

from pathlib import Path

__version__ = "0.1.0"
# The checkout this package runs from (runtimes/, functions/, examples/ beside it); in an image,
# only what CODERING_RUNTIMES_DIR names is read.
REPO_ROOT = Path(__file__).resolve().parent.parent
