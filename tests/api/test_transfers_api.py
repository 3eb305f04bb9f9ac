"""Transfers over HTTP, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client, signed_in
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from test_orders_api import API, created, ok, problem, verified


@pytest.fixture
def client(sf: Stockflow) -> Iterator[TestClient]:
    with api_client(create_app(sf)) as test_client:
        yield test_client


@pytest.fixture
def sites(client: TestClient) -> TestClient:
    """WH1 with 10 BOLT, WH2 empty."""
    created(client.post(f"{API}/skus", json={"code": "BOLT", "name": "Bolt"}))
    for code in ("WH1", "WH2"):
        created(client.post(f"{API}/locations", json={"code": code, "name": code}))
    created(
        client.post(
            f"{API}/moves",
            json={"sku": "BOLT", "qty": 10, "reason": "receipt", "to": {"location": "WH1"}},
        )
    )
    return client


def ship_body(qty: int, *, expected: date | None = None) -> dict[str, Any]:
    when = expected or date.today() + timedelta(days=2)
    return {
        "from": "WH1",
        "to": "WH2",
        "expected_on": when.isoformat(),
        "lines": [{"sku": "BOLT", "qty": qty}],
    }


def test_ship_receive_read_and_list_a_transfer(sites: TestClient) -> None:
    client = sites
    headers = {"Idempotency-Key": "tr-42", **signed_in(client, "dispatch")}
    sent = created(client.post(f"{API}/transfers", json=ship_body(6), headers=headers))
    assert (sent["from"], sent["to"], sent["status"], sent["created_by"]) == (
        "WH1", "WH2", "in_transit", "dispatch",
    )  # fmt: skip
    again = client.post(f"{API}/transfers", json=ship_body(6), headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == sent["id"]
    assert ok(client.get(f"{API}/atp/BOLT"))["available"] == 4

    got = ok(
        client.post(
            f"{API}/transfers/{sent['id']}/receive",
            json={"lines": [{"line_no": 1, "received": 6, "damaged": 2}]},
            headers=signed_in(client, "goods-in"),
        )
    )
    assert got["status"] == "received"
    assert got["lines"] == [
        {"line_no": 1, "sku": "BOLT", "lot": None, "shipped": 6, "received": 6, "damaged": 2,
         "lost": 0, "over": 0},
    ]  # fmt: skip
    assert ok(client.get(f"{API}/transfers/{sent['id']}")) == got
    page = ok(client.get(f"{API}/transfers", params={"location": "WH2", "status": "received"}))
    assert [t["id"] for t in page["items"]] == [sent["id"]]
    assert page["next"] is None
    exceptions = ok(client.get(f"{API}/exceptions", params={"kind": "transfer_discrepancy"}))
    assert len(exceptions["items"]) == 1
    # 4 good on the dock, 2 damaged in quarantine: only the good ones are available.
    assert ok(client.get(f"{API}/atp/BOLT"))["available"] == 8
    verified(client)


def test_transfer_errors_are_problem_documents(sites: TestClient) -> None:
    client = sites
    short = problem(client.post(f"{API}/transfers", json=ship_body(11)), 409, "lines[0].qty")
    assert (short["requested"], short["available"], short["location"]) == (11, 10, "WH1")
    problem(client.post(f"{API}/transfers", json={**ship_body(1), "to": "WH1"}), 422, "to")
    problem(client.post(f"{API}/transfers", json={**ship_body(1), "lines": []}), 422, "lines")
    problem(client.post(f"{API}/transfers", json={**ship_body(1), "from_": "x"}), 422)
    problem(client.get(f"{API}/transfers/TR-NOPE"), 404, "transfer_id")
    problem(client.get(f"{API}/transfers", params={"status": "lost"}), 422, "status")
    problem(client.get(f"{API}/transfers", params={"cursor": "nonsense"}), 422, "cursor")

    sent = created(client.post(f"{API}/transfers", json=ship_body(3)))
    receive = f"{API}/transfers/{sent['id']}/receive"
    problem(client.post(receive, json={"lines": [{"line_no": 2, "received": 3}]}), 422)
    problem(
        client.post(receive, json={"lines": [{"line_no": 1, "received": 1, "damaged": 2}]}),
        422,
        "lines[0].damaged",
    )
    ok(client.post(receive, json={"lines": [{"line_no": 1, "received": 3}]}))
    twice = problem(client.post(receive, json={"lines": [{"line_no": 1, "received": 3}]}), 409)
    assert "received already" in twice["detail"]
    verified(client)


def test_transfers_page_with_a_cursor(sites: TestClient) -> None:
    client = sites
    ids = [created(client.post(f"{API}/transfers", json=ship_body(1)))["id"] for _ in range(3)]
    first = ok(client.get(f"{API}/transfers", params={"limit": 2}))
    rest = ok(client.get(f"{API}/transfers", params={"limit": 2, "cursor": first["next"]}))
    seen = [t["id"] for t in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(ids)
    assert len(set(seen)) == 3
