"""tsjt-basicts: Target-Skewed Joint Training (TSJT, AAAI 2025) as a BasicTS 1.1 plugin."""

__version__ = "0.1.0"
