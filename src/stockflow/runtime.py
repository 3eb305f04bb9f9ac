"""Settings for a long-running stockflow process (a server, a benchmark)."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Take everything loaded so far out of the garbage collector's rounds.

    Once a process has started, its modules, classes, compiled statements and
    framework objects live until it exits, yet every full collection walks
    them again, and under load requests leave enough short-lived objects to
    trigger one every few hundred milliseconds. Frozen, they are never walked:
    a collection only visits what requests made. Call once, after start-up.
    """
    gc.collect()
    gc.freeze()
