"""Every list and lookup of the API reads a page or a row, never a whole table (PostgreSQL).

The real endpoints run against a year-sized database (``plan_data``); every
SELECT they send is captured with its parameters and handed back to
PostgreSQL as ``EXPLAIN (FORMAT JSON)``. A plan fails when it scans a big
table from end to end, sorts more rows than a page holds, or answers more
rows than a page holds. Going through the endpoints rather than naming the
queries keeps the test true as lists change: a new GET route fails
``test_every_get_route_is_planned`` until it has a request here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

import plan_data
from helpers import api_client
from plan_data import EXAMPLE as E
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.postgres_only, pytest.mark.xdist_group("query_plans")]

API = "/api/v1"
BIG = 10_000  # rows: a table this size is never read from end to end
PAGE = 1_000  # the largest page a list hands out: no sort and no answer beyond it


@dataclass(frozen=True, slots=True)
class Get:
    """One request; ``pages`` follows the answer's cursor that many times."""

    path: str
    pages: int = 0
    reads: bool = True  # False: answered without the database


# Every GET route, with requests that exercise its filters and its next page.
REQUESTS: dict[str, list[Get]] = {
    "/session": [Get("/session", reads=False)],
    "/tokens": [Get("/tokens")],
    "/users": [Get("/users")],
    "/audit": [
        Get("/audit", pages=1),
        Get("/audit?actor=user7", pages=1),
        Get("/audit?command=cancel"),
        Get(f"/audit?target={E.order}"),
    ],
    "/skus": [Get("/skus", pages=1)],
    "/skus/{code}": [Get(f"/skus/{E.sku}")],
    "/skus/{code}/kit": [Get(f"/skus/{E.sku}/kit")],
    "/locations": [Get("/locations")],
    "/locations/{code}/bins": [Get(f"/locations/{E.warehouse}/bins")],
    "/moves": [Get("/moves", pages=1), Get(f"/moves?sku={E.sku}")],
    "/positions": [Get("/positions")],
    "/atp": [Get("/atp")],
    "/atp/{sku}": [Get(f"/atp/{E.sku}"), Get(f"/atp?sku={E.sku}&sku=SKU-000043")],
    "/reservations/{reservation_id}": [Get(f"/reservations/{E.reservation}")],
    "/channels": [Get("/channels")],
    "/channels/{code}": [Get(f"/channels/{E.channel}")],
    "/customers": [Get("/customers", pages=1)],
    "/customers/{code}": [Get(f"/customers/{E.customer}")],
    "/orders": [
        Get("/orders", pages=1),
        Get("/orders?status=allocated", pages=1),
        Get(f"/orders?channel={E.channel}", pages=1),
    ],
    "/orders/{order_id}": [Get(f"/orders/{E.order}")],
    "/exceptions": [
        Get("/exceptions", pages=1),
        Get("/exceptions?state=open&kind=short_pick", pages=1),
        Get("/exceptions?reference=REF-42"),
    ],
    "/suppliers": [Get("/suppliers")],
    "/suppliers/{code}": [Get(f"/suppliers/{E.supplier}")],
    "/purchase-orders": [
        Get("/purchase-orders", pages=1),
        Get("/purchase-orders?status=open", pages=1),
        Get(f"/purchase-orders?supplier={E.supplier}&limit=10", pages=1),
    ],
    "/purchase-orders/{po_id}": [Get(f"/purchase-orders/{E.purchase_order}")],
    "/asns/{asn_id}": [Get(f"/asns/{E.asn}")],
    "/receipts/{receipt_id}": [Get(f"/receipts/{E.receipt}")],
    "/putaway/suggestion": [
        Get("/putaway/suggestion?" + urlencode({"location": E.warehouse, "sku": E.sku, "qty": 1}))
    ],
    "/waves": [Get("/waves"), Get(f"/waves?location={E.warehouse}&status=open")],
    "/waves/{wave_id}": [Get(f"/waves/{E.wave}")],
    "/waves/{wave_id}/pick-list.pdf": [Get(f"/waves/{E.wave}/pick-list.pdf")],
    "/shipments/{key}": [Get(f"/shipments/{E.shipment}"), Get("/shipments/TRK0000000042")],
    "/shipments/{shipment_id}/packing-slip.pdf": [Get(f"/shipments/{E.shipment}/packing-slip.pdf")],
    "/shipments/{shipment_id}/label.pdf": [Get(f"/shipments/{E.shipment}/label.pdf")],
    "/transfers": [
        Get("/transfers", pages=1),
        Get("/transfers?status=in_transit", pages=1),
        Get(f"/transfers?location={E.store}", pages=1),
    ],
    "/transfers/{transfer_id}": [Get(f"/transfers/{E.transfer}")],
    "/counts": [
        Get("/counts", pages=1),
        Get(f"/counts?location={E.warehouse}&status=open", pages=1),
    ],
    "/counts/accuracy": [Get("/counts/accuracy?start=2025-01-01&end=2026-01-01")],
    "/counts/{count_id}": [Get(f"/counts/{E.count}")],
    "/counts/{count_id}/sheet": [Get(f"/counts/{E.count}/sheet")],
    "/returns": [
        Get("/returns", pages=1),
        Get("/returns?status=authorised", pages=1),
        Get("/returns?order_id=SO-00000084"),
    ],
    "/returns/{rma_id}": [Get(f"/returns/{E.rma}")],
    "/events": [Get("/events", pages=1), Get("/events?after=25000")],
    "/webhooks": [Get("/webhooks")],
    "/webhooks/{subscription_id}": [Get("/webhooks/1")],
    "/webhooks/{subscription_id}/deliveries": [
        Get("/webhooks/1/deliveries", pages=1),
        Get("/webhooks/1/deliveries?status=dead", pages=1),
    ],
}

# Routes that are not a list or a lookup to plan, and why.
NOT_PLANNED = {
    "/health": "answers SELECT 1",
    "/verify": "checks every position and open allocation by design; stockflow bench times it",
    "/events/stream": "a stream that never ends; its catching up is the /events page",
    **{
        f"/exports/{what}": "streams the whole table by design, in keyset chunks"
        for what in ("skus", "locations", "positions", "atp", "orders", "moves")
    },
}

# Lists that answer a whole table today (none: every list is paged).
KNOWN_TO_FIX: dict[str, str] = {}

# Requests that read too much for a reason no index can mend; each needs its own change.
NOT_YET = {
    "/counts/accuracy?start=2025-01-01&end=2026-01-01": "measures every line counted in the"
    " period (a year here); a summary per location and day would serve it",
    f"/audit?target={E.order}": "a substring of the JSON text: no b-tree index serves it"
    " (it needs a table of targets, or pg_trgm)",
    "/putaway/suggestion?"
    + urlencode({"location": E.warehouse, "sku": E.sku, "qty": 1}): "sums every position"
    " of the location to choose a bin (it needs a running total per bin)",
}


@dataclass
class Planned:
    """The data set behind a signed-in client, and the statements its requests sent."""

    client: TestClient
    sf: Stockflow
    sizes: dict[str, int]
    sent: list[tuple[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def planned(pg_module_url: str) -> Iterator[Planned]:
    sf = Stockflow.open(pg_module_url, migrate_schema=False)
    client = api_client(create_app(sf))  # makes the admin the subscriptions belong to
    with sf.db.write() as conn:
        plan_data.fill(conn)
    with sf.db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        rows = conn.execute(
            text(
                "SELECT relname, reltuples FROM pg_class"
                " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            )
        )
        sizes = {str(name): int(count) for name, count in rows}
    found = Planned(client, sf, sizes)

    @event.listens_for(sf.db.engine, "before_cursor_execute")
    def capture(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            found.sent.append((statement, params))

    yield found
    event.remove(sf.db.engine, "before_cursor_execute", capture)
    client.close()
    sf.close()


def test_the_data_is_year_sized(planned: Planned) -> None:
    sizes = planned.sizes
    assert sizes["positions"] >= 200_000
    assert sizes["order_lines"] >= 200_000
    assert min(sizes[t] for t in ("orders", "skus", "stock_moves", "allocations")) >= 100_000


def test_every_get_route_is_planned(planned: Planned) -> None:
    spec = planned.client.get(f"{API}/openapi.json").json()
    routes = {p.removeprefix(API) for p, ops in spec["paths"].items() if "get" in ops}
    assert routes - REQUESTS.keys() - NOT_PLANNED.keys() == set(), "add requests for new routes"
    assert REQUESTS.keys() - routes == set(), "routes that are gone"


def _cases() -> Iterator[Any]:
    for route, requests in REQUESTS.items():
        for request in requests:
            why = KNOWN_TO_FIX.get(route) or NOT_YET.get(request.path)
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            yield pytest.param(request, marks=marks, id=request.path)


@pytest.mark.parametrize("request_", list(_cases()))
def test_reads_a_page_not_a_table(planned: Planned, request_: Get) -> None:
    planned.sent.clear()
    _get_pages(planned.client, request_)
    assert planned.sent or not request_.reads, "nothing captured: is the hook still there?"
    found: list[str] = []
    with planned.sf.db.engine.connect() as conn:
        for statement, params in planned.sent:
            [[plan]] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params)
            found += [
                f"{problem}\n    {' '.join(statement.split())[:300]}"
                for problem in problems(plan[0]["Plan"], planned.sizes)
            ]
    assert found == [], "\n".join(found)


def _get_pages(client: TestClient, request: Get) -> None:
    """Get the request, then follow its cursor ``pages`` times; every answer must be a 200."""
    path = request.path
    for page in range(request.pages + 1):
        answer = client.get(API + path)
        assert answer.status_code == 200, (path, answer.text[:500])
        if page == request.pages:
            return
        body = answer.json()
        cursor = body.get("next") if "next" in body else None
        after = body.get("next_after")
        assert cursor or after, f"{path}: no next page in a year of data"
        joiner = "&" if "?" in request.path else "?"
        if cursor:
            path = f"{request.path}{joiner}{urlencode({'cursor': cursor})}"
        else:
            path = f"{request.path.split('?')[0]}?{urlencode({'after': after})}"


def problems(node: dict[str, Any], sizes: dict[str, int], *, top: bool = True) -> list[str]:
    """What in this plan reads beyond a page: whole-table scans, big sorts, big answers."""
    found = []
    kind, rows = node["Node Type"], int(node["Plan Rows"])
    table = node.get("Relation Name", "")
    if top and rows > PAGE:
        found.append(f"answers about {rows:,} rows at once")
    if kind == "Seq Scan" and sizes.get(table, 0) >= BIG:
        found.append(f"Seq Scan on {table} ({sizes[table]:,} rows)")
    if kind == "Sort" and rows > PAGE:
        found.append(f"Sort of about {rows:,} rows by {', '.join(node['Sort Key'])}")
    for child in node.get("Plans", []):
        found += problems(child, sizes, top=False)
    return found
