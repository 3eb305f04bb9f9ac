"""``stockflow bench``: throughput with zero oversell, next to the raw database ceiling."""
