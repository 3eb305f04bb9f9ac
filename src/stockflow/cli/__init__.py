"""The ``stockflow`` command line."""
