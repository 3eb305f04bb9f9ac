"""Use cases: one command, one function, one transaction."""
