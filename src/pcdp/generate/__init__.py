"""Synthetic raw data with planted ground truth (``pcdp generate``).

``generate(out, customers, ...)`` writes a raw directory in the contract's shape (events as
Parquet parts, identifies as Parquet, orders and reference data as CSV) and the truth it
planted under ``out/_truth/``.
"""

from .core import generate

__all__ = ["generate"]
