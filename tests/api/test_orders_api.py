"""Order management over HTTP, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"
ADDRESS = "1 Dam Square, Amsterdam"


@pytest.fixture
def client(sf: Stockflow) -> Iterator[TestClient]:
    with api_client(create_app(sf)) as test_client:
        yield test_client


@pytest.fixture
def shop(client: TestClient) -> TestClient:
    """WH1 near Amsterdam with 10 A (list price 2.50) and 4 B; KIT is 2 A + 1 B; channel WEB."""
    created(client.post(f"{API}/skus", json={"code": "A", "name": "Bolt", "unit_price": "2.50"}))
    created(client.post(f"{API}/skus", json={"code": "B", "name": "Nut"}))
    created(client.post(f"{API}/skus", json={"code": "KIT", "name": "Bolt and nuts"}))
    created(
        client.post(
            f"{API}/locations",
            json={"code": "WH1", "name": "Main", "latitude": "52.37", "longitude": "4.89"},
        )
    )
    for sku, qty in (("A", 10), ("B", 4)):
        created(
            client.post(
                f"{API}/moves",
                json={"sku": sku, "qty": qty, "reason": "receipt", "to": {"location": "WH1"}},
            )
        )
    ok(client.put(f"{API}/skus/KIT/kit", json={"components": {"A": 2, "B": 1}}))
    created(client.post(f"{API}/channels", json={"code": "WEB", "name": "Web shop"}))
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
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    if field is not None:
        assert body["field"] == field, body
    return body


def order(client: TestClient, *lines: tuple[str, int], **fields: Any) -> Any:
    """POST an order on WEB (unless ``channel`` says otherwise) to ADDRESS; the raw response."""
    headers = fields.pop("headers", {})
    body = {
        "channel": "WEB",
        "ship_to": ADDRESS,
        "lines": [{"sku": sku, "qty": qty} for sku, qty in lines],
        **fields,
    }
    return client.post(f"{API}/orders", json=body, headers=headers)


def available(client: TestClient, sku: str) -> int:
    value: int = ok(client.get(f"{API}/atp/{sku}"))["available"]
    return value


def verified(client: TestClient) -> None:
    assert ok(client.get(f"{API}/verify")) == {"ok": True, "drift": []}


# channels, fences, customers, kits, supply -------------------------------------------


def test_channel_is_created_with_its_rules_and_listed_by_priority(shop: TestClient) -> None:
    rules = {
        "code": "WHOLESALE",
        "name": "Trade",
        "kind": "wholesale",
        "priority": 10,
        "ship_from": ["WH1"],
        "max_splits": 2,
        "allow_partial": True,
        "backorder_policy": "allow_days",
        "backorder_days": 14,
        "hold_over_value": "5000.00",
        "hold_new_customers": True,
    }
    body = created(shop.post(f"{API}/channels", json=rules))
    assert body == {**rules, "hold_over_value": "5000.00", "fences": []}
    assert ok(shop.get(f"{API}/channels/WHOLESALE")) == body
    assert [c["code"] for c in ok(shop.get(f"{API}/channels"))["items"]] == ["WHOLESALE", "WEB"]
    web = ok(shop.get(f"{API}/channels/WEB"))
    assert (web["kind"], web["priority"], web["backorder_policy"], web["ship_from"]) == (
        "web",
        0,
        "allow",
        [],
    )


def test_channel_input_errors_name_the_field(shop: TestClient) -> None:
    def post(**fields: Any) -> Any:
        return shop.post(f"{API}/channels", json={"code": "PHONE", "name": "Phone", **fields})

    problem(shop.post(f"{API}/channels", json={"code": "WEB"}), 409, "code")
    problem(post(kind="carrier-pigeon"), 422, "kind")
    problem(post(max_splits=0), 422, "max_splits")
    problem(post(backorder_policy="sometimes"), 422, "backorder_policy")
    problem(post(backorder_policy="allow_days"), 422, "backorder_days")
    problem(post(hold_over_value="-1"), 422, "hold_over_value")
    problem(post(ship_from=["WH1", "NOWHERE"]), 404, "ship_from[1]")
    problem(post(colour="red"), 422, "colour")
    problem(shop.post(f"{API}/channels", json={"code": "has space", "name": "x"}), 422, "code")
    problem(shop.get(f"{API}/channels/PHONE"), 404, "code")
    assert [c["code"] for c in ok(shop.get(f"{API}/channels"))["items"]] == ["WEB"]


def test_ring_fence_keeps_units_for_its_channel(shop: TestClient) -> None:
    created(shop.post(f"{API}/channels", json={"code": "B2B", "backorder_policy": "reject"}))
    fence = ok(shop.put(f"{API}/channels/WEB/fences/A/WH1", json={"qty": 8}))
    assert fence == {"sku": "A", "location": "WH1", "qty": 8}
    assert ok(shop.get(f"{API}/channels/WEB"))["fences"] == [fence]
    refused = problem(order(shop, ("A", 3), channel="B2B"), 409, "lines[0].qty")
    assert (refused["sku"], refused["requested"], refused["available"]) == ("A", 3, 2)
    assert created(order(shop, ("A", 2), channel="B2B"))["status"] == "allocated"
    assert created(order(shop, ("A", 8)))["status"] == "allocated"
    assert available(shop, "A") == 0
    problem(shop.put(f"{API}/channels/NOPE/fences/A/WH1", json={"qty": 1}), 404, "channel")
    problem(shop.put(f"{API}/channels/WEB/fences/NOPE/WH1", json={"qty": 1}), 404, "sku")
    problem(shop.put(f"{API}/channels/WEB/fences/A/NOPE", json={"qty": 1}), 404, "location")
    problem(shop.put(f"{API}/channels/WEB/fences/A/WH1", json={"qty": -1}), 422, "qty")
    problem(shop.put(f"{API}/channels/WEB/fences/A/WH1", json={"qty": "2"}), 422, "qty")


def test_customers_are_created_read_and_paged(shop: TestClient) -> None:
    first = created(
        shop.post(
            f"{API}/customers",
            json={
                "code": "C1",
                "name": "Ada",
                "email": "ada@example.org",
                "address": "2 Canal St, Amsterdam",
                "latitude": "52.1",
                "longitude": "4.5",
            },
        )
    )
    assert (first["code"], first["name"], first["latitude"], first["phone"]) == (
        "C1",
        "Ada",
        "52.100000",
        None,
    )
    for code in ("C2", "C3"):
        created(shop.post(f"{API}/customers", json={"code": code, "name": f"Customer {code}"}))
    assert ok(shop.get(f"{API}/customers/C1")) == first
    page = ok(shop.get(f"{API}/customers", params={"limit": 2}))
    assert [c["code"] for c in page["items"]] == ["C1", "C2"]
    rest = ok(shop.get(f"{API}/customers", params={"limit": 2, "cursor": page["next"]}))
    assert ([c["code"] for c in rest["items"]], rest["next"]) == (["C3"], None)
    problem(shop.post(f"{API}/customers", json={"code": "C1", "name": "Again"}), 409, "code")
    problem(shop.post(f"{API}/customers", json={"code": "C9", "name": ""}), 422, "name")
    problem(shop.post(f"{API}/customers", json={"code": "C9"}), 422, "name")
    problem(
        shop.post(f"{API}/customers", json={"code": "C9", "name": "x", "latitude": "91"}),
        422,
        "latitude",
    )
    problem(shop.get(f"{API}/customers/C9"), 404, "code")
    problem(shop.get(f"{API}/customers", params={"limit": 0}), 422, "limit")


def test_kit_recipe_is_set_read_and_checked(shop: TestClient) -> None:
    assert ok(shop.get(f"{API}/skus/KIT/kit")) == {"kit": "KIT", "components": {"A": 2, "B": 1}}
    assert ok(shop.put(f"{API}/skus/KIT/kit", json={"components": {"A": 3}})) == {
        "kit": "KIT",
        "components": {"A": 3},
    }
    assert ok(shop.get(f"{API}/skus/A/kit"))["components"] == {}
    problem(shop.put(f"{API}/skus/KIT/kit", json={"components": {}}), 422, "components")
    problem(shop.put(f"{API}/skus/KIT/kit", json={"components": {"A": 0}}), 422, "components.A")
    problem(
        shop.put(f"{API}/skus/KIT/kit", json={"components": {"NOPE": 1}}), 404, "components.NOPE"
    )
    problem(shop.put(f"{API}/skus/KIT/kit", json={"components": {"KIT": 1}}), 422, "components.KIT")
    problem(shop.put(f"{API}/skus/NOPE/kit", json={"components": {"A": 1}}), 404, "kit")
    problem(shop.get(f"{API}/skus/NOPE/kit"), 404)
    assert ok(shop.get(f"{API}/skus/KIT/kit"))["components"] == {"A": 3}


def test_kit_order_allocates_its_components(shop: TestClient) -> None:
    body = created(order(shop, ("KIT", 2)))
    assert body["status"] == "allocated"
    assert [(ln["sku"], ln["qty"], ln["allocated"], ln["waiting"]) for ln in body["lines"]] == [
        ("KIT", 2, 2, 0)
    ]
    assert (available(shop, "A"), available(shop, "B")) == (6, 2)
    verified(shop)


def test_supply_is_recorded_and_gives_a_backorder_its_promise_date(shop: TestClient) -> None:
    supply = created(
        shop.post(
            f"{API}/supply",
            json={
                "kind": "purchase",
                "reference": "PO-1",
                "sku": "B",
                "location": "WH1",
                "qty": 50,
                "expected_on": "2031-03-01",
            },
        )
    )
    assert supply["id"] > 0
    assert {k: v for k, v in supply.items() if k != "id"} == {
        "kind": "purchase",
        "reference": "PO-1",
        "sku": "B",
        "location": "WH1",
        "qty": 50,
        "received_qty": 0,
        "expected_on": "2031-03-01",
    }
    body = created(order(shop, ("B", 20)))
    assert (body["status"], body["promise_date"]) == ("backordered", "2031-03-01")
    assert body["lines"][0]["waiting"] == 20
    assert "promised for 2031-03-01" in body["decisions"]

    def post(**fields: Any) -> Any:
        base = {"kind": "purchase", "reference": "PO-2", "sku": "B", "location": "WH1", "qty": 1}
        return shop.post(f"{API}/supply", json={**base, "expected_on": "2031-01-01", **fields})

    problem(post(kind="gift"), 422, "kind")
    problem(post(qty=0), 422, "qty")
    problem(post(reference=""), 422, "reference")
    problem(post(expected_on="soon"), 422, "expected_on")
    problem(post(sku="NOPE"), 404, "sku")
    problem(post(location="NOPE"), 404, "location")


# capture -------------------------------------------------------------------------------


def test_captured_order_shows_lines_value_and_why(shop: TestClient) -> None:
    body = created(
        order(
            shop,
            ("A", 3),
            ("B", 2),
            external_id="W-1",
            ship_to_latitude="52.0",
            ship_to_longitude="4.9",
        )
    )
    assert (body["channel"], body["external_id"], body["status"]) == ("WEB", "W-1", "allocated")
    assert (body["hold_reason"], body["promise_date"]) == (None, None)
    assert body["value"] == "7.5000"  # 3 x 2.50 list price; B has no price
    assert [(ln["line_no"], ln["sku"], ln["allocated"], ln["waiting"]) for ln in body["lines"]] == [
        (1, "A", 3, 0),
        (2, "B", 2, 0),
    ]
    assert any(d.startswith("ships whole from WH1") for d in body["decisions"])
    assert ok(shop.get(f"{API}/orders/{body['id']}")) == body
    assert (available(shop, "A"), available(shop, "B")) == (7, 2)
    priced = created(order(shop, ("A", 1), lines=[{"sku": "A", "qty": 2, "unit_price": "1.10"}]))
    assert priced["value"] == "2.2000"
    assert priced["lines"][0]["unit_price"] == "1.1000"
    problem(shop.get(f"{API}/orders/nope"), 404, "order_id")
    verified(shop)


def test_replays_return_the_first_order_and_reserve_nothing_twice(shop: TestClient) -> None:
    first = created(order(shop, ("A", 4), external_id="W-7"))
    again = ok(order(shop, ("A", 4), external_id="W-7"))
    assert again["id"] == first["id"]
    keyed = created(order(shop, ("A", 1), headers={"Idempotency-Key": "k-1"}))
    assert ok(order(shop, ("A", 1), headers={"Idempotency-Key": "k-1"}))["id"] == keyed["id"]
    assert available(shop, "A") == 5
    # The same external id on another channel is another order.
    created(shop.post(f"{API}/channels", json={"code": "PHONE"}))
    other = created(order(shop, ("A", 1), external_id="W-7", channel="PHONE"))
    assert other["id"] != first["id"]
    assert available(shop, "A") == 4
    assert len(ok(shop.get(f"{API}/orders"))["items"]) == 3
    verified(shop)


def test_an_external_id_reused_for_another_order_is_named_as_such(shop: TestClient) -> None:
    """The refusal names the channel and external id, not a key the caller never sent."""
    created(order(shop, ("A", 4), external_id="E1"))
    refused = problem(order(shop, ("A", 5), external_id="E1"), 409, "external_id")
    assert refused["title"] == "External id reused"
    assert "'WEB'" in refused["detail"]
    assert "'E1'" in refused["detail"]
    assert "Idempotency-Key" not in refused["detail"]
    keyed = {"Idempotency-Key": "k-9"}
    created(order(shop, ("A", 1), headers=keyed))
    reused = problem(order(shop, ("A", 2), headers=keyed), 409, "Idempotency-Key")
    assert reused["title"] == "Idempotency key reused"
    assert available(shop, "A") == 5
    verified(shop)


def test_identical_orders_sent_at_the_same_moment_create_one(shop: TestClient) -> None:
    start = threading.Barrier(8)

    def send(_: int) -> tuple[int, str]:
        start.wait()
        resp = order(shop, ("A", 3), external_id="W-9", headers={"Idempotency-Key": "same"})
        return resp.status_code, resp.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert sorted(code for code, _ in answers) == [200] * 7 + [201]
    assert len({order_id for _, order_id in answers}) == 1
    assert available(shop, "A") == 7
    assert len(ok(shop.get(f"{API}/orders"))["items"]) == 1
    verified(shop)


def test_short_stock_on_a_channel_without_backorders_is_409_naming_the_line(
    shop: TestClient,
) -> None:
    created(shop.post(f"{API}/channels", json={"code": "B2B", "backorder_policy": "reject"}))
    refused = problem(order(shop, ("A", 2), ("B", 5), channel="B2B", external_id="X"), 409)
    assert (refused["field"], refused["sku"], refused["requested"], refused["available"]) == (
        "lines[1].qty",
        "B",
        5,
        4,
    )
    assert ok(shop.get(f"{API}/orders"))["items"] == []
    assert (available(shop, "A"), available(shop, "B")) == (10, 4)
    # Nothing was stored under the external id: sending it again with less is a new order.
    assert created(order(shop, ("A", 2), ("B", 4), channel="B2B", external_id="X"))


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"lines": [{"sku": "A", "qty": 0}]}, 422, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": 1.5}]}, 422, "lines[0].qty"),
        ({"lines": [{"sku": "A", "qty": 1, "unit_price": "-1"}]}, 422, "lines[0].unit_price"),
        ({"lines": []}, 422, "lines"),
        ({"lines": [{"sku": "A", "qty": 1}, {"sku": "A", "qty": 2}]}, 422, "lines[1].sku"),
        ({"lines": [{"sku": "NOPE", "qty": 1}]}, 404, "lines[0].sku"),
        ({"ship_to": "  "}, 422, "ship_to"),
        ({"ship_to": None}, 422, "ship_to"),
        ({"channel": "NOPE"}, 404, "channel"),
        ({"customer": "NOPE"}, 404, "customer"),
        ({"ship_to_latitude": "100"}, 422, "ship_to_latitude"),
        ({"priority": 1}, 422, "priority"),
    ],
)
def test_bad_orders_are_refused_naming_the_field(
    shop: TestClient, body: dict[str, Any], status: int, field: str
) -> None:
    base = {"channel": "WEB", "ship_to": ADDRESS, "lines": [{"sku": "A", "qty": 1}]}
    problem(shop.post(f"{API}/orders", json={**base, **body}), status, field)
    assert ok(shop.get(f"{API}/orders"))["items"] == []
    assert available(shop, "A") == 10


def test_inactive_sku_is_refused(shop: TestClient) -> None:
    ok(shop.patch(f"{API}/skus/B", json={"active": False}))
    problem(order(shop, ("A", 1), ("B", 1)), 409, "lines[1].sku")


# holds, cancellation, backorders --------------------------------------------------------


def test_held_order_is_released_and_its_exception_resolved(shop: TestClient) -> None:
    created(shop.post(f"{API}/channels", json={"code": "PHONE", "hold_over_value": "10"}))
    held = created(order(shop, ("A", 5), channel="PHONE"))
    assert held["status"] == "on_hold"
    assert "over 10.00" in held["hold_reason"]
    queue = ok(shop.get(f"{API}/exceptions", params={"kind": "order_on_hold"}))["items"]
    assert [(e["order_id"], e["state"]) for e in queue] == [(held["id"], "open")]
    released = ok(shop.post(f"{API}/orders/{held['id']}/release-hold"))
    assert (released["status"], released["hold_reason"]) == ("allocated", None)
    assert "hold released" in released["decisions"]
    queue = ok(shop.get(f"{API}/exceptions", params={"kind": "order_on_hold"}))["items"]
    assert [(e["order_id"], e["state"]) for e in queue] == [(held["id"], "resolved")]
    problem(shop.post(f"{API}/orders/{held['id']}/release-hold"), 409, "status")
    problem(shop.post(f"{API}/orders/nope/release-hold"), 404, "order_id")


def test_rejecting_a_held_order_cancels_it_and_frees_its_stock(shop: TestClient) -> None:
    created(shop.post(f"{API}/channels", json={"code": "PHONE", "hold_over_value": "10"}))
    held = created(order(shop, ("A", 5), channel="PHONE"))
    assert available(shop, "A") == 5
    problem(shop.post(f"{API}/orders/{held['id']}/reject", json={}), 422, "reason")
    rejected = ok(shop.post(f"{API}/orders/{held['id']}/reject", json={"reason": "fraud check"}))
    assert rejected["status"] == "cancelled"
    assert (rejected["lines"][0]["cancelled"], rejected["lines"][0]["allocated"]) == (5, 0)
    assert any("rejected: fraud check" in d for d in rejected["decisions"])
    assert available(shop, "A") == 10
    normal = created(order(shop, ("A", 1)))
    problem(shop.post(f"{API}/orders/{normal['id']}/reject", json={"reason": "x"}), 409, "status")
    problem(shop.post(f"{API}/orders/{held['id']}/reject", json={"reason": "x"}), 409, "status")
    verified(shop)


def test_cancel_frees_stock_and_cancelling_again_is_409(shop: TestClient) -> None:
    body = created(order(shop, ("A", 6), ("B", 3)))
    problem(shop.post(f"{API}/orders/{body['id']}/cancel", json={}), 422, "reason")
    problem(
        shop.post(f"{API}/orders/{body['id']}/cancel", json={"reason": "x", "line_no": 9}),
        422,
        "line_no",
    )
    part = ok(
        shop.post(f"{API}/orders/{body['id']}/cancel", json={"reason": "no nuts", "line_no": 2})
    )
    assert part["status"] == "allocated"
    assert [(ln["sku"], ln["allocated"], ln["cancelled"]) for ln in part["lines"]] == [
        ("A", 6, 0),
        ("B", 0, 3),
    ]
    assert available(shop, "B") == 4
    whole = ok(shop.post(f"{API}/orders/{body['id']}/cancel", json={"reason": "changed mind"}))
    assert whole["status"] == "cancelled"
    assert available(shop, "A") == 10
    again = problem(shop.post(f"{API}/orders/{body['id']}/cancel", json={"reason": "x"}), 409)
    assert (again["title"], again["field"]) == ("Illegal transition", "status")
    problem(shop.post(f"{API}/orders/nope/cancel", json={"reason": "x"}), 404, "order_id")
    assert ok(shop.get(f"{API}/orders/{body['id']}"))["status"] == "cancelled"
    verified(shop)


def test_backorder_is_filled_when_stock_arrives(shop: TestClient) -> None:
    waiting = created(order(shop, ("B", 6)))
    assert (waiting["status"], waiting["lines"][0]["waiting"]) == ("backordered", 6)
    assert waiting["promise_date"] is None
    created(
        shop.post(
            f"{API}/moves",
            json={"sku": "B", "qty": 2, "reason": "receipt", "to": {"location": "WH1"}},
        )
    )
    filled = ok(shop.get(f"{API}/orders/{waiting['id']}"))
    assert (filled["status"], filled["lines"][0]["allocated"]) == ("allocated", 6)
    assert any(d.startswith("backorder fill") for d in filled["decisions"])
    verified(shop)


def test_released_hold_takes_stock_that_arrived_while_it_was_held(shop: TestClient) -> None:
    created(shop.post(f"{API}/channels", json={"code": "PHONE", "hold_over_value": "0"}))
    held = created(
        order(shop, channel="PHONE", lines=[{"sku": "B", "qty": 6, "unit_price": "1.00"}])
    )
    assert (held["status"], held["lines"][0]["allocated"]) == ("on_hold", 0)
    created(
        shop.post(
            f"{API}/moves",
            json={"sku": "B", "qty": 2, "reason": "receipt", "to": {"location": "WH1"}},
        )
    )
    released = ok(shop.post(f"{API}/orders/{held['id']}/release-hold"))
    assert released["status"] == "allocated"
    assert released["lines"][0]["allocated"] == 6
    verified(shop)


# listing -------------------------------------------------------------------------------


def test_orders_are_listed_newest_first_page_by_page(shop: TestClient) -> None:
    created(shop.post(f"{API}/channels", json={"code": "PHONE"}))
    ids = [created(order(shop, ("A", 1), external_id=f"W-{n}"))["id"] for n in range(5)]
    phone = created(order(shop, ("B", 9), channel="PHONE"))["id"]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, "channel": "WEB"}
        if cursor:
            params["cursor"] = cursor
        page = ok(shop.get(f"{API}/orders", params=params))
        assert len(page["items"]) <= 2
        seen += [o["id"] for o in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    everything = ok(shop.get(f"{API}/orders"))["items"]
    assert [o["id"] for o in everything] == [phone, *ids[::-1]]
    waiting = ok(shop.get(f"{API}/orders", params={"status": "backordered"}))["items"]
    assert [o["id"] for o in waiting] == [phone]
    assert ok(shop.get(f"{API}/orders", params={"channel": "NOPE"}))["items"] == []
    problem(shop.get(f"{API}/orders", params={"status": "lost"}), 422, "status")
    problem(shop.get(f"{API}/orders", params={"cursor": "!!"}), 422, "cursor")
    problem(shop.get(f"{API}/orders", params={"cursor": "bm9wZQ"}), 422, "cursor")
    problem(shop.get(f"{API}/orders", params={"limit": 1001}), 422, "limit")


def test_orders_captured_in_one_batch_page_without_gaps_or_repeats(
    sf: Stockflow, shop: TestClient
) -> None:
    # One transaction: every order has the same created_at, so the id breaks the tie.
    views = sf.orders.capture_many(
        [
            CaptureOrder("WEB", (OrderLineIn("A", 1),), ADDRESS, external_id=f"W-{n}")
            for n in range(5)
        ]
    )
    assert len({v.created_at for v in views if isinstance(v, OrderView)}) == 1
    seen, cursor = [], None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(shop.get(f"{API}/orders", params=params))
        seen += [o["id"] for o in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted((v.id for v in views if isinstance(v, OrderView)), reverse=True)


# exceptions ----------------------------------------------------------------------------


def test_exceptions_are_listed_acknowledged_and_resolved(shop: TestClient) -> None:
    first = created(order(shop, ("B", 5)))
    second = created(order(shop, ("B", 7)))
    queue = ok(shop.get(f"{API}/exceptions", params={"state": "open", "kind": "atp_failure"}))
    assert [e["order_id"] for e in queue["items"]] == [second["id"], first["id"]]
    page = ok(shop.get(f"{API}/exceptions", params={"limit": 1}))
    rest = ok(shop.get(f"{API}/exceptions", params={"limit": 1, "cursor": page["next"]}))
    assert [e["id"] for e in page["items"] + rest["items"]] == [e["id"] for e in queue["items"]]
    newest = queue["items"][0]["id"]
    acked = ok(shop.post(f"{API}/exceptions/{newest}/acknowledge"))
    assert (acked["id"], acked["state"], acked["kind"]) == (newest, "acknowledged", "atp_failure")
    assert [e["id"] for e in ok(shop.get(f"{API}/exceptions?state=open"))["items"]] == [
        queue["items"][1]["id"]
    ]
    resolved = ok(shop.post(f"{API}/exceptions/{newest}/resolve"))
    assert resolved["state"] == "resolved"
    assert ok(shop.post(f"{API}/exceptions/{newest}/resolve"))["state"] == "resolved"
    problem(shop.post(f"{API}/exceptions/{newest}/acknowledge"), 409, "state")
    problem(shop.post(f"{API}/exceptions/999999/resolve"), 404, "exception_id")
    problem(shop.post(f"{API}/exceptions/abc/resolve"), 422, "exception_id")
    problem(shop.get(f"{API}/exceptions", params={"state": "closed"}), 422, "state")
    problem(shop.get(f"{API}/exceptions", params={"cursor": "eA"}), 422, "cursor")


def test_order_endpoints_are_in_the_openapi_document(client: TestClient) -> None:
    paths = ok(client.get(f"{API}/openapi.json"))["paths"]
    for path in (
        "/api/v1/channels",
        "/api/v1/channels/{code}/fences/{sku}/{location}",
        "/api/v1/customers",
        "/api/v1/skus/{code}/kit",
        "/api/v1/supply",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/{order_id}/cancel",
        "/api/v1/orders/{order_id}/release-hold",
        "/api/v1/orders/{order_id}/reject",
        "/api/v1/exceptions",
        "/api/v1/exceptions/{exception_id}/acknowledge",
        "/api/v1/exceptions/{exception_id}/resolve",
    ):
        assert path in paths, path
    capture = paths["/api/v1/orders"]["post"]
    assert {"200", "201", "409", "422"} <= set(capture["responses"])
    assert "application/problem+json" in capture["responses"]["409"]["content"]
