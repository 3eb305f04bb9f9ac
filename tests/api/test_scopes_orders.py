"""Scopes and field rules on orders, reservations, stock and the catalogue, over HTTP.

Two marketplaces sell on their own channels (M1 ships from NORTH, M2 from
SOUTH), two 3PLs run NORTH and SOUTH, and a warehouse team works HQ, where
the web shop ships from. Each caller must see and change only its own: a
list leaves the others' things out, a single read or a write of one answers
404 word for word as an unknown id does and changes nothing, a channel or a
location a caller may not use is refused naming the field. Callers without a
scope see what they saw before scopes existed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client, bearer, created, items, problem, receive
from stockflow.adapters.tables import orders, stock_moves
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel, NewCustomer
from stockflow.stock.exceptions import raise_exception
from stockflow.stock.rules.access import Role, ScopeKind
from stockflow.stock.rules.catalogue import NewLocation, NewSku
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn, Reserve, ReserveLine
from stockflow.stock.rules.exceptions import ExceptionKind

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
SITES = ("HQ", "NORTH", "SOUTH")


@dataclass(frozen=True)
class Shop:
    """The world every test starts from: its orders, reservations and who may call."""

    client: TestClient  # signed in as an admin, who has no scope
    sf: Stockflow
    north_order: str  # M1's, allocated at NORTH
    south_order: str  # M2's, held (its address is incomplete), allocated at SOUTH
    web_order: str  # WEB's, allocated at HQ
    north_hold: str  # a reservation at NORTH
    south_hold: str  # a reservation at SOUTH
    as_user: dict[str, dict[str, str]]  # user name -> the header signing a request in

    def get(self, user: str, path: str, **params: Any) -> Any:
        return self.client.get(f"{API}{path}", params=params, headers=self.as_user[user])

    def post(self, user: str, path: str, body: Any = None) -> Any:
        return self.client.post(f"{API}{path}", json=body or {}, headers=self.as_user[user])

    def patch(self, user: str, path: str, body: Any) -> Any:
        return self.client.patch(f"{API}{path}", json=body, headers=self.as_user[user])

    def put(self, user: str, path: str, body: Any) -> Any:
        return self.client.put(f"{API}{path}", json=body, headers=self.as_user[user])


USERS: dict[str, tuple[Role, tuple[str, ...], ScopeKind | None]] = {
    "admin-2": (Role.ADMIN, (), None),
    "shop1": (Role.MARKETPLACE, ("M1",), None),
    "shop2": (Role.MARKETPLACE, ("M2",), None),
    "north-3pl": (Role.THREE_PL, ("NORTH",), None),
    "south-3pl": (Role.THREE_PL, ("SOUTH",), None),
    "hq-team": (Role.WAREHOUSE, ("HQ",), ScopeKind.LOCATIONS),
    "north-desk": (Role.SALES, ("NORTH",), ScopeKind.LOCATIONS),
    "south-desk": (Role.SALES, ("SOUTH",), ScopeKind.LOCATIONS),
    "m2-desk": (Role.SALES, ("M2",), ScopeKind.CHANNELS),
    "warehouse": (Role.WAREHOUSE, (), None),
    "purchasing": (Role.PURCHASING, (), None),
}


def _capture(
    sf: Stockflow, channel: str, ship_to: str, *lines: tuple[str, int], customer: str | None = None
) -> str:
    priced = tuple(OrderLineIn(sku, qty, Decimal("3.00")) for sku, qty in lines)
    return sf.orders.capture(CaptureOrder(channel, priced, ship_to, customer=customer)).id


@pytest.fixture
def shop(sf: Stockflow) -> Iterator[Shop]:
    sf.add_locations([NewLocation(code, f"Site {code}") for code in SITES])
    sf.add_skus([NewSku("A", "Bolt", unit_price=Decimal("2.50")), NewSku("B", "Nut")])
    for site in SITES:
        receive(sf, "A", 10, site)
        receive(sf, "B", 5, site)
    for code, ship_from in (("M1", "NORTH"), ("M2", "SOUTH"), ("WEB", "HQ")):
        sf.orders.add_channel(
            NewChannel(code, f"Channel {code}", ship_from=(ship_from,), backorder_policy="reject")
        )
    for code in ("ANN", "BOB", "CAL"):
        sf.orders.add_customer(NewCustomer(code, f"Customer {code}", address=f"{code} Road, Hull"))
    north = _capture(sf, "M1", "1 North Street, Leeds", ("A", 2), customer="ANN")
    # Held: the address is incomplete.
    south = _capture(sf, "M2", "Nowhere", ("A", 3), customer="BOB")
    web = _capture(sf, "WEB", "9 High Street, London", ("A", 1), ("B", 1))
    north_hold = sf.reserve(Reserve((ReserveLine("B", 1, "NORTH"),))).id
    south_hold = sf.reserve(Reserve((ReserveLine("B", 2, "SOUTH"),))).id
    sf.db.run(
        lambda conn: raise_exception(
            conn, ExceptionKind.COUNT_VARIANCE, "HQ A-01 counted short", now=datetime.now(UTC)
        )
    )
    for name, (role, scope, kind) in USERS.items():
        sf.access.add_user(name, role, scope=scope, scope_kind=kind)
    headers = {name: bearer(sf.access.issue_token(name, "tests").secret) for name in USERS}
    with api_client(create_app(sf)) as client:
        yield Shop(client, sf, north, south, web, north_hold, south_hold, headers)


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def as_unknown(
    shop: Shop, user: str, path: str, hidden: str, *, method: str = "get", body: Any = None
) -> None:
    """``path`` (naming ``hidden``) answers ``user`` exactly as it does with an id nobody has."""
    nobody = "9" * len(hidden) if hidden.isdigit() else f"NO{hidden}"
    answers = [
        getattr(shop, method)(user, p, body) if method != "get" else shop.get(user, p)
        for p in (path, path.replace(hidden, nobody))
    ]
    found, expected = problem(answers[0], 404), problem(answers[1], 404)
    assert found == {**expected, "detail": expected["detail"].replace(nobody, hidden)}


def orders_of(shop: Shop, user: str, **params: Any) -> set[str]:
    return {o["id"] for o in ok(shop.get(user, "/orders", **params))["items"]}


def snapshot(sf: Stockflow) -> tuple[Any, ...]:
    """What a refused write must leave as it was: orders, positions, the ledger, exceptions."""
    with sf.db.read() as conn:
        order_rows = conn.execute(select(orders).order_by(orders.c.id)).all()
        moves = conn.execute(select(func.count()).select_from(stock_moves)).scalar_one()
    return (
        order_rows,
        sf.positions(),
        moves,
        sf.orders.exceptions(),
        [sf.reservation(r) for r in _reservation_ids(sf)],
    )


def _reservation_ids(sf: Stockflow) -> list[str]:
    with sf.db.read() as conn:
        return list(conn.execute(select(orders.c.reservation_id).order_by(orders.c.id)).scalars())


# marketplaces: their channels' orders, and ATP as their channels see it -----------------


def test_marketplace_lists_and_reads_only_its_channels_orders(shop: Shop) -> None:
    assert orders_of(shop, "shop1") == {shop.north_order}
    assert orders_of(shop, "shop2") == {shop.south_order}
    assert orders_of(shop, "shop1", channel="M2") == set()
    mine = ok(shop.get("shop1", f"/orders/{shop.north_order}"))
    assert (mine["channel"], mine["ship_to"]) == ("M1", "1 North Street, Leeds")
    assert Decimal(mine["lines"][0]["unit_price"]) == Decimal("3.00")
    as_unknown(shop, "shop1", f"/orders/{shop.south_order}", shop.south_order)
    as_unknown(shop, "shop2", f"/orders/{shop.web_order}", shop.web_order)


def test_marketplace_sees_only_its_channels(shop: Shop) -> None:
    assert [c["code"] for c in items(shop.get("shop1", "/channels"))] == ["M1"]
    assert ok(shop.get("shop2", "/channels/M2"))["ship_from"] == ["SOUTH"]
    as_unknown(shop, "shop1", "/channels/M2", "M2")
    assert [c["code"] for c in items(shop.get("admin-2", "/channels"))] == ["M1", "M2", "WEB"]


def test_capture_for_another_channel_is_refused_naming_it_and_writes_nothing(shop: Shop) -> None:
    before = snapshot(shop.sf)
    lines = [{"sku": "A", "qty": 1}]
    for channel in ("M2", "WEB", "NOSUCH"):
        body = {"channel": channel, "ship_to": "2 Side Street, York", "lines": lines}
        refused = problem(shop.post("shop1", "/orders", body), 403)
        assert refused["field"] == "channel"
        assert channel in refused["detail"]
    assert snapshot(shop.sf) == before
    trail = shop.sf.access.audit(actor="shop1")
    assert [(e.command, e.outcome) for e in trail] == [("POST /api/v1/orders", "denied")] * 3
    body = {"channel": "M1", "ship_to": "2 Side Street, York", "lines": lines}
    own = created(shop.post("shop1", "/orders", body))
    assert orders_of(shop, "shop1") == {shop.north_order, own["id"]}


def test_transitions_on_another_channels_orders_are_unknown_and_change_nothing(
    shop: Shop,
) -> None:
    before = snapshot(shop.sf)
    for action in ("cancel", "reallocate", "release-hold", "reject"):
        path = f"/orders/{shop.south_order}/{action}"
        as_unknown(shop, "shop1", path, shop.south_order, method="post", body={"reason": "no"})
    assert snapshot(shop.sf) == before
    # The order's own marketplace may: the hold is real, not what refused the others.
    assert ok(shop.post("shop2", f"/orders/{shop.south_order}/release-hold"))["status"] == (
        "allocated"
    )


def test_marketplace_atp_is_what_its_channel_would_be_allocated(shop: Shop) -> None:
    whole = ok(shop.get("admin-2", "/atp/A"))
    assert [x["location"] for x in whole["locations"]] == list(SITES)
    north = ok(shop.get("shop1", "/atp/A"))
    assert [x["location"] for x in north["locations"]] == ["NORTH"]
    assert north["available"] == 8  # 10 less M1's order of 2
    # Another channel's ring fence at NORTH is out of M1's reach; M1's own is not.
    ok(shop.put("admin-2", "/channels/WEB/fences/A/NORTH", {"qty": 3}))
    ok(shop.put("admin-2", "/channels/M1/fences/A/NORTH", {"qty": 2}))
    assert ok(shop.get("shop1", "/atp/A"))["available"] == 5
    assert [a["available"] for a in items(shop.get("shop1", "/atp", sku=["A", "B"]))] == [5, 4]
    assert ok(shop.get("admin-2", "/atp/A"))["locations"][1]["available"] == 8
    # Capture agrees: M1 can have those 5 and not one more.
    order = {"channel": "M1", "ship_to": "2 Side Street, York", "lines": [{"sku": "A", "qty": 6}]}
    problem(shop.post("shop1", "/orders", order), 409)
    order["lines"] = [{"sku": "A", "qty": 5}]
    assert created(shop.post("shop1", "/orders", order))["status"] == "allocated"
    assert ok(shop.get("shop1", "/atp/A"))["available"] == 0


def test_marketplace_reads_positions_of_its_sites_but_not_the_ledger(shop: Shop) -> None:
    positions = items(shop.get("shop2", "/positions"))
    assert {p["location"] for p in positions} == {"SOUTH"}
    problem(shop.get("shop2", "/positions", location="NORTH"), 404)
    for path in ("/moves", "/verify"):
        assert "ledger" in problem(shop.get("shop2", path), 403)["detail"]
    assert [loc["code"] for loc in items(shop.get("shop2", "/locations"))] == ["SOUTH"]


def test_a_channel_naming_no_ship_from_sees_every_sellable_site(shop: Shop) -> None:
    shop.sf.add_locations([NewLocation("TRUCK", "On the road", kind="in_transit")])
    shop.sf.orders.add_channel(NewChannel("M3", "Shop three"))
    shop.sf.access.add_user("shop3", Role.MARKETPLACE, scope=["M3"])
    shop.as_user["shop3"] = bearer(shop.sf.access.issue_token("shop3", "tests").secret)
    assert [loc["code"] for loc in items(shop.get("shop3", "/locations"))] == list(SITES)
    assert ok(shop.get("shop3", "/atp/A"))["available"] == 24
    assert orders_of(shop, "shop3") == set()


# 3PLs and teams limited to sites: stock there, and the orders they ship --------------


def test_three_pl_sees_stock_moves_and_atp_of_its_sites_only(shop: Shop) -> None:
    assert [loc["code"] for loc in items(shop.get("north-3pl", "/locations"))] == ["NORTH"]
    assert {b["code"] for b in items(shop.get("north-3pl", "/locations/NORTH/bins"))} == {"MAIN"}
    as_unknown(shop, "north-3pl", "/locations/SOUTH/bins", "SOUTH")
    assert {p["location"] for p in items(shop.get("north-3pl", "/positions"))} == {"NORTH"}
    outside = problem(shop.get("north-3pl", "/positions", location="SOUTH"), 404)
    unknown = problem(shop.get("north-3pl", "/positions", location="NOSOUTH"), 404)
    assert outside == {**unknown, "detail": unknown["detail"].replace("NOSOUTH", "SOUTH")}
    moves = ok(shop.get("north-3pl", "/moves"))["items"]
    assert all(
        "NORTH" in {(m.get("from") or {}).get("location"), (m.get("to") or {}).get("location")}
        for m in moves
    )
    assert len(moves) == 2  # its two receipts
    atp = ok(shop.get("north-3pl", "/atp/A"))
    assert [x["location"] for x in atp["locations"]] == ["NORTH"]
    assert (atp["on_hand"], atp["allocated"]) == (10, 2)
    assert ok(shop.get("north-3pl", "/verify")) == {"ok": True, "drift": []}


def test_three_pl_sees_the_orders_it_ships_without_prices(shop: Shop) -> None:
    assert orders_of(shop, "north-3pl") == {shop.north_order}
    assert orders_of(shop, "south-3pl") == {shop.south_order}
    as_unknown(shop, "north-3pl", f"/orders/{shop.south_order}", shop.south_order)
    seen = ok(shop.get("north-3pl", f"/orders/{shop.north_order}"))
    assert seen["value"] is None
    assert [ln["unit_price"] for ln in seen["lines"]] == [None]
    assert {s["unit_price"] for s in ok(shop.get("north-3pl", "/skus"))["items"]} == {None}
    assert ok(shop.get("north-3pl", "/skus/A"))["unit_price"] is None
    assert Decimal(ok(shop.get("shop1", "/skus/A"))["unit_price"]) == Decimal("2.50")
    # An order that gave its stock at NORTH back is no longer NORTH's to ship.
    shop.sf.orders.cancel(shop.north_order, reason="customer changed their mind")
    assert orders_of(shop, "north-3pl") == set()


def test_site_team_sees_and_changes_only_its_site(shop: Shop) -> None:
    assert orders_of(shop, "hq-team") == {shop.web_order}
    before = snapshot(shop.sf)
    move = {"sku": "A", "qty": 1, "reason": "move", "from": {"location": "HQ"}}
    refused = problem(shop.post("hq-team", "/moves", {**move, "to": {"location": "SOUTH"}}), 403)
    assert refused["field"] == "to.location"
    adjust = {"sku": "A", "location": "NORTH", "delta": -1, "note": "dropped"}
    assert problem(shop.post("hq-team", "/adjustments", adjust), 403)["field"] == "location"
    as_unknown(shop, "hq-team", "/skus/A/buffers/SOUTH", "SOUTH", method="put", body={"qty": 1})
    problem(shop.post("hq-team", "/locations", {"code": "EAST", "name": "East"}), 403)
    assert snapshot(shop.sf) == before
    created(shop.post("hq-team", "/adjustments", {**adjust, "location": "HQ"}))


# reservations ----------------------------------------------------------------------


def test_reservations_outside_the_sites_are_unknown_and_stay_as_they_were(shop: Shop) -> None:
    mine = ok(shop.get("north-desk", f"/reservations/{shop.north_hold}"))
    assert [a["location"] for a in mine["allocations"]] == ["NORTH"]
    as_unknown(shop, "north-desk", f"/reservations/{shop.south_hold}", shop.south_hold)
    before = shop.sf.reservation(shop.south_hold), shop.sf.positions(location="SOUTH")
    for action in ("release", "consume"):
        path = f"/reservations/{shop.south_hold}/{action}"
        as_unknown(shop, "north-desk", path, shop.south_hold, method="post", body={})
    assert (shop.sf.reservation(shop.south_hold), shop.sf.positions(location="SOUTH")) == before
    released = ok(shop.post("north-desk", f"/reservations/{shop.north_hold}/release"))
    assert released["open_qty"] == 0


def test_reserving_at_a_site_out_of_reach_is_refused_naming_the_line(shop: Shop) -> None:
    before = snapshot(shop.sf)
    for line, field in (
        ({"sku": "B", "qty": 1, "location": "SOUTH"}, "lines[1].location"),
        ({"sku": "B", "qty": 1}, "lines[1].location"),
    ):
        body = {"lines": [{"sku": "A", "qty": 1, "location": "NORTH"}, line]}
        assert problem(shop.post("north-desk", "/reservations", body), 403)["field"] == field
    assert snapshot(shop.sf) == before
    line = {"sku": "A", "qty": 1, "location": "NORTH"}
    made = created(shop.post("north-desk", "/reservations", {"lines": [line]}))
    assert ok(shop.get("north-desk", f"/reservations/{made['id']}"))["open_qty"] == 1
    # Without a scope, nothing changes: no location needed, any site served.
    assert created(shop.post("admin-2", "/reservations", {"lines": [{"sku": "B", "qty": 10}]}))


# exceptions ------------------------------------------------------------------------


def test_exceptions_follow_their_order(shop: Shop) -> None:
    everything = ok(shop.get("admin-2", "/exceptions"))["items"]
    held = next(e for e in everything if e["order_id"] == shop.south_order)
    orderless = next(e for e in everything if e["order_id"] is None)
    for user in ("south-desk", "m2-desk"):
        assert ok(shop.get(user, "/exceptions"))["items"] == [held]
    for user in ("north-desk", "hq-team"):
        assert ok(shop.get(user, "/exceptions"))["items"] == []
    before = snapshot(shop.sf)
    for user, hidden in (("north-desk", held["id"]), ("hq-team", orderless["id"])):
        for action in ("acknowledge", "resolve"):
            path = f"/exceptions/{hidden}/{action}"
            as_unknown(shop, user, path, str(hidden), method="post", body={})
    assert snapshot(shop.sf) == before
    acknowledged = ok(shop.post("south-desk", f"/exceptions/{held['id']}/acknowledge"))
    assert acknowledged["state"] == "acknowledged"


def test_customers_follow_their_orders(shop: Shop) -> None:
    def customers(user: str) -> list[str]:
        return [c["code"] for c in ok(shop.get(user, "/customers"))["items"]]

    assert customers("admin-2") == ["ANN", "BOB", "CAL"]
    assert customers("m2-desk") == ["BOB"]
    assert customers("north-desk") == ["ANN"]
    assert ok(shop.get("m2-desk", "/customers/BOB"))["address"] == "BOB Road, Hull"
    as_unknown(shop, "m2-desk", "/customers/ANN", "ANN")
    as_unknown(shop, "north-desk", "/customers/CAL", "CAL")


# field rules -----------------------------------------------------------------------


def test_only_the_roles_that_set_prices_may_send_one(shop: Shop) -> None:
    new = {"code": "C", "name": "Washer", "unit_price": "0.10"}
    assert problem(shop.post("warehouse", "/skus", new), 403)["field"] == "unit_price"
    problem(shop.get("admin-2", "/skus/C"), 404)
    assert problem(shop.patch("warehouse", "/skus/A", {"unit_price": "9.99"}), 403)["field"] == (
        "unit_price"
    )
    refused = shop.patch("warehouse", "/skus/A", {"active": False, "unit_price": "9.99"})
    problem(refused, 403)
    assert Decimal(ok(shop.get("admin-2", "/skus/A"))["unit_price"]) == Decimal("2.50")
    assert ok(shop.get("admin-2", "/skus/A"))["active"] is True
    # What a warehouse may do, it still does; a price comes from purchasing.
    created(shop.post("warehouse", "/skus", {"code": "C", "name": "Washer"}))
    assert ok(shop.patch("warehouse", "/skus/C", {"active": False}))["active"] is False
    priced = ok(shop.patch("purchasing", "/skus/C", {"unit_price": "0.10"}))
    assert Decimal(priced["unit_price"]) == Decimal("0.10")
    problem(shop.patch("purchasing", "/skus/C", {}), 422)


# callers without a scope ------------------------------------------------------------


def test_callers_without_a_scope_see_everything_as_before(shop: Shop) -> None:
    assert orders_of(shop, "admin-2") == {shop.north_order, shop.south_order, shop.web_order}
    assert [loc["code"] for loc in items(shop.get("admin-2", "/locations"))] == list(SITES)
    assert ok(shop.get("admin-2", "/atp/A"))["available"] == 24  # 30 less 2 + 3 + 1
    assert {p["location"] for p in items(shop.get("admin-2", "/positions"))} == set(SITES)
    assert len(ok(shop.get("admin-2", "/moves"))["items"]) == 6
    assert len(ok(shop.get("admin-2", "/exceptions"))["items"]) == 2
    web = ok(shop.get("admin-2", f"/orders/{shop.web_order}"))
    assert Decimal(web["value"]) == Decimal("6.00")
    assert Decimal(web["lines"][0]["unit_price"]) == Decimal("3.00")
    for hold in (shop.north_hold, shop.south_hold):
        assert ok(shop.get("admin-2", f"/reservations/{hold}"))["open_qty"] > 0
    problem(shop.get("admin-2", "/positions", location="NOWHERE"), 404)
