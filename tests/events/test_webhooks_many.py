"""Thousands of events reach a receiver in a process of its own, each once, with 32 in flight.

2,000 events over 200 orders are fanned out to one subscription and sent to
a receiver on 127.0.0.1 (``webhook_sink``). The rate is printed for the
curious; the figures that count come from ``stockflow bench events``.
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
def test_thousands_of_events_reach_a_receiver_each_once_with_many_in_flight(sf: Stockflow) -> None:
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
