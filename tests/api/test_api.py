"""The HTTP API end to end, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from starlette.exceptions import StarletteDeprecationWarning

from helpers import PROBLEM_JSON, api_client, created, problem, signed_in, stock_shop_over_http
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"


@pytest.fixture
def client(sf: Stockflow) -> Iterator[TestClient]:
    with api_client(create_app(sf)) as test_client:
        yield test_client


@pytest.fixture
def stocked(client: TestClient) -> TestClient:
    """WH1 (bins MAIN, A-01) with 10 of SKU A and 4 of SKU B in MAIN."""
    stock_shop_over_http(client, API)
    return client


def receive(client: TestClient, sku: str, qty: int, **headers: str) -> Any:
    return client.post(
        f"{API}/moves",
        json={"sku": sku, "qty": qty, "reason": "receipt", "to": {"location": "WH1"}},
        headers=headers,
    )


def atp(client: TestClient, sku: str) -> tuple[int, int, int]:
    body = client.get(f"{API}/atp/{sku}").json()
    return body["on_hand"], body["allocated"], body["available"]


def reserve(client: TestClient, lines: list[dict[str, Any]], **headers: str) -> Any:
    return client.post(f"{API}/reservations", json={"lines": lines}, headers=headers)


# catalogue ---------------------------------------------------------------------------


def test_skus_locations_and_bins_are_created_and_read_back(client: TestClient) -> None:
    sku = created(
        client.post(f"{API}/skus", json={"code": "A", "name": "Bolt", "unit_price": "1.25"})
    )
    assert (sku["code"], sku["active"], sku["lot_tracked"]) == ("A", True, False)
    assert client.get(f"{API}/skus/A").json() == sku
    again = problem(client.post(f"{API}/skus", json={"code": "A", "name": "Other"}), 409)
    assert again["field"] == "code"
    location = created(client.post(f"{API}/locations", json={"code": "WH1", "name": "Main"}))
    assert (location["code"], location["kind"], location["allow_negative"]) == (
        "WH1",
        "warehouse",
        False,
    )
    created(client.post(f"{API}/locations/WH1/bins", json={"code": "A-01", "sequence": 1}))
    bins = client.get(f"{API}/locations/WH1/bins").json()["items"]
    assert [b["code"] for b in bins] == ["MAIN", "A-01"]
    assert problem(client.post(f"{API}/locations/XX/bins", json={"code": "A-01"}), 404)
    assert (
        problem(client.post(f"{API}/locations", json={"code": "W2", "kind": "moon"}), 422)["field"]
        == "kind"
    )


# moves, adjustments, reading ------------------------------------------------------------


def test_receive_put_away_and_adjust_show_up_in_positions_and_atp(stocked: TestClient) -> None:
    client = stocked
    move = created(
        client.post(
            f"{API}/moves",
            json={
                "sku": "A",
                "qty": 6,
                "reason": "putaway",
                "from": {"location": "WH1"},
                "to": {"location": "WH1", "bin": "A-01"},
            },
            headers=signed_in(client, "dana"),
        )
    )
    assert (move["qty"], move["reason"], move["actor"]) == (6, "putaway", "dana")
    assert (move["from"]["location"], move["to"]["bin"]) == ("WH1", "A-01")
    adjust = {"sku": "A", "location": "WH1", "bin": "A-01", "delta": -2}
    assert problem(client.post(f"{API}/adjustments", json=adjust), 422)["field"] == "note"
    out = created(client.post(f"{API}/adjustments", json={**adjust, "note": "crushed"}))
    assert (out["qty"], out["reason"], out["to"], out["note"]) == (2, "adjustment", None, "crushed")
    assert out["from"] == {"location": "WH1", "bin": "A-01", "lot": None}
    found = {**adjust, "delta": 3, "bin": None, "note": "found behind rack"}
    assert created(client.post(f"{API}/adjustments", json=found))["from"] is None
    zero = problem(client.post(f"{API}/adjustments", json={**adjust, "delta": 0, "note": "x"}), 422)
    assert zero["field"] == "delta"
    short = problem(
        client.post(f"{API}/adjustments", json={**adjust, "delta": -5, "note": "x"}), 409
    )
    assert (short["available"], short["field"]) == (4, "qty")

    positions = client.get(f"{API}/positions", params={"sku": "A"}).json()["items"]
    assert [(p["bin"], p["on_hand"], p["allocated"], p["available"]) for p in positions] == [
        ("MAIN", 7, 0, 7),
        ("A-01", 4, 0, 4),
    ]
    assert atp(client, "A") == (11, 0, 11)
    bulk = client.get(f"{API}/atp", params=[("sku", "A"), ("sku", "B")]).json()["items"]
    assert [(x["sku"], x["available"]) for x in bulk] == [("A", 11), ("B", 4)]
    assert bulk[0]["locations"] == [
        {
            "location": "WH1",
            "on_hand": 11,
            "allocated": 0,
            "expired": 0,
            "buffer": 0,
            "available": 11,
        }
    ]


def test_safety_buffer_set_over_http_comes_off_atp(stocked: TestClient) -> None:
    client = stocked
    resp = client.put(f"{API}/skus/A/buffers/WH1", json={"qty": 3})
    assert resp.status_code == 204
    assert atp(stocked, "A") == (10, 0, 7)
    assert problem(client.put(f"{API}/skus/A/buffers/WH1", json={"qty": -1}), 422)["field"] == (
        "qty"
    )


def test_ledger_pages_with_a_cursor_newest_first(stocked: TestClient) -> None:
    client = stocked
    for qty in (1, 2, 3):
        created(receive(client, "A", qty))
    seen: list[int] = []
    pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(f"{API}/moves", params=params).json()
        pages += 1
        assert len(body["items"]) <= 2
        seen += [m["id"] for m in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == len(seen) == 5
    assert pages == 3
    first = client.get(f"{API}/moves", params={"limit": 1}).json()["items"][0]
    assert (first["sku"], first["qty"], first["reason"], first["to"]["bin"]) == (
        "A",
        3,
        "receipt",
        "MAIN",
    )
    only_b = client.get(f"{API}/moves", params={"sku": "B"}).json()
    assert [(m["sku"], m["qty"]) for m in only_b["items"]] == [("B", 4)]
    assert only_b["next"] is None
    assert problem(client.get(f"{API}/moves", params={"cursor": "!!"}), 422)["field"] == "cursor"
    assert problem(client.get(f"{API}/moves", params={"limit": 0}), 422)["field"] == "limit"


def test_move_with_the_same_idempotency_key_posts_once(stocked: TestClient) -> None:
    client = stocked
    first = created(receive(client, "A", 5, **{"Idempotency-Key": "asn-7"}))
    again = receive(client, "A", 5, **{"Idempotency-Key": "asn-7"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert atp(client, "A") == (15, 0, 15)


# reservations ------------------------------------------------------------------------


def test_reservation_lifecycle_over_http(stocked: TestClient) -> None:
    client = stocked
    view = created(
        client.post(
            f"{API}/reservations",
            json={"lines": [{"sku": "A", "qty": 4}, {"sku": "B", "qty": 2}], "owner_ref": "SO-1"},
        )
    )
    assert (view["status"], view["open_qty"], view["owner_ref"]) == ("open", 6, "SO-1")
    assert [(a["line_no"], a["sku"], a["qty"], a["open"]) for a in view["allocations"]] == [
        (1, "A", 4, 4),
        (2, "B", 2, 2),
    ]
    rid = view["id"]
    assert client.get(f"{API}/reservations/{rid}").json() == view
    assert atp(client, "A") == (10, 4, 6)

    part = client.post(f"{API}/reservations/{rid}/consume", json={"lines": {"A": 3}})
    assert part.status_code == 200, part.text
    assert (part.json()["status"], part.json()["open_qty"]) == ("open", 3)
    assert atp(client, "A") == (7, 1, 6)
    shipped = client.get(f"{API}/moves", params={"sku": "A", "limit": 1}).json()["items"][0]
    assert (shipped["reason"], shipped["qty"], shipped["to"]) == ("ship", 3, None)
    too_many = client.post(f"{API}/reservations/{rid}/release", json={"lines": {"B": 3}})
    assert problem(too_many, 422)["field"] == "lines.B"
    done = client.post(f"{API}/reservations/{rid}/release", json={})
    assert (done.json()["status"], done.json()["open_qty"]) == ("closed", 0)
    assert problem(client.post(f"{API}/reservations/{rid}/consume", json={}), 409)["title"] == (
        "Reservation closed"
    )
    assert (atp(client, "A"), atp(client, "B")) == ((7, 0, 7), (4, 0, 4))
    assert client.get(f"{API}/verify").json() == {"ok": True, "drift": []}


def test_short_stock_is_409_with_what_is_available(stocked: TestClient) -> None:
    body = problem(reserve(stocked, [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 5}]), 409)
    assert body["title"] == "Insufficient stock"
    assert (body["sku"], body["requested"], body["available"], body["field"]) == (
        "B",
        5,
        4,
        "lines[1].qty",
    )
    assert atp(stocked, "A") == (10, 0, 10)  # the good line took nothing either


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [{"sku": "A", "qty": 0}]}, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": -3}]}, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": "x"}]}, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": "2"}]}, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": 1.5}]}, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": True}]}, "lines[0].qty"),
        ({"lines": [{"sku": "A"}]}, "lines[0].qty"),
        ({"lines": [{"sku": "B", "qty": 1}, {"sku": "A", "qty": 10**10}]}, "lines[1].qty"),
        ({}, "lines"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "A", "qty": 1}], "colour": "red"}, "colour"),
        ({"lines": [{"sku": "A", "qty": 1, "bin": "A-01"}]}, "lines[0].bin"),
        ({"lines": [{"sku": "A", "qty": 1}, {"sku": "A", "qty": 2}]}, "lines[1].sku"),
    ],
)
def test_malformed_reservations_are_422_naming_the_field(
    stocked: TestClient, body: dict[str, Any], field: str
) -> None:
    got = problem(stocked.post(f"{API}/reservations", json=body), 422)
    assert got["field"] == field
    assert got["detail"]
    assert atp(stocked, "A") == (10, 0, 10)


def test_body_that_is_not_json_is_422_without_a_made_up_field(stocked: TestClient) -> None:
    resp = stocked.post(
        f"{API}/reservations", content=b"{lines: [", headers={"content-type": "application/json"}
    )
    body = problem(resp, 422)
    assert "field" not in body
    assert "not valid JSON" in body["detail"]


def test_reservation_with_the_same_idempotency_key_reserves_once(stocked: TestClient) -> None:
    lines = [{"sku": "A", "qty": 3}]
    first = created(reserve(stocked, lines, **{"Idempotency-Key": "cart-1"}))
    again = reserve(stocked, lines, **{"Idempotency-Key": "cart-1"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    other = created(reserve(stocked, lines, **{"Idempotency-Key": "cart-2"}))
    assert other["id"] != first["id"]
    assert atp(stocked, "A") == (10, 6, 4)


# not found, errors, documents --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/skus/NOPE", None, "sku"),
        ("GET", "/atp/NOPE", None, "sku"),
        ("GET", "/positions?sku=NOPE", None, "sku"),
        ("GET", "/moves?sku=NOPE", None, "sku"),
        (
            "POST",
            "/moves",
            {"sku": "NOPE", "qty": 1, "reason": "receipt", "to": {"location": "WH1"}},
            "sku",
        ),
        (
            "POST",
            "/moves",
            {"sku": "A", "qty": 1, "reason": "receipt", "to": {"location": "XX"}},
            "to.location",
        ),
        ("POST", "/reservations", {"lines": [{"sku": "NOPE", "qty": 1}]}, "lines[0].sku"),
        ("GET", "/reservations/no-such-id", None, "reservation_id"),
        ("POST", "/reservations/no-such-id/release", {}, "reservation_id"),
        ("POST", "/reservations/no-such-id/consume", {}, "reservation_id"),
    ],
)
def test_unknown_things_are_404_problems_naming_the_field(
    stocked: TestClient, method: str, path: str, body: dict[str, Any] | None, field: str
) -> None:
    got = problem(stocked.request(method, f"{API}{path}", json=body), 404)
    assert got["field"] == field


def test_unknown_route_and_method_are_problems_too(client: TestClient) -> None:
    assert problem(client.get(f"{API}/nothing-here"), 404)["title"] == "Not Found"
    assert problem(client.delete(f"{API}/skus/A"), 405)


def test_verify_reports_drift_over_http(stocked: TestClient, sf: Stockflow) -> None:
    assert stocked.get(f"{API}/verify").json() == {"ok": True, "drift": []}
    with sf.db.write() as conn:
        conn.execute(text("UPDATE positions SET on_hand = on_hand + 1"))
    body = stocked.get(f"{API}/verify").json()
    assert body["ok"] is False
    assert sorted((d["invariant"], d["expected"], d["actual"]) for d in body["drift"]) == [
        ("I1", 4, 5),
        ("I1", 10, 11),
    ]


def test_openapi_lists_every_route_and_documents_errors_as_problems(client: TestClient) -> None:
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    routes = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    assert {
        ("GET", f"{API}/skus"),
        ("POST", f"{API}/skus"),
        ("GET", f"{API}/skus/{{code}}"),
        ("POST", f"{API}/locations"),
        ("POST", f"{API}/locations/{{code}}/bins"),
        ("PUT", f"{API}/skus/{{sku}}/buffers/{{location}}"),
        ("POST", f"{API}/moves"),
        ("GET", f"{API}/moves"),
        ("POST", f"{API}/adjustments"),
        ("GET", f"{API}/positions"),
        ("GET", f"{API}/atp"),
        ("GET", f"{API}/atp/{{sku}}"),
        ("POST", f"{API}/reservations"),
        ("GET", f"{API}/reservations/{{reservation_id}}"),
        ("POST", f"{API}/reservations/{{reservation_id}}/release"),
        ("POST", f"{API}/reservations/{{reservation_id}}/consume"),
        ("GET", f"{API}/verify"),
    } <= routes
    post = doc["paths"][f"{API}/reservations"]["post"]
    assert {"201", "409", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    for code in ("409", "422"):
        content = post["responses"][code]["content"]
        assert list(content) == [PROBLEM_JSON]
        assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "available" in doc["components"]["schemas"]["Problem"]["properties"]
    # Nothing may still claim that errors come back as plain JSON.
    for ops in doc["paths"].values():
        for op in ops.values():
            for code, response in op["responses"].items():
                if code.startswith("4"):
                    assert "application/json" not in response.get("content", {}), (code, op)
