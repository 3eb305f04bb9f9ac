"""Purchasing, receiving and putaway over HTTP, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client, signed_in
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def client(sf: Stockflow) -> Iterator[TestClient]:
    with api_client(create_app(sf)) as test_client:
        yield test_client


@pytest.fixture
def dock(client: TestClient) -> TestClient:
    """WH1 with storage bins A-01, A-02; SKUs BOLT and NUT; channel WEB; supplier ACME (3 days)."""
    for sku in ("BOLT", "NUT"):
        created(client.post(f"{API}/skus", json={"code": sku, "name": sku.title()}))
    created(client.post(f"{API}/locations", json={"code": "WH1", "name": "Main"}))
    for n, code in enumerate(("A-01", "A-02"), start=1):
        created(
            client.post(
                f"{API}/locations/WH1/bins", json={"code": code, "zone": "A", "sequence": n}
            )
        )
    created(client.post(f"{API}/channels", json={"code": "WEB", "name": "Web shop"}))
    created(client.post(f"{API}/suppliers", json={"code": "ACME", "lead_time_days": 3}))
    return client


def created(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def problem(resp: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The problem document of an error response; checks its shape and the field it names."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = resp.json()
    assert (body["status"], bool(body["title"]), bool(body["detail"])) == (status, True, True)
    if field is not None:
        assert body["field"] == field, body
    return body


def po_body(*lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    return {
        "supplier": "ACME",
        "location": "WH1",
        "lines": [{"sku": s, "qty": q, "unit_cost": "1.25"} for s, q in lines],
        **fields,
    }


def on_hand(client: TestClient, sku: str) -> dict[str, tuple[int, int]]:
    """(on hand, allocated) per bin, bins with nothing left out."""
    rows = ok(client.get(f"{API}/positions", params={"sku": sku}))["items"]
    return {p["bin"]: (p["on_hand"], p["allocated"]) for p in rows if p["on_hand"]}


def test_a_delivery_from_purchase_order_to_shelf_over_http(dock: TestClient) -> None:
    client = dock
    again = client.post(f"{API}/suppliers", json={"code": "ACME", "lead_time_days": 3})
    assert ok(again)["lead_time_days"] == 3
    waiting = created(
        client.post(
            f"{API}/orders",
            json={"channel": "WEB", "ship_to": "1 Dam Square, Amsterdam",
                  "lines": [{"sku": "BOLT", "qty": 2}]},
        )
    )  # fmt: skip
    assert waiting["status"] == "backordered"

    key = {"Idempotency-Key": "po-2031-001"}
    po = created(
        client.post(f"{API}/purchase-orders", json=po_body(("BOLT", 6), ("NUT", 4)), headers=key)
    )
    arrival = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    assert (po["status"], po["expected_on"], po["total_cost"]) == ("open", arrival, "12.5000")
    assert (
        ok(
            client.post(
                f"{API}/purchase-orders", json=po_body(("BOLT", 6), ("NUT", 4)), headers=key
            )
        )["id"]
        == po["id"]
    )
    problem(
        client.post(f"{API}/purchase-orders", json=po_body(("BOLT", 7)), headers=key),
        409,
        "Idempotency-Key",
    )
    assert ok(client.get(f"{API}/orders/{waiting['id']}"))["promise_date"] == arrival

    asn = created(
        client.post(
            f"{API}/asns",
            json={
                "po_id": po["id"],
                "lines": [{"po_line_no": 1, "qty": 6}, {"po_line_no": 2, "qty": 4}],
            },
        )
    )
    receipt_body = {
        "asn_id": asn["id"],
        "lines": [
            {"sku": "BOLT", "received_qty": 5},
            {"sku": "NUT", "received_qty": 4, "damaged_qty": 1},
        ],
    }
    rkey = {"Idempotency-Key": "truck-7", **signed_in(client, "dock-1")}
    receipt = created(client.post(f"{API}/receipts", json=receipt_body, headers=rkey))
    assert (receipt["po_id"], receipt["actor"]) == (po["id"], "dock-1")
    assert [(ln["expected"], ln["received"], ln["damaged"]) for ln in receipt["lines"]] == [
        (6, 5, 0),
        (4, 4, 1),
    ]
    assert [d["sku"] for d in receipt["discrepancies"]] == ["BOLT", "NUT"]
    assert (
        ok(client.post(f"{API}/receipts", json=receipt_body, headers=rkey))["id"] == receipt["id"]
    )
    assert ok(client.get(f"{API}/receipts/{receipt['id']}")) == receipt
    queue = ok(client.get(f"{API}/exceptions", params={"kind": "receiving_discrepancy"}))["items"]
    assert sorted(e["sku"] for e in queue) == ["BOLT", "NUT"]
    assert ok(client.get(f"{API}/purchase-orders/{po['id']}"))["status"] == "partially_received"

    # Quarantined nuts are on hand but not available; the order got its bolts at the dock.
    assert on_hand(client, "NUT") == {"DOCK": (3, 0), "QUARANTINE": (1, 0)}
    assert ok(client.get(f"{API}/atp/NUT"))["available"] == 3
    assert ok(client.get(f"{API}/orders/{waiting['id']}"))["status"] == "allocated"

    assert (
        ok(client.put(f"{API}/locations/WH1/home-bins/BOLT", json={"bin": "A-02"}))["bin"] == "A-02"
    )
    hint = ok(
        client.get(f"{API}/putaway/suggestion", params={"location": "WH1", "sku": "BOLT", "qty": 5})
    )
    assert hint["bin"] == "A-02"
    moved = created(
        client.post(
            f"{API}/putaway", json={"location": "WH1", "sku": "BOLT", "qty": 5, "to_bin": "A-02"}
        )
    )
    assert (moved["from_bin"], moved["to_bin"], moved["qty"]) == ("DOCK", "A-02", 5)
    assert on_hand(client, "BOLT") == {"A-02": (5, 2)}

    released = created(
        client.post(
            f"{API}/quarantine/release",
            json={
                "location": "WH1",
                "sku": "NUT",
                "qty": 1,
                "to_bin": "A-01",
                "note": "cosmetic only",
            },
        )
    )
    assert (released["reason"], released["to"]["bin"]) == ("move", "A-01")
    assert ok(client.get(f"{API}/atp/NUT"))["available"] == 4
    closed = ok(client.post(f"{API}/purchase-orders/{po['id']}/close"))
    assert [ln["outstanding"] for ln in closed["lines"]] == [1, 0]
    assert closed["status"] == "closed"
    assert ok(client.get(f"{API}/verify")) == {"ok": True, "drift": []}


def test_errors_name_the_field_as_problem_documents(dock: TestClient) -> None:
    client = dock
    po = created(client.post(f"{API}/purchase-orders", json=po_body(("BOLT", 6))))

    def receive(*lines: dict[str, Any], **fields: Any) -> Any:
        return client.post(
            f"{API}/receipts", json={"po_id": po["id"], "lines": list(lines), **fields}
        )

    problem(receive({"sku": "BOLT", "received_qty": -1}), 422, "lines[0].received_qty")
    problem(
        receive({"sku": "BOLT", "received_qty": 2, "damaged_qty": 3}), 422, "lines[0].damaged_qty"
    )
    problem(
        receive({"sku": "BOLT", "received_qty": 2}, {"sku": "GHOST", "received_qty": 1}),
        404,
        "lines[1].sku",
    )
    problem(receive({"sku": "BOLT", "received_qty": 2, "lot": "L1"}), 422, "lines[0].lot")
    problem(receive({"sku": "BOLT", "received_qty": 2}, location="ELSEWHERE"), 422, "location")
    problem(
        client.post(
            f"{API}/receipts",
            json={"po_id": "PO-NONE", "lines": [{"sku": "BOLT", "received_qty": 1}]},
        ),
        404,
        "po_id",
    )
    problem(client.post(f"{API}/purchase-orders", json=po_body(("BOLT", 0))), 422, "lines[0].qty")
    problem(
        client.post(f"{API}/purchase-orders", json={**po_body(("BOLT", 1)), "supplier": "NOBODY"}),
        404,
        "supplier",
    )
    problem(client.get(f"{API}/purchase-orders", params={"status": "lost"}), 422, "status")
    problem(client.get(f"{API}/purchase-orders", params={"cursor": "bm9wZQ"}), 422, "cursor")
    assert ok(client.get(f"{API}/purchase-orders/{po['id']}"))["lines"][0]["received"] == 0
    problem(client.get(f"{API}/receipts/R-NONE"), 404, "id")
    problem(client.get(f"{API}/suppliers/NOBODY"), 404, "code")

    ok(client.post(f"{API}/purchase-orders/{po['id']}/cancel"))
    problem(receive({"sku": "BOLT", "received_qty": 6}), 409, "status")
    problem(client.post(f"{API}/purchase-orders/{po['id']}/close"), 409, "status")

    created(
        client.post(
            f"{API}/receipts",
            json={
                "location": "WH1",
                "lines": [{"sku": "BOLT", "received_qty": 3, "damaged_qty": 1}],
            },
        )
    )
    put = {"location": "WH1", "sku": "BOLT", "qty": 1}
    problem(client.post(f"{API}/putaway", json={**put, "to_bin": "QUARANTINE"}), 422, "to_bin")
    problem(client.post(f"{API}/putaway", json={**put, "qty": 3, "to_bin": "A-01"}), 409, "qty")
    problem(client.post(f"{API}/quarantine/scrap", json={**put, "note": ""}), 422, "note")
    problem(
        client.post(f"{API}/quarantine/release", json={**put, "to_bin": "DOCK", "note": "ok"}),
        422,
        "to_bin",
    )
    assert on_hand(client, "BOLT") == {"DOCK": (2, 0), "QUARANTINE": (1, 0)}
    scrapped = created(
        client.post(
            f"{API}/quarantine/scrap",
            json={**put, "note": "bent"},
            headers={"Idempotency-Key": "s-1"},
        )
    )
    assert (
        ok(
            client.post(
                f"{API}/quarantine/scrap",
                json={**put, "note": "bent"},
                headers={"Idempotency-Key": "s-1"},
            )
        )["id"]
        == scrapped["id"]
    )
    assert on_hand(client, "BOLT") == {"DOCK": (2, 0)}


def test_purchase_orders_are_listed_newest_first_page_by_page(dock: TestClient) -> None:
    client = dock
    ids = [
        created(client.post(f"{API}/purchase-orders", json=po_body(("BOLT", n))))["id"]
        for n in (1, 2, 3)
    ]
    first = ok(client.get(f"{API}/purchase-orders", params={"limit": 2}))
    rest = ok(client.get(f"{API}/purchase-orders", params={"limit": 2, "cursor": first["next"]}))
    seen = [p["id"] for p in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(ids)
    assert rest["next"] is None
    assert [
        p["supplier"]
        for p in ok(client.get(f"{API}/purchase-orders", params={"supplier": "ACME"}))["items"]
    ] == ["ACME"] * 3
    assert ok(client.get(f"{API}/suppliers"))["items"] == [
        {"code": "ACME", "name": "ACME", "lead_time_days": 3, "email": None}
    ]
