"""Scopes on transfers and cycle counts, over HTTP on SQLite and PostgreSQL.

A transfer is a site's business when it leaves from or arrives at it; a 3PL
ships only from its own sites and receives only what arrives there. A count
belongs to its location.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from scope_shop import API, answers_as_unknown, open_sites, refused
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.transfers.rules import TransferLineIn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class Sites:
    client: TestClient
    sf: Stockflow
    who: dict[str, dict[str, str]]
    to_cgn: str  # HAM -> CGN: both 3PLs see it
    to_muc: str  # CGN -> MUC: only CGN's
    counts: dict[str, str]  # a count of each site's S-01


@pytest.fixture
def sites(sf: Stockflow) -> Iterator[Sites]:
    who = open_sites(sf)
    week = sf.clock().date() + timedelta(days=7)
    to_cgn = sf.transfers.ship(
        from_location="HAM", to_location="CGN", lines=[TransferLineIn("A", 3)], expected_on=week
    )
    to_muc = sf.transfers.ship(
        from_location="CGN", to_location="MUC", lines=[TransferLineIn("B", 2)], expected_on=week
    )
    counts = {
        site: sf.counts.create(location=site, scope=CountScope("bins", bins=("S-01",))).id
        for site in ("HAM", "CGN")
    }
    with TestClient(create_app(sf)) as client:
        yield Sites(client, sf, who, to_cgn.id, to_muc.id, counts)


def test_a_transfer_is_seen_from_either_end(sites: Sites) -> None:
    client = sites.client
    listed = {
        name: [
            t["id"] for t in client.get(f"{API}/transfers", headers=sites.who[name]).json()["items"]
        ]
        for name in ("tpl-ham", "tpl-cgn", "boss")
    }
    assert listed == {
        "tpl-ham": [sites.to_cgn],
        "tpl-cgn": [sites.to_muc, sites.to_cgn],
        "boss": [sites.to_muc, sites.to_cgn],
    }
    tpl = sites.who["tpl-ham"]
    assert client.get(f"{API}/transfers/{sites.to_cgn}", headers=tpl).status_code == 200
    answers_as_unknown(client, tpl, "GET", "/transfers/{}", sites.to_muc, "TR-GHOST")
    wanted = {"location": "MUC"}
    assert client.get(f"{API}/transfers", params=wanted, headers=tpl).json()["items"] == []


def test_a_3pl_ships_from_and_receives_at_its_own_sites_only(sites: Sites) -> None:
    client, sf = sites.client, sites.sf
    tpl_ham, tpl_cgn = sites.who["tpl-ham"], sites.who["tpl-cgn"]
    arrived = {"lines": [{"line_no": 1, "received": 3}]}
    # HAM sent it and sees it, but it arrives at CGN: not HAM's to receive.
    answers_as_unknown(
        client, tpl_ham, "POST", "/transfers/{}/receive", sites.to_cgn, "TR-GHOST", json=arrived
    )
    assert sf.transfers.transfer(sites.to_cgn).status == "in_transit"
    on_hand = {(p.location, p.sku): p.on_hand for p in sf.positions()}
    week = (sf.clock().date() + timedelta(days=7)).isoformat()
    body = {"from": "CGN", "to": "HAM", "expected_on": week, "lines": [{"sku": "B", "qty": 1}]}
    refused(client.post(f"{API}/transfers", json=body, headers=tpl_ham), "from")
    assert {(p.location, p.sku): p.on_hand for p in sf.positions()} == on_hand
    assert len(client.get(f"{API}/transfers", headers=sites.who["boss"]).json()["items"]) == 2

    own = {**body, "from": "HAM", "to": "MUC", "lines": [{"sku": "A", "qty": 1}]}
    sent = client.post(f"{API}/transfers", json=own, headers=tpl_ham)
    assert sent.status_code == 201, sent.text
    got = client.post(f"{API}/transfers/{sites.to_cgn}/receive", json=arrived, headers=tpl_cgn)
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "received"


def test_a_3pl_counts_only_at_its_own_sites(sites: Sites) -> None:
    client, sf = sites.client, sites.sf
    tpl = sites.who["tpl-ham"]
    ham, cgn = sites.counts["HAM"], sites.counts["CGN"]
    mine = client.get(f"{API}/counts", headers=tpl).json()["items"]
    assert [c["id"] for c in mine] == [ham]
    assert (
        client.get(f"{API}/counts", params={"location": "CGN"}, headers=tpl).json()["items"] == []
    )
    for path in ("/counts/{}", "/counts/{}/sheet"):
        answers_as_unknown(client, tpl, "GET", path, cgn, "CC-GHOST")
    for path, sent in (
        ("/counts/{}/lines/1/count", {"counted": 1}),
        ("/counts/{}/found", {"bin": "S-01", "sku": "A", "counted": 1}),
        ("/counts/{}/lines/1/approve", None),
        ("/counts/{}/lines/1/reject", None),
        ("/counts/{}/cancel", None),
    ):
        answers_as_unknown(client, tpl, "POST", path, cgn, "CC-GHOST", json=sent)
    untouched = sf.counts.count(cgn)
    assert untouched.status == "open"
    assert [(ln.status, ln.counted) for ln in untouched.lines] == [("open", None)]
    body = {"location": "CGN", "scope": {"kind": "bins", "bins": ["S-01"]}}
    refused(client.post(f"{API}/counts", json=body, headers=tpl), "location")
    assert len(sf.counts.counts()) == 2

    counted = client.post(f"{API}/counts/{ham}/lines/1/count", json={"counted": 50}, headers=tpl)
    assert counted.status_code == 200, counted.text
    day = sf.clock().date().isoformat()
    kpis = {"start": day, "end": day}
    assert [
        a["location"]
        for a in client.get(f"{API}/counts/accuracy", params=kpis, headers=tpl).json()["items"]
    ] == ["HAM"]
    theirs = client.get(f"{API}/counts/accuracy", params={**kpis, "location": "CGN"}, headers=tpl)
    assert theirs.json() == {"items": [], "next": None}
