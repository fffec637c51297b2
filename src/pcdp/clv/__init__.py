"""Buy-till-you-die customer lifetime value models (BG/NBD, MBG/NBD, Gamma-Gamma)."""

from .models import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    customer_lifetime_value,
)
from .simulate import simulate_customers, simulate_transactions
from .summary import rfm_summary, rfm_summary_sql

__all__ = [
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "customer_lifetime_value",
    "rfm_summary",
    "rfm_summary_sql",
    "simulate_customers",
    "simulate_transactions",
]
