"""codering-x: run the code learners type, fast, reliably and safely."""

__version__ = "0.1.0"
