"""Scopes in purchasing and receiving, over HTTP on SQLite and PostgreSQL.

A supplier sees itself, its own purchase orders and their ASNs, and
announces deliveries only against its own orders. A 3PL sees the purchase
orders delivering to its sites and receives, puts away and decides on
quarantine only there. Unit costs are shown only to roles that see costs and
taken only from roles that set them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from scope_shop import API, answers_as_unknown, open_sites, purchase, refused
from stockflow.adapters.tables import asns, home_bins, purchase_orders, receipts
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.receiving.rules.purchasing import AsnLineIn, NewAsn, ReceiptLineIn, Receive
from stockflow.stock.rules.access import PERMISSIONS, Action, Permission, Resource, Role

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class Site:
    """One site's purchasing: a PO, an ASN against it, a receipt with one damaged unit."""

    po: str
    asn: str
    receipt: str


@dataclass(frozen=True)
class Buying:
    client: TestClient
    sf: Stockflow
    who: dict[str, dict[str, str]]
    sites: dict[str, Site]


def _site(sf: Stockflow, code: str) -> Site:
    po_id = purchase(sf, code)
    asn = sf.receiving.add_asn(NewAsn(po_id, (AsnLineIn(1, 6),)))
    sku = "A" if code == "HAM" else "B"
    receipt = sf.receiving.receive(Receive((ReceiptLineIn(sku, 6, 1),), asn_id=asn.id))
    return Site(po_id, asn.id, receipt.id)


@pytest.fixture
def buying(sf: Stockflow) -> Iterator[Buying]:
    who = open_sites(sf)
    sites = {code: _site(sf, code) for code in ("HAM", "CGN")}
    with TestClient(create_app(sf)) as client:
        yield Buying(client, sf, who, sites)


def rows(sf: Stockflow, table: Any) -> int:
    with sf.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_supplier_sees_itself_its_own_orders_and_their_asns(buying: Buying) -> None:
    client, ham, cgn = buying.client, buying.sites["HAM"], buying.sites["CGN"]
    acme = buying.who["acme"]
    suppliers = client.get(f"{API}/suppliers", headers=acme).json()["items"]
    assert [s["code"] for s in suppliers] == ["ACME"]
    assert client.get(f"{API}/suppliers/ACME", headers=acme).status_code == 200
    answers_as_unknown(client, acme, "GET", "/suppliers/{}", "BOLT", "GHOST")
    every = client.get(f"{API}/suppliers", headers=buying.who["tpl-ham"]).json()["items"]
    assert [s["code"] for s in every] == ["ACME", "BOLT"]  # suppliers are not a site's

    page = client.get(f"{API}/purchase-orders", headers=acme).json()
    assert [(p["id"], p["supplier"]) for p in page["items"]] == [(ham.po, "ACME")]
    assert page["items"][0]["lines"][0]["unit_cost"] == "1.2500"  # its own price
    theirs = client.get(f"{API}/purchase-orders", params={"supplier": "BOLT"}, headers=acme)
    assert theirs.json()["items"] == []
    assert client.get(f"{API}/purchase-orders/{ham.po}", headers=acme).status_code == 200
    answers_as_unknown(client, acme, "GET", "/purchase-orders/{}", cgn.po, "PO-GHOST")
    assert client.get(f"{API}/asns/{ham.asn}", headers=acme).status_code == 200
    answers_as_unknown(client, acme, "GET", "/asns/{}", cgn.asn, "ASN-GHOST")


def test_a_supplier_announces_deliveries_only_against_its_own_orders(buying: Buying) -> None:
    client, sf, ham, cgn = buying.client, buying.sf, buying.sites["HAM"], buying.sites["CGN"]
    acme = buying.who["acme"]
    before = rows(sf, asns)
    line = {"lines": [{"po_line_no": 1, "qty": 2}]}
    theirs = client.post(f"{API}/asns", json={**line, "po_id": cgn.po}, headers=acme)
    ghost = client.post(f"{API}/asns", json={**line, "po_id": "PO-GHOST"}, headers=acme)
    assert theirs.status_code == 404, theirs.text
    assert theirs.json() == {**ghost.json(), "detail": f"no purchase order {cgn.po!r}"}
    assert rows(sf, asns) == before
    mine = client.post(f"{API}/asns", json={**line, "po_id": ham.po}, headers=acme)
    assert mine.status_code == 201, mine.text
    assert rows(sf, asns) == before + 1


def test_a_buyer_limited_to_a_supplier_changes_only_its_orders(buying: Buying) -> None:
    client, sf, cgn = buying.client, buying.sf, buying.sites["CGN"]
    buyer = buying.who["buyer-acme"]
    for step in ("close", "cancel"):
        answers_as_unknown(client, buyer, "POST", f"/purchase-orders/{{}}/{step}", cgn.po, "PO-X")
    assert sf.receiving.purchase_order(cgn.po).status == "partially_received"
    before = rows(sf, purchase_orders)
    body = {
        "supplier": "BOLT",
        "location": "CGN",
        "lines": [{"sku": "B", "qty": 1, "unit_cost": "1"}],
    }
    refused(client.post(f"{API}/purchase-orders", json=body, headers=buyer), "supplier")
    mine = client.post(f"{API}/purchase-orders", json={**body, "supplier": "ACME"}, headers=buyer)
    assert mine.status_code == 201, mine.text
    assert rows(sf, purchase_orders) == before + 1
    answers_as_unknown(client, buyer, "GET", "/receipts/{}", cgn.receipt, "R-GHOST")


def test_a_3pl_sees_the_orders_and_receipts_of_its_site_without_costs(buying: Buying) -> None:
    client, ham, cgn = buying.client, buying.sites["HAM"], buying.sites["CGN"]
    tpl = buying.who["tpl-ham"]
    page = client.get(f"{API}/purchase-orders", headers=tpl).json()["items"]
    assert [(p["id"], p["total_cost"], p["lines"][0]["unit_cost"]) for p in page] == [
        (ham.po, None, None)
    ]
    answers_as_unknown(client, tpl, "GET", "/purchase-orders/{}", cgn.po, "PO-GHOST")
    assert client.get(f"{API}/asns/{ham.asn}", headers=tpl).status_code == 200
    answers_as_unknown(client, tpl, "GET", "/asns/{}", cgn.asn, "ASN-GHOST")
    assert client.get(f"{API}/receipts/{ham.receipt}", headers=tpl).status_code == 200
    answers_as_unknown(client, tpl, "GET", "/receipts/{}", cgn.receipt, "R-GHOST")

    seen = {}
    for name in ("boss", "buyer", "wh", "tpl-ham", "acme"):
        got = client.get(f"{API}/purchase-orders/{ham.po}", headers=buying.who[name]).json()
        seen[name] = (got["total_cost"], got["lines"][0]["unit_cost"])
    assert seen == {
        "boss": ("12.5000", "1.2500"),
        "buyer": ("12.5000", "1.2500"),
        "wh": (None, None),
        "tpl-ham": (None, None),
        "acme": ("12.5000", "1.2500"),
    }
    every = client.get(f"{API}/purchase-orders", headers=buying.who["wh"]).json()["items"]
    assert {p["id"] for p in every} == {ham.po, cgn.po}


def test_a_3pl_receives_puts_away_and_decides_quarantine_only_at_its_site(buying: Buying) -> None:
    client, sf, ham, cgn = buying.client, buying.sf, buying.sites["HAM"], buying.sites["CGN"]
    tpl = buying.who["tpl-ham"]
    stock_before = [(p.location, p.bin, p.on_hand) for p in sf.positions()]
    receipts_before = rows(sf, receipts)
    line = [{"sku": "B", "received_qty": 1}]
    for sent, ghost, field in (
        ({"po_id": cgn.po}, {"po_id": "PO-GHOST"}, "po_id"),
        ({"asn_id": cgn.asn}, {"asn_id": "ASN-GHOST"}, "asn_id"),
    ):
        hidden = client.post(f"{API}/receipts", json={**sent, "lines": line}, headers=tpl)
        unknown = client.post(f"{API}/receipts", json={**ghost, "lines": line}, headers=tpl)
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["field"] == field
        assert hidden.json() == {**unknown.json(), "detail": hidden.json()["detail"]}
        assert next(iter(sent.values())) in hidden.json()["detail"]
    blind = {"location": "CGN", "lines": line}
    refused(client.post(f"{API}/receipts", json=blind, headers=tpl), "location")
    move = {"location": "CGN", "sku": "B", "qty": 1, "to_bin": "S-01"}
    refused(client.post(f"{API}/putaway", json=move, headers=tpl), "location")
    wanted = {"location": "CGN", "sku": "B", "qty": 1}
    refused(client.get(f"{API}/putaway/suggestion", params=wanted, headers=tpl), "location")
    decision = {"location": "CGN", "sku": "B", "qty": 1, "note": "fine", "to_bin": "S-01"}
    refused(client.post(f"{API}/quarantine/release", json=decision, headers=tpl), "location")
    del decision["to_bin"]
    refused(client.post(f"{API}/quarantine/scrap", json=decision, headers=tpl), "location")
    answers_as_unknown(
        client, tpl, "PUT", "/locations/{}/home-bins/B", "CGN", "NOWHERE", json={"bin": "S-01"}
    )
    assert [(p.location, p.bin, p.on_hand) for p in sf.positions()] == stock_before
    assert rows(sf, receipts) == receipts_before
    assert rows(sf, home_bins) == 0

    own = {"po_id": ham.po, "lines": [{"sku": "A", "received_qty": 4}]}
    assert client.post(f"{API}/receipts", json=own, headers=tpl).status_code == 201
    move = {"location": "HAM", "sku": "A", "qty": 4, "to_bin": "S-01"}
    assert client.post(f"{API}/putaway", json=move, headers=tpl).status_code == 201
    home = client.put(f"{API}/locations/HAM/home-bins/A", json={"bin": "S-01"}, headers=tpl)
    assert home.status_code == 200, home.text
    decision = {"location": "HAM", "sku": "A", "qty": 1, "note": "fine", "to_bin": "S-01"}
    assert client.post(f"{API}/quarantine/release", json=decision, headers=tpl).status_code == 201
    assert client.get(f"{API}/verify", headers=buying.who["boss"]).json()["drift"] == []


def test_unit_costs_are_refused_from_a_role_that_may_not_set_them(
    buying: Buying, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only roles that set costs may place purchase orders today; were another given the
    permission, its unit costs would still be refused by name."""
    client, sf = buying.client, buying.sf
    grant = Permission(Resource.PURCHASING, Action.WRITE)
    monkeypatch.setitem(PERMISSIONS, Role.WAREHOUSE, PERMISSIONS[Role.WAREHOUSE] | {grant})
    before = rows(sf, purchase_orders)
    body = {
        "supplier": "ACME",
        "location": "HAM",
        "lines": [
            {"sku": "A", "qty": 1, "unit_cost": "1.00"},
            {"sku": "A", "qty": 2, "unit_cost": "2"},
        ],
    }
    refused(
        client.post(f"{API}/purchase-orders", json=body, headers=buying.who["wh"]),
        "lines[0].unit_cost",
    )
    assert rows(sf, purchase_orders) == before
    placed = client.post(f"{API}/purchase-orders", json=body, headers=buying.who["buyer"])
    assert placed.status_code == 201, placed.text
    assert placed.json()["total_cost"] == "5.0000"
    assert sf.receiving.purchase_order(placed.json()["id"]).total_cost == Decimal("5.00")
