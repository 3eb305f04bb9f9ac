"""Scopes on the warehouse floor, over HTTP on SQLite and PostgreSQL.

A 3PL (or a warehouse team limited to a site) sees and works only the waves,
pick tasks and shipments of its own locations: the other site's are not in
its lists, and reading, printing or changing one answers exactly what an id
nobody has answers, with nothing changed. Callers without a scope see what
they always saw.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from scope_shop import (
    API,
    answers_as_unknown,
    capture,
    open_sites,
    packing,
    refused,
    shipped,
)
from stockflow.adapters.tables import packages, tracking_events
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.floor.picking import WaveRequest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BOX = {"weight_g": 900, "length_mm": 300, "width_mm": 200, "height_mm": 100}


@dataclass(frozen=True)
class Site:
    """One site's floor: a shipped order, a shipment being packed, an open wave, a ready order."""

    shipped_order: str
    shipment: str
    tracking_no: str
    packing: str
    wave: str
    task: int
    ready_order: str


@dataclass(frozen=True)
class Floor:
    client: TestClient
    sf: Stockflow
    who: dict[str, dict[str, str]]
    sites: dict[str, Site]


def _site(sf: Stockflow, code: str) -> Site:
    order_id, shipment_id = shipped(sf, code)
    being_packed = packing(sf, code)
    waiting = capture(sf, code)
    wave = sf.floor.build_wave(WaveRequest(code, order_ids=(waiting,)))
    assert wave is not None
    ready = capture(sf, code)
    return Site(order_id, shipment_id, f"T-{code}", being_packed, wave.id, wave.tasks[0].id, ready)


@pytest.fixture
def floor(sf: Stockflow) -> Iterator[Floor]:
    who = open_sites(sf)
    sites = {code: _site(sf, code) for code in ("HAM", "CGN")}
    with TestClient(create_app(sf)) as client:
        yield Floor(client, sf, who, sites)


def test_a_3pl_lists_and_reads_only_the_waves_and_shipments_of_its_site(floor: Floor) -> None:
    client, ham, cgn = floor.client, floor.sites["HAM"], floor.sites["CGN"]
    for name in ("tpl-ham", "team-ham"):
        mine = client.get(f"{API}/waves", headers=floor.who[name]).json()["items"]
        assert {w["location"] for w in mine} == {"HAM"}, name
        assert {w["id"] for w in mine} >= {ham.wave}
        wanted = {"location": "CGN"}
        assert client.get(f"{API}/waves", params=wanted, headers=floor.who[name]).json() == {
            "items": [],
            "next": None,
        }
    everything = client.get(f"{API}/waves", headers=floor.who["boss"]).json()["items"]
    assert {w["location"] for w in everything} == {"HAM", "CGN"}

    tpl = floor.who["tpl-ham"]
    assert client.get(f"{API}/waves/{ham.wave}", headers=tpl).status_code == 200
    assert client.get(f"{API}/shipments/{ham.tracking_no}", headers=tpl).status_code == 200
    pdf = client.get(f"{API}/shipments/{ham.shipment}/label.pdf", headers=tpl)
    assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
    for path, hidden, unknown in (
        ("/waves/{}", cgn.wave, "W-GHOST"),
        ("/waves/{}/pick-list.pdf", cgn.wave, "W-GHOST"),
        ("/shipments/{}", cgn.shipment, "S-GHOST"),
        ("/shipments/{}", cgn.tracking_no, "T-GHOST"),
        ("/shipments/{}/packing-slip.pdf", cgn.shipment, "S-GHOST"),
        ("/shipments/{}/label.pdf", cgn.shipment, "S-GHOST"),
    ):
        answers_as_unknown(client, tpl, "GET", path, hidden, unknown)
        answers_as_unknown(client, floor.who["team-ham"], "GET", path, hidden, unknown)


def test_a_3pl_cannot_work_the_other_sites_floor_and_nothing_changes(floor: Floor) -> None:
    client, sf, cgn = floor.client, floor.sf, floor.sites["CGN"]
    tpl = floor.who["tpl-ham"]
    answers_as_unknown(
        client, tpl, "POST", "/pick-tasks/{}/confirm", str(cgn.task), "999999", json={"picked": 1}
    )
    assert sf.floor.wave(cgn.wave).tasks[0].status == "open"
    answers_as_unknown(
        client, tpl, "POST", "/shipments/{}/packages", cgn.packing, "S-GHOST", json=BOX
    )
    answers_as_unknown(
        client, tpl, "POST", "/shipments/{}/ship", cgn.packing, "S-GHOST", json={"carrier": "flat"}
    )
    answers_as_unknown(
        client, tpl, "POST", "/shipments/{}/tracking", cgn.tracking_no, "T-GHOST",
        json={"status": "delivered"},
    )  # fmt: skip
    assert sf.floor.shipment(cgn.packing).status == "packing"
    assert sf.floor.shipment(cgn.shipment).status == "shipped"
    with sf.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(tracking_events)).scalar_one() == 0
        boxes = select(func.count()).where(packages.c.shipment_id == cgn.packing)
        assert conn.execute(boxes).scalar_one() == 0

    picked_order = sf.floor.shipment(cgn.packing).order_id
    answers_as_unknown(
        client, tpl, "POST", "/orders/{}/pack", picked_order, "O-GHOST", json={"barcode": "B"}
    )
    ready = client.post(f"{API}/orders/release", json={"order_ids": [cgn.ready_order]}, headers=tpl)
    ghost = client.post(f"{API}/orders/release", json={"order_ids": ["O-GHOST"]}, headers=tpl)
    assert ready.status_code == 404, ready.text
    assert ready.json() == {**ghost.json(), "detail": f"no order {cgn.ready_order!r}"}
    assert sf.orders.order(cgn.ready_order).status == "allocated"
    for elsewhere in ("CGN", "NOWHERE"):  # the same answer whether or not it exists
        refused(client.post(f"{API}/waves", json={"location": elsewhere}, headers=tpl), "location")
    named = {"location": "HAM", "order_ids": [cgn.ready_order]}
    assert client.post(f"{API}/waves", json=named, headers=tpl).status_code == 404
    assert sf.orders.order(cgn.ready_order).status == "allocated"
    assert len(client.get(f"{API}/waves", headers=floor.who["boss"]).json()["items"]) == 6


def test_a_3pl_works_its_own_site_end_to_end(floor: Floor) -> None:
    client, ham = floor.client, floor.sites["HAM"]
    tpl = floor.who["tpl-ham"]
    assert client.post(
        f"{API}/orders/release", json={"order_ids": [ham.ready_order]}, headers=tpl
    ).json() == [ham.ready_order]
    wave = client.post(f"{API}/waves", json={"location": "HAM"}, headers=tpl)
    assert wave.status_code == 201, wave.text
    for task in wave.json()["tasks"]:
        done = client.post(
            f"{API}/pick-tasks/{task['id']}/confirm", json={"picked": task["qty"]}, headers=tpl
        )
        assert done.status_code == 200, done.text
    parcel = client.post(
        f"{API}/orders/{ham.ready_order}/pack", json={"barcode": "A", "qty": 2}, headers=tpl
    )
    assert parcel.status_code == 200, parcel.text
    sid = parcel.json()["id"]
    assert client.post(f"{API}/shipments/{sid}/packages", json=BOX, headers=tpl).status_code == 200
    gone = client.post(f"{API}/shipments/{sid}/ship", json={"carrier": "flat"}, headers=tpl)
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "shipped"
    assert gone.json()["amount"] == str(floor.sf.floor.shipment(sid).amount)  # booked by the 3PL
    assert client.get(f"{API}/verify", headers=floor.who["boss"]).json()["drift"] == []


def test_the_carriers_charge_is_set_and_seen_by_whoever_books_the_carrier(floor: Floor) -> None:
    client, sf, ham = floor.client, floor.sf, floor.sites["HAM"]
    path = f"{API}/shipments/{ham.shipment}"
    for name in ("boss", "wh", "tpl-ham", "sales"):
        assert client.get(path, headers=floor.who[name]).json()["amount"] == "7.50", name
    boxed = client.post(
        f"{API}/shipments/{ham.packing}/packages", json=BOX, headers=floor.who["wh"]
    )
    assert boxed.status_code == 200, boxed.text
    hand = {"carrier": "manual", "tracking_no": "HAND-1", "amount": "5.00"}
    booked = client.post(
        f"{API}/shipments/{ham.packing}/ship", json=hand, headers=floor.who["tpl-ham"]
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["amount"] == "5.00"
    assert sf.floor.shipment(ham.packing).amount == Decimal("5.00")


def test_customer_service_of_one_channel_sees_only_its_channels_shipments(floor: Floor) -> None:
    client, ham, cgn = floor.client, floor.sites["HAM"], floor.sites["CGN"]
    shop = floor.who["sales-shop"]
    assert client.get(f"{API}/shipments/{cgn.shipment}", headers=shop).status_code == 200
    answers_as_unknown(client, shop, "GET", "/shipments/{}", ham.shipment, "S-GHOST")
    answers_as_unknown(client, shop, "GET", "/shipments/{}/packing-slip.pdf", ham.shipment, "S-X")
