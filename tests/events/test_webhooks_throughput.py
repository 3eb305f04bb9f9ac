"""The dispatcher keeps up with a few hundred events a second to one local receiver.

2,000 events over 200 orders are fanned out to one subscription and sent to
a receiver in a process of its own on 127.0.0.1 (``webhook_sink``); the rate
printed is events delivered a second, from the first try to the last
delivery recorded. The floor asserted is well below what a quiet machine
does, so a busy one does not fail it; the figure printed is the measurement.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import Role
from webhook_kit import Spec, dispatcher, drain, pending, stream

EVENTS = 2_000
SINK = Path(__file__).parent.parent / "webhook_sink.py"


@pytest.mark.slow
def test_the_dispatcher_keeps_up_with_hundreds_of_events_a_second(sf: Stockflow) -> None:
    sf.access.add_user("feed", Role.MANAGER)
    sink = subprocess.Popen(
        [sys.executable, str(SINK)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        sf.webhooks.subscribe("feed", f"http://127.0.0.1:{port}/hook", ["*"])
        sent = stream(sf, [Spec("order.captured", "order", f"SO-{n % 200}") for n in range(EVENTS)])
        started = time.perf_counter()
        drain(dispatcher(sf, concurrency=32, timeout=5.0), sf, within=120)
        took = time.perf_counter() - started
    finally:
        received, _ = sink.communicate("", timeout=30)
    assert pending(sf) == 0
    assert sorted(int(i) for i in received.split()) == [e.id for e in sent]  # each once
    rate = EVENTS / took
    print(f"\nwebhooks on {sf.db.dialect}: {EVENTS} events in {took:.2f} s = {rate:.0f} events/s")
    assert rate > 100
