"""A subscription is told only what its owner may see, judged when each event fans out.

Three partners (a 3PL, a marketplace, a supplier) and a manager subscribe to
everything; the stream carries each partner's events, another partner's,
and some that name no partner at all. Each partner's endpoint receives its
own and nothing else; the manager receives everything. A stopped owner's
subscription is told nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stockflow.adapters.tables import webhook_deliveries
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel
from stockflow.receiving.rules.purchasing import NewSupplier
from stockflow.stock.rules.access import PARTNER_SCOPE, Role, ScopeKind
from stockflow.stock.rules.catalogue import NewLocation
from webhook_kit import Spec, dispatcher, drain, receiver, stream

OWN = {Role.THREE_PL: "P3L", Role.MARKETPLACE: "PMKT", Role.SUPPLIER: "PSUP"}
SIDE = {
    ScopeKind.LOCATIONS: "locations",
    ScopeKind.CHANNELS: "channels",
    ScopeKind.SUPPLIER: "suppliers",
}

STREAM = [
    Spec("stock.freed", "position", "A@P3L", {"locations": ["P3L"]}),
    Spec("stock.freed", "position", "A@OTHER", {"locations": ["OTHER"]}),
    Spec("order.captured", "order", "SO-1", {"channels": ["PMKT"], "locations": ["P3L"]}),
    Spec("order.captured", "order", "SO-2", {"channels": ["OMKT"], "locations": ["OTHER"]}),
    Spec("order.cancelled", "order", "SO-3", {"channels": ["OMKT"], "locations": ["P3L"]}),
    Spec("replenishment.suggested", "sku", "A", {"suppliers": ["PSUP"], "locations": ["P3L"]}),
    Spec("replenishment.suggested", "sku", "B", {"suppliers": ["OSUP"]}),
    Spec("exception.raised", "exception", "7", None),
]


@pytest.fixture
def partners(sf: Stockflow) -> dict[Role, int]:
    """A subscription to everything for each partner and a manager: its id by role."""
    sf.add_locations([NewLocation("P3L", "Partner site"), NewLocation("OTHER", "Other site")])
    for code in ("PMKT", "OMKT"):
        sf.orders.add_channel(NewChannel(code, f"Channel {code}"))
    for code in ("PSUP", "OSUP"):
        sf.receiving.add_supplier(NewSupplier(code, f"Supplier {code}"))
    subs = {}
    for role in (Role.THREE_PL, Role.MARKETPLACE, Role.SUPPLIER, Role.MANAGER):
        name = f"{role}-user"
        sf.access.add_user(name, role, scope=[OWN[role]] if role in OWN else [])
        made = sf.webhooks.subscribe(name, "http://127.0.0.1:9/hook", ["*"])
        subs[role] = made.subscription.id
    return subs


def told(sf: Stockflow, sub_id: int) -> list[int]:
    with sf.db.read() as conn:
        return sorted(
            conn.execute(
                select(webhook_deliveries.c.event_id).where(
                    webhook_deliveries.c.subscription_id == sub_id
                )
            ).scalars()
        )


@pytest.mark.parametrize("role", [Role.THREE_PL, Role.MARKETPLACE, Role.SUPPLIER])
def test_a_partner_is_told_of_its_own_events_and_never_of_another_partners(
    sf: Stockflow, partners: dict[Role, int], role: Role
) -> None:
    sent = {e.id: e for e in stream(sf, STREAM)}
    own_side, own_code = SIDE[PARTNER_SCOPE[role]], OWN[role]
    got = told(sf, partners[role])
    assert got  # each partner has something of its own in the stream
    for event_id in got:
        scope = sent[event_id].scope
        assert scope is not None
        assert own_code in scope[own_side], (role, sent[event_id])
    # And everything of its own that its role reads reached it.
    readable = {
        Role.THREE_PL: {"stock", "order", "replenishment"},
        Role.MARKETPLACE: {"order"},
        Role.SUPPLIER: {"replenishment"},
    }[role]
    wanted = [
        e.id
        for e in sent.values()
        if e.scope and own_code in e.scope.get(own_side, ()) and e.topic.split(".")[0] in readable
    ]
    assert got == sorted(wanted)
    assert told(sf, partners[Role.MANAGER]) == sorted(sent)  # staff without scope: all of it


def test_each_partners_endpoint_receives_only_its_own(sf: Stockflow) -> None:
    sf.add_locations([NewLocation("P3L", "Partner site"), NewLocation("OTHER", "Other site")])
    sf.orders.add_channel(NewChannel("PMKT", "Partner channel"))
    sf.access.add_user("3pl", Role.THREE_PL, scope=["P3L"])
    sf.access.add_user("shop", Role.MARKETPLACE, scope=["PMKT"])
    with receiver() as for_3pl, receiver() as for_shop:
        sf.webhooks.subscribe("3pl", for_3pl.url, ["*"])
        sf.webhooks.subscribe("shop", for_shop.url, ["order.*"])
        sent = {e.id: e for e in stream(sf, STREAM)}
        drain(dispatcher(sf), sf)
    for hook, side, code in ((for_3pl, "locations", "P3L"), (for_shop, "channels", "PMKT")):
        assert hook.delivered()
        for r in hook.delivered():
            scope = sent[r.event_id].scope
            assert scope is not None
            assert code in scope[side]


def test_a_stopped_owner_is_told_nothing_and_a_new_scope_counts_from_then_on(
    sf: Stockflow, partners: dict[Role, int]
) -> None:
    sf.access.set_active(f"{Role.THREE_PL}-user", False)
    stream(sf, STREAM)
    assert told(sf, partners[Role.THREE_PL]) == []
    sf.access.set_active(f"{Role.THREE_PL}-user", True)
    stream(sf, STREAM[:1])
    assert len(told(sf, partners[Role.THREE_PL])) == 1


def test_a_subscription_is_told_only_of_the_event_types_it_names(
    sf: Stockflow, partners: dict[Role, int]
) -> None:
    sf.access.add_user("orders-only", Role.MANAGER)
    made = sf.webhooks.subscribe("orders-only", "http://127.0.0.1:9/hook", ["order.captured"])
    sent = stream(sf, STREAM)
    assert told(sf, made.subscription.id) == [e.id for e in sent if e.topic == "order.captured"]
