"""Read side: plain SQL turned into small immutable records."""
