"""stockflow: one live, trustworthy stock position for inventory and order management."""

__version__ = "0.1.0"
