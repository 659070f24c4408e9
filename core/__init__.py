"""Invariance Lab core: data, budgets, model zoo, GenInv, labeled sets and studies. Never imports Qt."""

__version__ = "0.1.0"
