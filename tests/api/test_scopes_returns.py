"""Scopes on returns, over HTTP on SQLite and PostgreSQL.

An RMA belongs to the site its units come back to (and, for customer
service limited to channels, to its order's channel). A 3PL authorises
returns only of orders that were its business and only back to its own
sites. The suggested refund is made of prices: roles that do not see prices
read null.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from scope_shop import API, answers_as_unknown, open_sites, refused, returning, shipped
from stockflow.adapters.tables import rmas
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

REASON = {"reason": "wrong size", "lines": [{"line_no": 1, "qty": 1}]}


@dataclass(frozen=True)
class Returns:
    client: TestClient
    sf: Stockflow
    who: dict[str, dict[str, str]]
    rmas: dict[str, str]  # an authorised RMA per site
    orders: dict[str, str]  # another order shipped from each site, nothing authorised yet


@pytest.fixture
def returns(sf: Stockflow) -> Iterator[Returns]:
    who = open_sites(sf)
    authorised = {site: returning(sf, site)[1] for site in ("HAM", "CGN")}
    fresh = {site: shipped(sf, site)[0] for site in ("HAM", "CGN")}
    with TestClient(create_app(sf)) as client:
        yield Returns(client, sf, who, authorised, fresh)


def count_rmas(sf: Stockflow) -> int:
    with sf.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(rmas)).scalar_one())


def test_a_3pl_sees_and_works_only_the_returns_coming_back_to_its_site(returns: Returns) -> None:
    client, sf = returns.client, returns.sf
    tpl = returns.who["tpl-ham"]
    ham, cgn = returns.rmas["HAM"], returns.rmas["CGN"]
    assert [r["id"] for r in client.get(f"{API}/returns", headers=tpl).json()["items"]] == [ham]
    mine = client.get(f"{API}/returns/{ham}", headers=tpl)
    assert mine.status_code == 200, mine.text
    assert mine.json()["refund_suggested"] is None  # made of prices a 3PL does not see
    answers_as_unknown(client, tpl, "GET", "/returns/{}", cgn, "RMA-GHOST")
    for step, sent in (
        ("receive", {"lines": [{"line_no": 1, "qty": 1}]}),
        ("inspect", {"line_no": 1, "disposition": "restock"}),
        ("close", None),
        ("cancel", None),
    ):
        answers_as_unknown(
            client, tpl, "POST", f"/returns/{{}}/{step}", cgn, "RMA-GHOST", json=sent
        )
    theirs = sf.returns.rma(cgn)
    assert theirs.status == "authorised"
    assert [(ln.received, ln.inspected) for ln in theirs.lines] == [(0, 0)]

    received = client.post(
        f"{API}/returns/{ham}/receive", json={"lines": [{"line_no": 1, "qty": 1}]}, headers=tpl
    )
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "received"


def test_a_3pl_authorises_returns_of_its_own_orders_back_to_its_own_site(returns: Returns) -> None:
    client, sf = returns.client, returns.sf
    tpl = returns.who["tpl-ham"]
    before = count_rmas(sf)
    theirs = returns.orders["CGN"]
    answers_as_unknown(client, tpl, "POST", "/orders/{}/returns", theirs, "O-GHOST", json=REASON)
    elsewhere = {**REASON, "location": "CGN"}
    refused(
        client.post(f"{API}/orders/{returns.orders['HAM']}/returns", json=elsewhere, headers=tpl),
        "location",
    )
    assert count_rmas(sf) == before
    made = client.post(f"{API}/orders/{returns.orders['HAM']}/returns", json=REASON, headers=tpl)
    assert made.status_code == 201, made.text
    assert made.json()["location"] == "HAM"
    assert count_rmas(sf) == before + 1


def test_customer_service_sees_refunds_and_a_channel_limit_holds(returns: Returns) -> None:
    client = returns.client
    ham, cgn = returns.rmas["HAM"], returns.rmas["CGN"]
    for name in ("sales", "boss"):
        listed = client.get(f"{API}/returns", headers=returns.who[name]).json()["items"]
        assert {r["id"]: r["refund_suggested"] for r in listed} == {ham: "4.00", cgn: "4.00"}
    shop = returns.who["sales-shop"]
    assert [r["id"] for r in client.get(f"{API}/returns", headers=shop).json()["items"]] == [cgn]
    answers_as_unknown(client, shop, "GET", "/returns/{}", ham, "RMA-GHOST")
    answers_as_unknown(
        client, shop, "POST", "/orders/{}/returns", returns.orders["HAM"], "O-GHOST", json=REASON
    )
