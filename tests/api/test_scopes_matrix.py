"""Every operation a partner may call, naming another partner's object: answered as unknown.

Generated like the permission matrix (``test_permissions``), from the app's
own OpenAPI document. For each partner role (a 3PL running HAM, a
marketplace selling through WEB, the supplier ACME), every operation its
role allows whose path names an object its kind of scope limits is called
with the id of such an object belonging to another partner of the same kind:
CGN's, SHOP's or BOLT's (``scope_shop``), and another user's API token. The
answer is 404 naming that id, as for an id nobody has; a write changes
nothing and leaves no audit row; and for a read, the object's own partner
gets 200 from the same path, so the ids are real.

A write sends the smallest body the document accepts: the object the path
names is looked up, and not found, before anything in the body counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from helpers import problem
from operations import Operation, audit_since, last_audit_id, operations, snapshot
from scope_shop import capture, open_sites, purchase, returning, shipped
from stockflow.api.app import create_app
from stockflow.api.identity import PREFIX
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.floor.picking import WaveRequest
from stockflow.receiving.rules.purchasing import AsnLineIn, NewAsn, ReceiptLineIn, Receive
from stockflow.stock.rules.access import PARTNER_SCOPE, Role, ScopeKind
from stockflow.transfers.rules import TransferLineIn

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

# Each partner role: the caller under test, and the partner whose objects it must not find.
PARTNERS = {
    Role.THREE_PL: ("tpl-ham", "tpl-cgn"),
    Role.MARKETPLACE: ("mkt-web", "mkt-shop"),
    Role.SUPPLIER: ("acme", "bolt"),
}
# What each kind of scope limits, by the path parameter naming it (``object_named``).
# Every caller's own API tokens and webhook subscriptions are its own, whatever its scope.
LIMITS = {
    ScopeKind.LOCATIONS: {
        "order_id", "shipment_id", "key", "wave_id", "task_id", "receipt_id", "asn_id", "po_id",
        "count_id", "transfer_id", "rma_id", "location",
    },
    ScopeKind.CHANNELS: {"order_id", "channel"},
    ScopeKind.SUPPLIER: {"po_id", "asn_id", "supplier"},
}  # fmt: skip
OWN_TOKENS = "token_id"
OWN_SUBSCRIPTIONS = "subscription_id"  # one per partner: ``elsewhere["subscription_id@owner"]``
NOT_LIMITED = {"catalogue", "sku", "line_no"}  # SKUs, locations' bins, a line of what is named


@dataclass(frozen=True)
class World:
    """The scope shop, its callers' tokens by name, and one object of each kind elsewhere."""

    client: TestClient
    sf: Stockflow
    tokens: dict[str, str]
    elsewhere: dict[str, str]  # object_named(...) -> the id of CGN's, SHOP's or BOLT's

    def value(self, named: str, owner: str) -> str:
        """The id of ``owner``'s object where each partner has its own, else the one elsewhere."""
        return self.elsewhere.get(f"{named}@{owner}", self.elsewhere.get(named, ""))


def object_named(op: Operation, parameter: str) -> str:
    """What a path parameter names: a ``code`` is a channel's, a supplier's or the catalogue's."""
    if parameter != "code":
        return parameter
    for kind in ("channel", "supplier"):
        if op.path.startswith(f"{PREFIX}/{kind}s/"):
            return kind
    return "catalogue"


def _elsewhere(sf: Stockflow, tokens: dict[str, str]) -> dict[str, str]:
    """One object of each kind at CGN, of channel SHOP, of supplier BOLT; another's token."""
    order_id, shipment_id = shipped(sf, "CGN")
    _, rma_id = returning(sf, "CGN")
    wave = sf.floor.build_wave(WaveRequest("CGN", order_ids=(capture(sf, "CGN"),)))
    assert wave is not None
    po_id = purchase(sf, "CGN")
    asn = sf.receiving.add_asn(NewAsn(po_id, (AsnLineIn(1, 6),)))
    receipt = sf.receiving.receive(Receive((ReceiptLineIn("B", 6, 1),), asn_id=asn.id))
    week = sf.clock().date() + timedelta(days=7)
    transfer = sf.transfers.ship(
        from_location="CGN", to_location="MUC", lines=[TransferLineIn("B", 2)], expected_on=week
    )
    count = sf.counts.create(location="CGN", scope=CountScope("bins", bins=("S-01",)))
    (token,) = sf.access.tokens("tpl-cgn")
    assert tokens["tpl-cgn"].startswith(token.prefix)
    subscriptions = {
        f"{OWN_SUBSCRIPTIONS}@{owner}": str(
            sf.webhooks.subscribe(owner, "https://partner.example/hook", ["*"]).subscription.id
        )
        for _, owner in PARTNERS.values()
    }
    return subscriptions | {
        "order_id": order_id, "shipment_id": shipment_id, "key": "T-CGN", "rma_id": rma_id,
        "wave_id": wave.id, "task_id": str(wave.tasks[0].id), "po_id": po_id, "asn_id": asn.id,
        "receipt_id": receipt.id, "transfer_id": transfer.id, "count_id": count.id,
        "line_no": "1", "location": "CGN", "sku": "B", "channel": "SHOP", "supplier": "BOLT",
        "catalogue": "B", "token_id": str(token.id),
    }  # fmt: skip


@pytest.fixture
def world(sf: Stockflow) -> Iterator[World]:
    headers = open_sites(sf)
    tokens = {name: h["Authorization"].removeprefix("Bearer ") for name, h in headers.items()}
    for name, channel in (("mkt-web", "WEB"), ("mkt-shop", "SHOP")):
        sf.access.add_user(name, Role.MARKETPLACE, scope=[channel])
        tokens[name] = sf.access.issue_token(name, "tests").secret
    elsewhere = _elsewhere(sf, tokens)
    with TestClient(create_app(sf)) as client:
        yield World(client, sf, tokens, elsewhere)


def hidden_from(role: Role, op: Operation) -> list[str]:
    """The path parameters of ``op`` that name an object ``role``'s scope limits."""
    limited = LIMITS[PARTNER_SCOPE[role]] | {OWN_TOKENS, OWN_SUBSCRIPTIONS}
    return [p for p in op.path_types if object_named(op, p) in limited]


def test_a_partner_finds_nothing_of_another_partners(world: World) -> None:
    client, sf = world.client, world.sf
    ops = operations(client.app.openapi())  # type: ignore[attr-defined]
    wrong: list[str] = []
    checked: dict[Role, int] = {}
    for role, (me, owner) in PARTNERS.items():
        for op in ops:
            if not op.allows(role):
                continue
            named = {object_named(op, p) for p in op.path_types}
            unknown = named - NOT_LIMITED - {OWN_TOKENS, OWN_SUBSCRIPTIONS}.union(*LIMITS.values())
            assert not unknown, f"{op}: is {unknown} limited by a scope? Say so in LIMITS"
            hidden = hidden_from(role, op)
            if not hidden:
                continue
            checked[role] = checked.get(role, 0) + 1
            values = {p: world.value(object_named(op, p), owner) for p in op.path_types}
            before, last = snapshot(sf) if op.changes else None, last_audit_id(sf)
            resp = op.call(client, world.tokens[me], values, fit=True)
            ids = [values[p] for p in hidden]
            if resp.status_code != 404 or not any(i in resp.json()["detail"] for i in ids):
                wrong.append(f"{op} as {me} naming {ids}: {resp.status_code} {resp.text[:200]}")
                continue
            problem(resp, 404)
            if op.changes and (snapshot(sf) != before or audit_since(sf, last)):
                wrong.append(f"{op} as {me}: the refused write left a trace")
            if not op.changes:
                seen = op.call(client, world.tokens[owner], values)
                if seen.status_code != 200:
                    wrong.append(f"{op} as {owner}, whose it is: {seen.status_code} {seen.text}")
    assert not wrong, "\n".join(wrong)
    # Each partner had its share: a 3PL most of the floor, the others their orders or supply.
    assert checked[Role.THREE_PL] > 25, checked
    assert min(checked.values()) >= 3, checked
