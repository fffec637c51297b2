"""Lint-time stand-in for dbt's `modules` context (the Python modules macros may use)."""

import datetime
import re

__all__ = ["datetime", "re"]
