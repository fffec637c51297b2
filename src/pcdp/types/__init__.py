"""Instance types: importing this package registers each type's validator and runner."""

from pcdp.types import rfm

__all__ = ["rfm"]
