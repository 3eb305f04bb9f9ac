"""Returns over HTTP, through the real app on SQLite and PostgreSQL: ship, authorise, receive,
inspect, close; errors as problem+json naming the field; retries with an Idempotency-Key."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from helpers import api_client, signed_in
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app as cli

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


def created(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def problem(resp: Any, status: int, field: str | None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["detail"]
    assert body.get("field") == field, body
    return body


@pytest.fixture
def shipped(client: TestClient) -> str:
    """WH1 with 3 A (list 4.00) and 2 B (list 1.50); an order of 3 A and 2 B, shipped; its id."""
    for code, price in (("A", "4.00"), ("B", "1.50")):
        created(client.post(f"{API}/skus", json={"code": code, "name": code, "unit_price": price}))
    created(client.post(f"{API}/locations", json={"code": "WH1", "name": "Main"}))
    for sku, qty in (("A", 3), ("B", 2)):
        move = {"sku": sku, "qty": qty, "reason": "receipt", "to": {"location": "WH1"}}
        created(client.post(f"{API}/moves", json=move))
    created(client.post(f"{API}/channels", json={"code": "WEB", "name": "Web shop"}))
    lines = [{"sku": "A", "qty": 3, "unit_price": "3.333"}, {"sku": "B", "qty": 2}]
    order = created(
        client.post(
            f"{API}/orders",
            json={"channel": "WEB", "ship_to": "1 Dam Square, Amsterdam", "lines": lines},
        )
    )
    wave = created(client.post(f"{API}/waves", json={"location": "WH1"}))
    for task in wave["tasks"]:
        ok(client.post(f"{API}/pick-tasks/{task['id']}/confirm", json={"picked": task["qty"]}))
    for task in wave["tasks"]:
        scan = {"barcode": task["sku"], "qty": task["qty"]}
        shipment = ok(client.post(f"{API}/orders/{order['id']}/pack", json=scan))
    box = {"weight_g": 900, "length_mm": 300, "width_mm": 200, "height_mm": 100}
    ok(client.post(f"{API}/shipments/{shipment['id']}/packages", json=box))
    ok(client.post(f"{API}/shipments/{shipment['id']}/ship", json={"carrier": "flat"}))
    assert ok(client.get(f"{API}/orders/{order['id']}"))["status"] == "shipped"
    order_id: str = order["id"]
    return order_id


def available(client: TestClient, sku: str) -> int:
    value: int = ok(client.get(f"{API}/atp/{sku}"))["available"]
    return value


def verified(client: TestClient) -> None:
    assert ok(client.get(f"{API}/verify")) == {"ok": True, "drift": []}


def test_a_return_through_http_from_authorisation_to_closed(
    client: TestClient, shipped: str
) -> None:
    body = {
        "reason": "not as described",
        "lines": [{"line_no": 1, "qty": 2}, {"line_no": 2, "qty": 1}],
    }
    url = f"{API}/orders/{shipped}/returns"
    rma = created(client.post(url, json=body, headers={"Idempotency-Key": "rma-1"}))
    assert (rma["status"], rma["location"]) == ("authorised", "WH1")
    assert rma["refund_suggested"] == "8.17"  # 2 x 3.333 = 6.666 -> 6.67, + 1 x 1.50
    replay = ok(client.post(url, json=body, headers={"Idempotency-Key": "rma-1"}))
    assert replay["id"] == rma["id"]
    again = {"reason": "again", "lines": [{"line_no": 1, "qty": 2}]}
    too_many = problem(client.post(url, json=again), 409, "lines[0].qty")
    assert too_many["allowed"] == 1
    assert "at most 1 may still be returned" in too_many["detail"]

    rid = rma["id"]
    arrive = {"lines": [{"line_no": 1, "qty": 2}, {"line_no": 2, "qty": 1}]}
    received = ok(client.post(f"{API}/returns/{rid}/receive", json=arrive,
                              headers={"Idempotency-Key": "box-1"}))  # fmt: skip
    assert received["status"] == "received"
    repeat = ok(client.post(f"{API}/returns/{rid}/receive", json=arrive,
                            headers={"Idempotency-Key": "box-1"}))  # fmt: skip
    assert [ln["received"] for ln in repeat["lines"]] == [2, 1]
    assert available(client, "A") == 0
    verified(client)

    inspect = f"{API}/returns/{rid}/inspect"
    headers = {"Idempotency-Key": "look-1", **signed_in(client, "ines")}
    ok(client.post(inspect, json={"line_no": 1, "disposition": "restock"}, headers=headers))
    ok(client.post(inspect, json={"line_no": 1, "disposition": "restock"}, headers=headers))
    assert available(client, "A") == 1
    problem(client.post(inspect, json={"line_no": 2, "disposition": "scrap"}), 422, "note")
    ok(client.post(inspect, json={"line_no": 1, "disposition": "quarantine", "note": "dented"}))
    done = ok(client.post(inspect, json={"line_no": 2, "disposition": "scrap", "note": "torn"}))
    assert done["status"] == "closed"
    assert [(d["disposition"], d["qty"], d["actor"]) for d in done["dispositions"]] == [
        ("restock", 1, "ines"),
        ("quarantine", 1, "admin"),
        ("scrap", 1, "admin"),
    ]
    assert available(client, "A") == 1
    assert ok(client.get(f"{API}/returns/{rid}")) == done
    verified(client)


def test_bad_requests_are_problems_that_name_the_field(client: TestClient, shipped: str) -> None:
    def authorise(lines: list[dict[str, int]], **more: str) -> Any:
        body = {"reason": "x", "lines": lines, **more}
        return client.post(f"{API}/orders/{shipped}/returns", json=body)

    problem(authorise([]), 422, "lines")
    problem(authorise([{"line_no": 1, "qty": 0}]), 422, "lines[0].qty")
    problem(authorise([{"line_no": 7, "qty": 1}]), 422, "lines[0].line_no")
    problem(authorise([{"line_no": 1, "qty": 1}], reason=" "), 422, "reason")
    problem(authorise([{"line_no": 1, "qty": 1}], location="NOPE"), 404, "location")
    nowhere = {"reason": "x", "lines": [{"line_no": 1, "qty": 1}]}
    problem(client.post(f"{API}/orders/NOPE/returns", json=nowhere), 404, "order_id")

    rid = created(authorise([{"line_no": 1, "qty": 1}]))["id"]
    inspect, receive = f"{API}/returns/{rid}/inspect", f"{API}/returns/{rid}/receive"
    early = problem(client.post(inspect, json={"line_no": 1, "disposition": "restock"}), 409,
                    "status")  # fmt: skip
    assert "authorised cannot inspect" in early["detail"]
    problem(client.post(inspect, json={"line_no": 1, "disposition": "resell"}), 422, "disposition")
    problem(client.post(receive, json={"lines": [{"line_no": 1, "qty": 2}]}), 409, "lines[0].qty")
    problem(client.post(f"{API}/returns/{rid}/close"), 409, "status")
    problem(client.get(f"{API}/returns/RMA-NOPE"), 404, "rma_id")
    problem(client.get(f"{API}/returns", params={"cursor": "bm9wZQ"}), 422, "cursor")
    problem(client.get(f"{API}/returns", params={"status": "lost"}), 422, "status")
    assert ok(client.post(f"{API}/returns/{rid}/cancel"))["status"] == "cancelled"
    assert ok(client.get(f"{API}/returns/{rid}"))["lines"][0]["received"] == 0
    verified(client)


def test_returns_are_listed_newest_first_a_page_at_a_time(
    client: TestClient, shipped: str, sf: Stockflow, db_url: str
) -> None:
    url = f"{API}/orders/{shipped}/returns"
    ids = [
        created(client.post(url, json={"reason": f"r{n}", "lines": [{"line_no": 2, "qty": 1}]}))[
            "id"
        ]
        for n in range(2)
    ]
    first = ok(client.get(f"{API}/returns", params={"limit": 1}))
    second = ok(client.get(f"{API}/returns", params={"limit": 1, "cursor": first["next"]}))
    listed = [first["items"][0]["id"], second["items"][0]["id"]]
    assert sorted(listed) == sorted(ids)
    assert second["next"] is None  # the last page says so
    mine = ok(client.get(f"{API}/returns", params={"order_id": shipped, "status": "authorised"}))
    assert len(mine["items"]) == 2

    shown = CliRunner().invoke(cli, ["returns", "show", ids[0], "--db", db_url])
    assert shown.exit_code == 0, shown.output
    assert ids[0] in shown.output
    assert "1.50" in shown.output
    listing = CliRunner().invoke(cli, ["returns", "list", "--db", db_url, "--json"])
    assert listing.exit_code == 0, listing.output
    assert {r["id"] for r in json.loads(listing.output)} == set(ids)
    missing = CliRunner().invoke(cli, ["returns", "show", "RMA-NOPE", "--db", db_url])
    assert missing.exit_code != 0
