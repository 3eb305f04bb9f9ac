"""A day of partners working through the API side by side, none seeing another's business.

The shop is ours: WH1 is our own DC, WH2 is run by a 3PL. Two marketplaces
sell through channels MKT (shipped from WH2) and MKT2 (shipped from WH1);
SUP1 delivers to WH2 and SUP2 to WH1. Each partner signs in with its own
token and works its own part of the day over HTTP: the marketplaces capture
orders, the suppliers announce deliveries, the 3PLs receive, put away, pick,
pack and ship. Whatever a partner asks about that is not its own is answered
exactly as if it did not exist, prices and costs it may not see read null,
and at the end of the day the audit trail and the ledger name each partner
for what it did.
"""

from __future__ import annotations

import io
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client, bearer, created, problem, token_for
from order_shop import assert_books_balance
from stockflow.adapters.tables import asns, orders, receipts
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
ADDRESS = "Coolsingel 40, Rotterdam"


@dataclass
class Caller:
    """One signed-in user of the shared test client: every request carries its own token."""

    http: TestClient
    name: str
    token: str

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(f"{API}{path}", params=params, headers=bearer(self.token))

    def post(self, path: str, body: Any = None, *, key: str | None = None) -> Any:
        """POST ``body``; ``key`` is its Idempotency-Key."""
        headers = bearer(self.token) | ({"Idempotency-Key": key} if key else {})
        return self.http.post(f"{API}{path}", json=body, headers=headers)

    def ok(self, path: str, **params: Any) -> Any:
        """The JSON of a 200 answer to a GET."""
        resp = self.get(path, **params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def listed(self, path: str, **params: Any) -> list[Any]:
        """Every item of a list, walked page by page (a small page, to walk a few)."""
        found: list[Any] = []
        cursor = None
        while True:
            page = self.ok(path, limit=2, **params, **({"cursor": cursor} if cursor else {}))
            found.extend(page["items"])
            if page["next"] is None:
                return found
            cursor = page["next"]

    def done(self, path: str, body: Any = None) -> Any:
        """The JSON of a 200 answer to a POST."""
        resp = self.post(path, body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def make(self, path: str, body: Any, *, key: str | None = None) -> dict[str, Any]:
        """The JSON of a 201 answer to a POST."""
        return created(self.post(path, body, key=key))

    def token_id(self) -> int:
        """The id of the one token this user holds."""
        tokens = self.listed("/tokens")
        assert [t["prefix"] for t in tokens] == [self.token[: len(tokens[0]["prefix"])]]
        found: int = tokens[0]["id"]
        return found


@dataclass
class Day:
    """The ids of what the day has made so far."""

    web_order: str = ""
    mkt_orders: list[str] = field(default_factory=list)  # M1, M2
    mkt2_order: str = ""
    po1: str = ""  # SUP1 -> WH2
    po2: str = ""  # SUP2 -> WH1
    asn1: str = ""
    asn2: str = ""
    receipt_wh1: str = ""
    receipt_wh2: str = ""
    wave_wh1: str = ""
    wave_wh2: str = ""
    tasks_wh1: list[int] = field(default_factory=list)
    tasks_wh2: list[int] = field(default_factory=list)
    shipment_wh1: str = ""
    tracking_wh1: str = ""
    shipments_wh2: list[str] = field(default_factory=list)


@pytest.fixture
def http(sf: Stockflow) -> Iterator[TestClient]:
    with api_client(create_app(sf)) as client:
        yield client


def sign_in(sf: Stockflow, http: TestClient, name: str) -> Caller:
    """User ``name``, who exists by now, signed in with a fresh token of its own."""
    assert any(u.name == name for u in sf.access.users())
    return Caller(http, name, token_for(sf, name))


def unknown_alike(caller: Caller, path: str, real_id: str, made_up: str) -> None:
    """Reading ``real_id`` answers 404 word for word as ``made_up``, which does not exist."""
    hidden = problem(caller.get(path.format(real_id)), 404)
    unknown = problem(caller.get(path.format(made_up)), 404)
    assert _masked(hidden, real_id) == _masked(unknown, made_up)


def _masked(body: dict[str, Any], word: str) -> dict[str, Any]:
    return {k: v.replace(word, "<id>") if isinstance(v, str) else v for k, v in body.items()}


def count(sf: Stockflow, table: Any) -> int:
    with sf.db.read() as conn:
        found: int = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return found


def pdf_text(resp: Any) -> str:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.content)).pages)


def order_body(channel: str, external_id: str, *lines: tuple[Any, ...]) -> dict[str, Any]:
    """An order of ``(sku, qty)`` or ``(sku, qty, unit price)`` lines."""
    return {
        "channel": channel,
        "external_id": external_id,
        "ship_to": ADDRESS,
        "lines": [dict(zip(("sku", "qty", "unit_price"), line, strict=False)) for line in lines],
    }


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


# the story -----------------------------------------------------------------------------------


def test_partners_work_a_day_through_the_api_and_never_see_each_other(
    sf: Stockflow, http: TestClient
) -> None:
    admin = sign_in(sf, http, "admin")
    day = Day()
    the_admin_opens_the_shop(admin, day)
    the_admin_lets_the_partners_in(admin)
    tpl = sign_in(sf, http, "tpl")
    tpl2 = sign_in(sf, http, "tpl2")
    mkt = sign_in(sf, http, "mkt")
    mkt2 = sign_in(sf, http, "mkt2")
    sup = sign_in(sf, http, "sup")
    sup2 = sign_in(sf, http, "sup2")

    the_marketplaces_sell(sf, admin, mkt, mkt2, day)
    the_suppliers_announce_their_deliveries(sf, admin, sup, sup2, day)
    our_dc_partner_works_wh1(sf, tpl2, day)
    the_3pl_receives_at_wh2(tpl, mkt, day)
    the_3pl_picks_packs_and_ships_the_marketplace_orders(tpl, mkt, day)
    the_3pl_sees_only_wh2_and_no_money(sf, tpl, tpl2, day)
    the_audit_names_each_partner_for_each_write(admin, tpl, mkt, mkt2, sup, sup2, tpl2, day)
    the_ledger_names_the_3pl(admin, tpl, tpl2)
    assert admin.ok("/verify") == {"ok": True, "drift": []}
    assert_books_balance(sf)


def the_admin_opens_the_shop(admin: Caller, day: Day) -> None:
    """Two sites with bins and stock, two SKUs with list prices, three channels, two POs."""
    for code, name, price in (("TEE", "T-shirt", "12.50"), ("MUG", "Mug", "8.00")):
        admin.make("/skus", {"code": code, "name": name, "unit_price": price})
    for site, name, bins in (("WH1", "Our DC", ("A-01", "A-02")), ("WH2", "3PL", ("P-01", "P-02"))):
        admin.make("/locations", {"code": site, "name": name})
        for n, bin_code in enumerate(bins, start=1):
            admin.make(
                f"/locations/{site}/bins", {"code": bin_code, "zone": bin_code[0], "sequence": n}
            )
    for sku, qty, site, bin_code in (
        ("TEE", 20, "WH1", "A-01"), ("MUG", 10, "WH1", "A-02"),
        ("TEE", 6, "WH2", "P-01"), ("MUG", 4, "WH2", "P-02"),
    ):  # fmt: skip
        admin.make(
            "/moves",
            {
                "sku": sku,
                "qty": qty,
                "reason": "receipt",
                "to": {"location": site, "bin": bin_code},
            },
        )
    for code, kind, site in (("WEB", "web", "WH1"), ("MKT", "marketplace", "WH2"),
                             ("MKT2", "marketplace", "WH1")):  # fmt: skip
        admin.make("/channels", {"code": code, "name": code, "kind": kind, "ship_from": [site]})
    admin.make("/suppliers", {"code": "SUP1", "lead_time_days": 5})
    admin.make("/suppliers", {"code": "SUP2", "lead_time_days": 7})
    po1 = admin.make(
        "/purchase-orders",
        {"supplier": "SUP1", "location": "WH2", "lines": [
            {"sku": "TEE", "qty": 10, "unit_cost": "4.20"},
            {"sku": "MUG", "qty": 5, "unit_cost": "2.50"},
        ]},
    )  # fmt: skip
    po2 = admin.make(
        "/purchase-orders",
        {"supplier": "SUP2", "location": "WH1",
         "lines": [{"sku": "MUG", "qty": 12, "unit_cost": "2.40"}]},
    )  # fmt: skip
    assert (po1["total_cost"], po1["expected_on"]) == ("54.5000", in_days(5))
    assert (po2["total_cost"], po2["expected_on"]) == ("28.8000", in_days(7))
    day.po1, day.po2 = po1["id"], po2["id"]
    web = admin.make("/orders", order_body("WEB", "W-1", ("TEE", 2)))
    assert (web["status"], web["value"]) == ("allocated", "25.0000")
    day.web_order = web["id"]


PARTNERS = {
    "tpl": ("three_pl", "locations", ["WH2"]),
    "tpl2": ("three_pl", "locations", ["WH1"]),
    "mkt": ("marketplace", "channels", ["MKT"]),
    "mkt2": ("marketplace", "channels", ["MKT2"]),
    "sup": ("supplier", "supplier", ["SUP1"]),
    "sup2": ("supplier", "supplier", ["SUP2"]),
}


def the_admin_lets_the_partners_in(admin: Caller) -> None:
    """Each partner a user of its role, limited to its sites, channel or supplier."""
    for name, (role, kind, scope) in PARTNERS.items():
        user = admin.make("/users", {"name": name, "role": role, "scope": scope})
        assert (user["role"], user["scope_kind"], user["scope"]) == (role, kind, scope)
    limited = admin.post("/users", {"name": "sup3", "role": "supplier", "scope": ["NOBODY"]})
    assert problem(limited, 404)["field"] == "scope[0]"


def the_marketplaces_sell(
    sf: Stockflow, admin: Caller, mkt: Caller, mkt2: Caller, day: Day
) -> None:
    """Each marketplace captures on its own channel and sees its own orders and stock only."""
    m1 = mkt.make("/orders", order_body("MKT", "MKT-1001", ("TEE", 2, "11.90"), ("MUG", 1, "7.50")))
    assert (m1["channel"], m1["status"], m1["value"]) == ("MKT", "allocated", "31.3000")
    # WH2 has 3 mugs left for MKT and PO1 brings 5 more there: the order waits for them.
    m2 = mkt.make("/orders", order_body("MKT", "MKT-1002", ("MUG", 5)))
    assert (m2["status"], m2["promise_date"]) == ("backordered", in_days(5))
    n1 = mkt2.make("/orders", order_body("MKT2", "MKT2-77", ("MUG", 2)))
    assert (n1["channel"], n1["status"]) == ("MKT2", "allocated")
    day.mkt_orders, day.mkt2_order = [m1["id"], m2["id"]], n1["id"]

    assert [o["id"] for o in mkt.ok("/orders")["items"]] == [m2["id"], m1["id"]]
    assert mkt.ok("/orders", channel="MKT2")["items"] == []
    assert mkt.ok("/orders", channel="WEB")["items"] == []
    assert [o["id"] for o in mkt2.ok("/orders")["items"]] == [n1["id"]]
    assert [ln["unit_price"] for ln in mkt.ok(f"/orders/{m1['id']}")["lines"]] == [
        "11.9000",
        "7.5000",
    ]
    for other in (n1["id"], day.web_order):
        unknown_alike(mkt, "/orders/{}", other, uuid.uuid4().hex)
    unknown_alike(mkt2, "/orders/{}", m1["id"], uuid.uuid4().hex)
    cancel = mkt.post(f"/orders/{n1['id']}/cancel", {"reason": "not ours to cancel"})
    assert problem(cancel, 404)["title"] == "Unknown order"
    assert mkt2.ok(f"/orders/{n1['id']}")["status"] == "allocated"

    before = count(sf, orders)
    refused = problem(mkt.post("/orders", order_body("WEB", "W-2", ("TEE", 1))), 403)
    assert refused["field"] == "channel"
    nowhere = problem(mkt.post("/orders", order_body("NOPE", "N-1", ("TEE", 1))), 403)
    assert nowhere["field"] == "channel"
    assert count(sf, orders) == before == 4
    assert [o["external_id"] for o in admin.ok("/orders", channel="WEB")["items"]] == ["W-1"]

    # ATP as each marketplace sees it: the sites its channel ships from, nothing else.
    tee = mkt.ok("/atp/TEE")
    assert [
        (a["location"], a["on_hand"], a["allocated"], a["available"]) for a in tee["locations"]
    ] == [("WH2", 6, 2, 4)]
    assert (tee["on_hand"], tee["available"]) == (6, 4)
    mugs = mkt2.ok("/atp/MUG")
    assert [(a["location"], a["on_hand"], a["allocated"]) for a in mugs["locations"]] == [
        ("WH1", 10, 2)
    ]
    assert {p["location"] for p in mkt.listed("/positions")} == {"WH2"}
    assert {p["location"] for p in mkt2.listed("/positions")} == {"WH1"}
    first = mkt.ok("/orders", limit=1)
    assert [o["id"] for o in first["items"]] == [m2["id"]]
    rest = mkt.ok("/orders", limit=1, cursor=first["next"])
    assert [o["id"] for o in rest["items"]] == [m1["id"]]
    assert [c["code"] for c in mkt.listed("/channels")] == ["MKT"]
    unknown_alike(mkt, "/channels/{}", "MKT2", "NOPE")


def the_suppliers_announce_their_deliveries(
    sf: Stockflow, admin: Caller, sup: Caller, sup2: Caller, day: Day
) -> None:
    """Each supplier sees its own purchase order, with its costs, and announces against it."""
    listed = sup.ok("/purchase-orders")["items"]
    assert [p["id"] for p in listed] == [day.po1]
    assert [(ln["sku"], ln["qty"], ln["unit_cost"]) for ln in listed[0]["lines"]] == [
        ("TEE", 10, "4.2000"),
        ("MUG", 5, "2.5000"),
    ]
    assert listed[0]["total_cost"] == "54.5000"
    assert [p["id"] for p in sup2.ok("/purchase-orders")["items"]] == [day.po2]
    assert [s["code"] for s in sup.listed("/suppliers")] == ["SUP1"]
    unknown_alike(sup, "/suppliers/{}", "SUP2", "NOBODY")
    assert sup.ok("/skus/TEE")["unit_price"] is None
    unknown_alike(sup, "/purchase-orders/{}", day.po2, "PO-NONE0000")
    unknown_alike(sup2, "/purchase-orders/{}", day.po1, "PO-NONE0000")

    asn1 = sup.make(
        "/asns",
        {"po_id": day.po1, "reference": "SUP1-DN-77",
         "lines": [{"po_line_no": 1, "qty": 10}, {"po_line_no": 2, "qty": 5}]},
    )  # fmt: skip
    assert (asn1["po_id"], [(ln["sku"], ln["qty"]) for ln in asn1["lines"]]) == (
        day.po1,
        [("TEE", 10), ("MUG", 5)],
    )
    before = count(sf, asns)
    wrong = sup.post("/asns", {"po_id": day.po2, "lines": [{"po_line_no": 1, "qty": 12}]})
    assert problem(wrong, 404)["field"] == "po_id"
    ghost = sup.post("/asns", {"po_id": "PO-NONE0000", "lines": [{"po_line_no": 1, "qty": 12}]})
    assert _masked(wrong.json(), day.po2) == _masked(ghost.json(), "PO-NONE0000")
    assert count(sf, asns) == before == 1
    asn2 = sup2.make("/asns", {"po_id": day.po2, "lines": [{"po_line_no": 1, "qty": 12}]})
    day.asn1, day.asn2 = asn1["id"], asn2["id"]
    assert sup.ok(f"/asns/{day.asn1}")["reference"] == "SUP1-DN-77"
    unknown_alike(sup, "/asns/{}", day.asn2, "ASN-NONE0000")
    assert admin.ok(f"/purchase-orders/{day.po2}")["lines"][0]["received"] == 0


def our_dc_partner_works_wh1(sf: Stockflow, tpl2: Caller, day: Day) -> None:
    """The partner at WH1 takes in SUP2's mugs and ships the web order."""
    before = count(sf, receipts)
    elsewhere = {"asn_id": day.asn1, "lines": [{"sku": "TEE", "received_qty": 10}]}
    assert problem(tpl2.post("/receipts", elsewhere), 404)["field"] == "asn_id"
    assert count(sf, receipts) == before == 0
    receipt = tpl2.make(
        "/receipts", {"asn_id": day.asn2, "lines": [{"sku": "MUG", "received_qty": 12}]}
    )
    assert (receipt["location"], receipt["po_id"], receipt["actor"]) == ("WH1", day.po2, "tpl2")
    day.receipt_wh1 = receipt["id"]
    assert tpl2.done("/orders/release", {"order_ids": [day.web_order]}) == [day.web_order]
    wave = tpl2.make("/waves", {"location": "WH1", "order_ids": [day.web_order]})
    assert [(t["bin"], t["sku"], t["qty"], t["order_id"]) for t in wave["tasks"]] == [
        ("A-01", "TEE", 2, day.web_order)
    ]
    day.wave_wh1, day.tasks_wh1 = wave["id"], [t["id"] for t in wave["tasks"]]
    tpl2.done(f"/pick-tasks/{wave['tasks'][0]['id']}/confirm", {"picked": 2})
    shipment = tpl2.done(f"/orders/{day.web_order}/pack", {"barcode": "TEE", "qty": 2})
    day.shipment_wh1 = shipment["id"]
    tpl2.done(f"/shipments/{shipment['id']}/packages", _box(400))
    shipped = tpl2.done(f"/shipments/{shipment['id']}/ship", {"carrier": "flat"})
    assert (shipped["location"], shipped["status"]) == ("WH1", "shipped")
    day.tracking_wh1 = shipped["tracking_no"]


def _box(weight_g: int) -> dict[str, int]:
    return {"weight_g": weight_g, "length_mm": 300, "width_mm": 200, "height_mm": 100}


def the_3pl_receives_at_wh2(tpl: Caller, mkt: Caller, day: Day) -> None:
    """The 3PL books SUP1's delivery in against the ASN and puts it away; the backorder fills."""
    assert tpl.ok(f"/asns/{day.asn1}")["po_id"] == day.po1
    receipt = tpl.make(
        "/receipts",
        {"asn_id": day.asn1, "lines": [
            {"sku": "TEE", "received_qty": 10}, {"sku": "MUG", "received_qty": 5},
        ]},
        key="dock-door-3",
    )  # fmt: skip
    assert (receipt["location"], receipt["po_id"], receipt["asn_id"], receipt["actor"]) == (
        "WH2",
        day.po1,
        day.asn1,
        "tpl",
    )
    assert [(ln["sku"], ln["expected"], ln["received"]) for ln in receipt["lines"]] == [
        ("TEE", 10, 10),
        ("MUG", 5, 5),
    ]
    assert receipt["discrepancies"] == []
    day.receipt_wh2 = receipt["id"]
    m2 = mkt.ok(f"/orders/{day.mkt_orders[1]}")
    assert (m2["status"], m2["lines"][0]["allocated"]) == ("allocated", 5)

    for sku, qty, bin_code in (("TEE", 10, "P-01"), ("MUG", 5, "P-02")):
        put = tpl.make("/putaway", {"location": "WH2", "sku": sku, "qty": qty, "to_bin": bin_code})
        assert (put["from_bin"], put["to_bin"], put["qty"]) == ("DOCK", bin_code, qty)
    held = {(p["sku"], p["bin"]): (p["on_hand"], p["allocated"]) for p in tpl.listed("/positions")
            if p["on_hand"]}  # fmt: skip
    assert held == {("TEE", "P-01"): (16, 2), ("MUG", "P-02"): (9, 6)}


def the_3pl_picks_packs_and_ships_the_marketplace_orders(
    tpl: Caller, mkt: Caller, day: Day
) -> None:
    """One wave at WH2 for both MKT orders: picked in walking order, packed, shipped, labelled."""
    m1, m2 = day.mkt_orders
    assert tpl.done("/orders/release", {"order_ids": [m1, m2]}) == sorted([m1, m2])
    wave = tpl.make("/waves", {"location": "WH2"})
    assert [t["bin"] for t in wave["tasks"]] == ["P-01", "P-02", "P-02"]  # walking order
    assert sorted((t["bin"], t["sku"], t["qty"], t["order_id"]) for t in wave["tasks"]) == sorted(
        [("P-01", "TEE", 2, m1), ("P-02", "MUG", 1, m1), ("P-02", "MUG", 5, m2)]
    )
    day.wave_wh2, day.tasks_wh2 = wave["id"], [t["id"] for t in wave["tasks"]]
    assert "P-02" in pdf_text(tpl.get(f"/waves/{wave['id']}/pick-list.pdf"))
    for task in wave["tasks"]:
        picked = tpl.done(f"/pick-tasks/{task['id']}/confirm", {"picked": task["qty"]})
        assert (picked["picked"], picked["short"]) == (task["qty"], 0)
    assert tpl.ok(f"/waves/{wave['id']}")["status"] == "done"

    # The 3PL books the carriers and sees what they charge: M1 at the flat rate for a
    # 900 g parcel, M2 by hand at the price the carrier quoted it.
    bookings = (
        (m1, (("TEE", 2), ("MUG", 1)), {"carrier": "flat"}, "10.90"),
        (m2, (("MUG", 5),), {"carrier": "manual", "tracking_no": "PNL-0042", "amount": "6.95"},
         "6.95"),
    )  # fmt: skip
    for order_id, scans, booking, charged in bookings:
        for barcode, qty in scans:
            shipment = tpl.done(f"/orders/{order_id}/pack", {"barcode": barcode, "qty": qty})
        tpl.done(f"/shipments/{shipment['id']}/packages", _box(900))
        shipped = tpl.done(f"/shipments/{shipment['id']}/ship", booking)
        assert (shipped["order_id"], shipped["location"], shipped["status"]) == (
            order_id,
            "WH2",
            "shipped",
        )
        assert shipped["items"] == [
            {"line_no": n, "sku": sku, "qty": qty} for n, (sku, qty) in enumerate(scans, start=1)
        ]
        assert (shipped["carrier"], shipped["amount"]) == (booking["carrier"], charged)
        assert shipped["tracking_no"] in pdf_text(tpl.get(f"/shipments/{shipment['id']}/label.pdf"))
        slip = pdf_text(tpl.get(f"/shipments/{shipment['id']}/packing-slip.pdf"))
        assert order_id in slip
        assert "11.9" not in slip  # what the marketplace sold it for
        day.shipments_wh2.append(shipment["id"])
    assert [mkt.ok(f"/orders/{o}")["status"] for o in (m1, m2)] == ["shipped", "shipped"]


def the_3pl_sees_only_wh2_and_no_money(sf: Stockflow, tpl: Caller, tpl2: Caller, day: Day) -> None:
    """Lists hold WH2's business only, WH1's is unknown; prices and purchase costs read null."""
    assert {p["location"] for p in tpl.listed("/positions")} == {"WH2"}
    assert [w["id"] for w in tpl.listed("/waves")] == [day.wave_wh2]
    assert [w["id"] for w in tpl2.listed("/waves")] == [day.wave_wh1]
    assert {o["id"] for o in tpl.ok("/orders")["items"]} == set(day.mkt_orders)
    assert {o["id"] for o in tpl2.ok("/orders")["items"]} == {day.web_order, day.mkt2_order}
    for path, real, made_up in (
        ("/waves/{}", day.wave_wh1, "W-NONE0000"),
        ("/waves/{}/pick-list.pdf", day.wave_wh1, "W-NONE0000"),
        ("/shipments/{}", day.shipment_wh1, "S-NONE000000"),
        ("/shipments/{}/packing-slip.pdf", day.shipment_wh1, "S-NONE000000"),
        ("/shipments/{}/label.pdf", day.shipment_wh1, "S-NONE000000"),
        ("/shipments/{}", day.tracking_wh1, "FLAT-NONE000"),
        ("/locations/{}/bins", "WH1", "NOPE"),
        ("/receipts/{}", day.receipt_wh1, "R-NONE0000"),
        ("/orders/{}", day.web_order, uuid.uuid4().hex),
        ("/orders/{}", day.mkt2_order, uuid.uuid4().hex),
        ("/purchase-orders/{}", day.po2, "PO-NONE0000"),
        ("/asns/{}", day.asn2, "ASN-NONE0000"),
    ):
        unknown_alike(tpl, path, real, made_up)
    for path, real, made_up in (
        ("/waves/{}", day.wave_wh2, "W-NONE0000"),
        ("/shipments/{}", day.shipments_wh2[0], "S-NONE000000"),
        ("/receipts/{}", day.receipt_wh2, "R-NONE0000"),
    ):
        unknown_alike(tpl2, path, real, made_up)
    # The other 3PL's dock happens to send the same key: no answer from WH2's books.
    before = count(sf, receipts)
    blind = {"location": "WH1", "lines": [{"sku": "TEE", "received_qty": 10}]}
    reused = tpl2.post("/receipts", blind, key="dock-door-3")
    assert problem(reused, 409)["field"] == "Idempotency-Key"
    assert day.receipt_wh2 not in reused.text
    assert count(sf, receipts) == before == 2
    assert problem(tpl.post("/waves", {"location": "WH1"}), 403)["field"] == "location"
    for path, body, at_fault in (  # WH1's work, as if it did not exist
        (f"/orders/{day.mkt2_order}/pack", {"barcode": "MUG"}, "order_id"),
        ("/orders/release", {"order_ids": [day.mkt2_order]}, "order_id"),
        (f"/pick-tasks/{day.tasks_wh1[0]}/confirm", {"picked": 1}, "task"),
        (f"/shipments/{day.shipment_wh1}/packages", _box(100), "shipment"),
        (f"/shipments/{day.tracking_wh1}/tracking", {"status": "delivered"}, "shipment"),
    ):
        assert problem(tpl.post(path, body), 404)["field"] == at_fault, path
    hint = tpl.get("/putaway/suggestion", location="WH1", sku="MUG", qty=1)
    assert problem(hint, 403)["field"] == "location"
    assert [x["code"] for x in tpl.listed("/locations")] == ["WH2"]
    assert [[a["location"] for a in x["locations"]] for x in tpl.listed("/atp")] == [["WH2"]] * 2

    for o in tpl.ok("/orders")["items"]:
        assert o["value"] is None
        assert {ln["unit_price"] for ln in o["lines"]} == {None}
    assert {ln["unit_price"] for ln in tpl.ok(f"/orders/{day.mkt_orders[0]}")["lines"]} == {None}
    pos = tpl.ok("/purchase-orders")["items"]
    assert [(p["id"], p["status"], p["total_cost"]) for p in pos] == [(day.po1, "received", None)]
    assert [(ln["sku"], ln["received"], ln["unit_cost"]) for ln in pos[0]["lines"]] == [
        ("TEE", 10, None),
        ("MUG", 5, None),
    ]
    assert tpl.ok(f"/purchase-orders/{day.po1}")["lines"][0]["unit_cost"] is None
    assert tpl.ok("/skus/TEE")["unit_price"] is None


def the_audit_names_each_partner_for_each_write(
    admin: Caller, tpl: Caller, mkt: Caller, mkt2: Caller, sup: Caller, sup2: Caller,
    tpl2: Caller, day: Day,
) -> None:  # fmt: skip
    """Every write a partner made is in the trail under its name, token and command, in order."""
    partners = (tpl, mkt, mkt2, sup, sup2, tpl2)
    for partner in partners:
        problem(partner.get("/audit"), 403)
    m1, m2 = day.mkt_orders
    wh1_ship, (m1_ship, m2_ship) = day.shipment_wh1, day.shipments_wh2
    expected: dict[str, list[tuple[str, dict[str, str]]]] = {
        "mkt": [("POST /api/v1/orders", {})] * 2,
        "mkt2": [("POST /api/v1/orders", {})],
        "sup": [("POST /api/v1/asns", {})],
        "sup2": [("POST /api/v1/asns", {})],
        "tpl2": [
            ("POST /api/v1/receipts", {}),
            ("POST /api/v1/orders/release", {}),
            ("POST /api/v1/waves", {}),
            *map(_picked, day.tasks_wh1),
            _packed(day.web_order),
            *_shipped(wh1_ship),
        ],
        "tpl": [
            ("POST /api/v1/receipts", {}),
            ("POST /api/v1/putaway", {}),
            ("POST /api/v1/putaway", {}),
            ("POST /api/v1/orders/release", {}),
            ("POST /api/v1/waves", {}),
            *map(_picked, day.tasks_wh2),
            _packed(m1), _packed(m1), *_shipped(m1_ship),
            _packed(m2), *_shipped(m2_ship),
        ],
    }  # fmt: skip
    for partner in partners:
        trail = list(reversed(admin.ok("/audit", actor=partner.name, limit=1000)["items"]))
        assert {(e["actor"], e["role"], e["via"], e["token_id"]) for e in trail} == {
            (partner.name, PARTNERS[partner.name][0], "token", partner.token_id())
        }
        done = [(e["command"], _target(e)) for e in trail if e["outcome"] == "done"]
        assert done == expected[partner.name], partner.name
        assert ("GET /api/v1/audit", "denied") in {(e["command"], e["outcome"]) for e in trail}


def _target(entry: dict[str, Any]) -> dict[str, str]:
    """What an audit entry touched, by the ids in its path."""
    return {k: v for k, v in entry["target"].items() if k != "events"}


def _picked(task_id: int) -> tuple[str, dict[str, str]]:
    return ("POST /api/v1/pick-tasks/{task_id}/confirm", {"task_id": str(task_id)})


def _packed(order_id: str) -> tuple[str, dict[str, str]]:
    return ("POST /api/v1/orders/{order_id}/pack", {"order_id": order_id})


def _shipped(shipment_id: str) -> list[tuple[str, dict[str, str]]]:
    return [
        ("POST /api/v1/shipments/{shipment_id}/packages", {"shipment_id": shipment_id}),
        ("POST /api/v1/shipments/{shipment_id}/ship", {"shipment_id": shipment_id}),
    ]


def the_ledger_names_the_3pl(admin: Caller, tpl: Caller, tpl2: Caller) -> None:
    """Each 3PL moves stock under its name and reads its own site's ledger, nothing else."""
    ledger = list(reversed(admin.ok("/moves", limit=1000)["items"]))
    wh1, wh2 = _at(ledger, "WH1"), _at(ledger, "WH2")
    assert [(m["reason"], m["sku"], m["qty"], m["actor"]) for m in wh1] == [
        ("receipt", "TEE", 20, "admin"), ("receipt", "MUG", 10, "admin"),
        ("receipt", "MUG", 12, "tpl2"), ("pick", "TEE", 2, "tpl2"), ("ship", "TEE", 2, "tpl2"),
    ]  # fmt: skip
    assert [(m["reason"], m["sku"], m["qty"], m["actor"]) for m in wh2[:2]] == [
        ("receipt", "TEE", 6, "admin"), ("receipt", "MUG", 4, "admin"),
    ]  # fmt: skip
    assert {m["actor"] for m in wh2[2:]} == {"tpl"}
    assert sorted((m["reason"], m["sku"], m["qty"]) for m in wh2[2:]) == sorted(
        [
            ("receipt", "TEE", 10), ("receipt", "MUG", 5),
            ("putaway", "TEE", 10), ("putaway", "MUG", 5),
            ("pick", "TEE", 2), ("pick", "MUG", 1), ("pick", "MUG", 5),
            ("ship", "TEE", 2), ("ship", "MUG", 1), ("ship", "MUG", 5),
        ]
    )  # fmt: skip
    for partner, own in ((tpl, wh2), (tpl2, wh1)):
        seen = partner.ok("/moves", limit=1000)["items"]
        assert [m["id"] for m in seen] == [m["id"] for m in reversed(own)], partner.name


def _at(moves: list[dict[str, Any]], site: str) -> list[dict[str, Any]]:
    """The moves into or out of a site."""
    return [m for m in moves if site in {(m[end] or {}).get("location") for end in ("from", "to")}]
