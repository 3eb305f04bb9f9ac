"""Partners hear only of their own business: real events, through the stream and webhooks alike.

Two sites run by two 3PLs, two suppliers and two channels (``scope_shop``) each
sell, ship, take back and buy. Every partner is then told of some events, and
every event it is told of is its own: its site's, its channel's, its supplier's.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from event_helpers import relay_now
from scope_shop import OTHER, SITES, open_sites, purchase, returning, shipped
from stockflow.adapters.tables import users, webhook_deliveries
from stockflow.bootstrap import Stockflow
from stockflow.events.rules import Envelope
from stockflow.events.stream import after, by_ids
from stockflow.events.webhooks import fan_out
from stockflow.receiving.rules.purchasing import ReceiptLineIn, Receive
from stockflow.stock.principals import active_principals
from stockflow.stock.rules.access import Principal, Role

PARTNERS = {  # caller -> the side of its scope, and its own code
    "tpl-ham": ("locations", "HAM"),
    "tpl-cgn": ("locations", "CGN"),
    "acme": ("suppliers", "ACME"),
    "bolt": ("suppliers", "BOLT"),
}


@pytest.fixture
def busy(sf: Stockflow) -> Stockflow:
    open_sites(sf)
    for site in SITES:
        shipped(sf, site)
        returning(sf, site)
        sku = SITES[site][0]
        sf.receiving.receive(Receive((ReceiptLineIn(sku, 10),), po_id=purchase(sf, site)))
    sf.access.add_user("mkt-web", Role.MARKETPLACE, scope=["WEB"])
    return sf


def principal(sf: Stockflow, name: str) -> Principal:
    with sf.db.read() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar_one()
        return active_principals(conn, [user_id])[user_id]


def told_by_stream(sf: Stockflow, name: str) -> list[Envelope]:
    return sf.events.page(principal(sf, name), 0, patterns=("*",), limit=1000).events


def told_by_webhook(sf: Stockflow, name: str) -> list[Envelope]:
    sub = sf.webhooks.subscribe(name, f"http://127.0.0.1:9/{name}", ["*"]).subscription
    with sf.db.read() as conn:
        everything = after(conn, 0, limit=10_000)
    sf.db.run(lambda conn: fan_out(conn, everything, sf.clock()))
    with sf.db.read() as conn:
        ids = conn.execute(
            select(webhook_deliveries.c.event_id).where(
                webhook_deliveries.c.subscription_id == sub.id
            )
        ).scalars()
        return by_ids(conn, list(ids))


def own(envelope: Envelope, side: str, code: str) -> bool:
    return code in (envelope.scope or {}).get(side, ())


@pytest.mark.parametrize("name", sorted(PARTNERS))
def test_a_partner_is_told_of_its_own_events_and_of_no_one_elses(
    busy: Stockflow, name: str
) -> None:
    relay_now(busy)
    side, code = PARTNERS[name]
    for told in (told_by_stream(busy, name), told_by_webhook(busy, name)):
        assert told, f"{name} was told nothing"
        strangers = [e for e in told if not own(e, side, code)]
        assert not strangers, f"{name} was told of {[(e.topic, e.key) for e in strangers]}"
    if side == "locations":  # a 3PL hears of its site's orders and stock, not the other site's
        topics = {e.topic for e in told_by_stream(busy, name)}
        assert {"order.captured", "order.shipped"} <= topics
        other = OTHER[code]
        assert not any(other in str(e.key) for e in told_by_stream(busy, name))


def test_a_marketplace_hears_of_its_channels_orders_only(busy: Stockflow) -> None:
    relay_now(busy)
    for told in (told_by_stream(busy, "mkt-web"), told_by_webhook(busy, "mkt-web")):
        assert told
        assert all(own(e, "channels", "WEB") for e in told)
        assert all(e.topic.startswith("order.") for e in told)
