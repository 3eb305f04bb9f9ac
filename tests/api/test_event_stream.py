"""The live stream: scoped, filtered, resumable without a gap, kept alive; and the paged read."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from event_helpers import Happened, happen, relay_now
from helpers import bearer, problem, serving, setup_places, token_for
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel
from stockflow.receiving.rules.purchasing import NewSupplier
from stockflow.stock.rules.access import Role

API = "/api/v1"


def shop_events() -> list[Happened]:
    return [
        Happened("order.captured", "SO-1", {"channels": ["web"], "locations": ["WH1"]}),
        Happened("order.captured", "SO-2", {"channels": ["mkt"], "locations": ["WH2"]}),
        Happened("stock.changed", "A@WH1", {"locations": ["WH1"]}, aggregate="position"),
        Happened("stock.changed", "A@WH2", {"locations": ["WH2"]}, aggregate="position"),
        Happened(
            "receipt.posted",
            "R-1",
            {"locations": ["WH2"], "suppliers": ["ACME"]},
            aggregate="receipt",
        ),
        Happened("order.shipped", "SO-2", {"channels": ["mkt"], "locations": ["WH2"]}),
    ]


@pytest.fixture
def port(sf: Stockflow, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    setup_places(sf, "WH1", "WH2")
    sf.orders.add_channel(NewChannel("mkt", "A marketplace"))
    sf.receiving.add_supplier(NewSupplier("ACME", "Acme", 5))
    monkeypatch.setenv("STOCKFLOW_STREAM_POLL_SECONDS", "0.02")
    monkeypatch.setenv("STOCKFLOW_STREAM_KEEPALIVE_SECONDS", "0.2")
    with serving(create_app(sf)) as p:
        yield p


def read_events(
    port: int, token: str, *, count: int, headers: dict[str, str] | None = None, query: str = ""
) -> list[dict[str, Any]]:
    """Open the stream and read ``count`` events (id, event, data), then hang up."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    url = f"http://127.0.0.1:{port}{API}/events/stream{query}"
    with httpx.stream("GET", url, headers={**bearer(token), **(headers or {})}, timeout=10) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        frame: dict[str, Any] = {}
        for line in r.iter_lines():
            assert time.monotonic() < deadline, f"only {len(found)} of {count} events came"
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(": ")
                frame[name] = json.loads(value) if name == "data" else value
            elif line == "" and frame:
                found.append(frame)
                frame = {}
                if len(found) == count:
                    break
    return found


def test_each_caller_hears_only_what_its_role_and_scope_cover(sf: Stockflow, port: int) -> None:
    happen(sf, *shop_events())
    relay_now(sf)
    admin = token_for(sf)
    three_pl = token_for(sf, "wh2-3pl", Role.THREE_PL, ["WH2"])
    market = token_for(sf, "mkt", Role.MARKETPLACE, ["mkt"])
    supplier = token_for(sf, "acme", Role.SUPPLIER, ["ACME"])
    start = {"Last-Event-ID": "0"}

    everything = read_events(port, admin, count=6, headers=start)
    assert [int(e["id"]) for e in everything] == [1, 2, 3, 4, 5, 6]
    assert everything[0]["event"] == "order.captured"
    assert everything[0]["data"]["aggregate"] == {"type": "order", "id": "SO-1", "sequence": 1}

    keys = lambda frames: [(f["event"], f["data"]["aggregate"]["id"]) for f in frames]  # noqa: E731
    assert keys(read_events(port, three_pl, count=4, headers=start)) == [
        ("order.captured", "SO-2"), ("stock.changed", "A@WH2"),
        ("receipt.posted", "R-1"), ("order.shipped", "SO-2"),
    ]  # fmt: skip
    assert keys(read_events(port, market, count=2, headers=start)) == [
        ("order.captured", "SO-2"), ("order.shipped", "SO-2"),
    ]  # fmt: skip
    # A supplier reads receipts of its own purchase orders, and nothing else here.
    assert keys(read_events(port, supplier, count=1, headers=start)) == [("receipt.posted", "R-1")]
    # A filter by type, with a pattern.
    assert keys(read_events(port, admin, count=2, headers=start, query="?types=stock.*")) == [
        ("stock.changed", "A@WH1"), ("stock.changed", "A@WH2"),
    ]  # fmt: skip


def test_a_stream_resumes_after_a_disconnect_with_no_gap(sf: Stockflow, port: int) -> None:
    token = token_for(sf)
    happen(sf, *shop_events()[:3])
    relay_now(sf)
    first = read_events(port, token, count=2, headers={"Last-Event-ID": "0"})
    last_seen = first[-1]["id"]
    happen(sf, *shop_events()[3:])  # while nobody listens
    relay_now(sf)
    rest = read_events(port, token, count=4, headers={"Last-Event-ID": last_seen})
    assert [int(e["id"]) for e in first + rest] == [1, 2, 3, 4, 5, 6]
    # The query parameter does the same for clients that cannot set the header.
    assert [int(e["id"]) for e in read_events(port, token, count=1, query="?after=5")] == [6]


def test_a_live_stream_receives_events_as_they_are_relayed_and_keeps_alive(
    sf: Stockflow, port: int
) -> None:
    token = token_for(sf)
    happen(sf, shop_events()[0])
    relay_now(sf)  # before the stream opens: not sent without Last-Event-ID
    got: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        url = f"http://127.0.0.1:{port}{API}/events/stream"
        with httpx.stream("GET", url, headers=bearer(token), timeout=10) as r:
            for line in r.iter_lines():
                opened.set()
                got.append(line)
                if line.startswith("data:"):
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    assert opened.wait(10)
    time.sleep(0.5)  # quiet: a keep-alive comes
    happen(sf, shop_events()[1])
    relay_now(sf)
    listener.join(10)
    assert ": keep-alive" in got
    data = [json.loads(line[6:]) for line in got if line.startswith("data: ")]
    assert [d["aggregate"]["id"] for d in data] == ["SO-2"]
    assert "id: 2" in got


def test_resuming_from_pruned_events_is_gone_and_bad_input_is_named(
    sf: Stockflow, port: int
) -> None:
    token = token_for(sf)
    url = f"http://127.0.0.1:{port}{API}/events/stream"
    bad = httpx.get(url + "?types=order.nope", headers=bearer(token))
    assert problem(bad, 422)["field"] == "types[0]"
    ahead = httpx.get(url, headers={**bearer(token), "Last-Event-ID": "99"})
    assert problem(ahead, 422)["field"] == "Last-Event-ID"
    happen(sf, *shop_events())
    relay_now(sf)
    from sqlalchemy import delete

    from stockflow.adapters.tables import outbox

    sf.db.run(lambda conn: conn.execute(delete(outbox).where(outbox.c.sequence <= 3)))
    gone = httpx.get(url, headers={**bearer(token), "Last-Event-ID": "1"})
    assert "no longer kept" in problem(gone, 410)["detail"]
    assert httpx.get(url, headers={"Last-Event-ID": "1"}).status_code == 401


def test_the_paged_read_catches_up_in_the_same_order(sf: Stockflow, port: int) -> None:
    happen(sf, *shop_events())
    relay_now(sf)
    three_pl = token_for(sf, "wh2-3pl", Role.THREE_PL, ["WH2"])
    url = f"http://127.0.0.1:{port}{API}/events"
    first = httpx.get(url, params={"after": 0, "limit": 2}, headers=bearer(three_pl)).json()
    assert [e["sequence"] for e in first["items"]] == [2, 4]
    rest = httpx.get(url, params={"cursor": first["next"]}, headers=bearer(three_pl)).json()
    assert [e["sequence"] for e in rest["items"]] == [5, 6]
    quiet = httpx.get(url, params={"cursor": rest["next"]}, headers=bearer(three_pl)).json()
    assert quiet["items"] == []
    assert quiet["next"]  # a feed has no end: look again later
    both = {"after": 0, "cursor": rest["next"]}
    assert problem(httpx.get(url, params=both, headers=bearer(three_pl)), 422)["field"] == "cursor"
