"""pcdp: a warehouse-native predictive customer data platform built on dbt."""

__version__ = "0.1.0"
