"""Instance types: importing this package registers each type's validator and runner."""

from pcdp.types import action_prediction, byom, interest, pcltv, rfm

__all__ = ["action_prediction", "byom", "interest", "pcltv", "rfm"]
