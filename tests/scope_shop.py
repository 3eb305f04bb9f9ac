"""Two sites run by two 3PLs, two suppliers, a warehouse team: the scope tests' world.

HAM and CGN are warehouses with a storage bin S-01 each (MUC is a third site
nobody partners with). SKU A is stocked only at HAM and SKU B only at CGN,
so an order of A is HAM's business and an order of B is CGN's. Channel WEB
sells A, channel SHOP sells B. Supplier ACME delivers to HAM, BOLT to CGN.

The callers: ``tpl-ham`` and ``tpl-cgn`` (3PLs of one site each), ``team-ham``
(a warehouse team limited to HAM), ``acme`` and ``bolt`` (suppliers),
``buyer-acme`` (a buyer limited to ACME), ``sales-shop`` (customer service
limited to channel SHOP), and the unlimited ``wh`` (warehouse), ``buyer``
(purchasing), ``sales`` and ``admin``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from helpers import bearer
from order_shop import order
from stockflow.adapters.parcels import Parcel
from stockflow.bootstrap import Stockflow
from stockflow.floor.picking import WaveRequest
from stockflow.floor.shipping import Dispatch
from stockflow.orders.rules.parties import NewChannel
from stockflow.receiving.rules.purchasing import NewPurchaseOrder, NewSupplier, POLineIn
from stockflow.returns.rules import AuthoriseReturn, ReturnLineIn
from stockflow.stock.rules.access import Role, ScopeKind
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku
from stockflow.stock.rules.commands import Place, PostMove

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"

SITES = {"HAM": ("A", "WEB", "ACME"), "CGN": ("B", "SHOP", "BOLT")}  # sku, channel, supplier
OTHER = {"HAM": "CGN", "CGN": "HAM"}

CALLERS: dict[str, tuple[Role, ScopeKind | None, tuple[str, ...]]] = {
    "tpl-ham": (Role.THREE_PL, None, ("HAM",)),
    "tpl-cgn": (Role.THREE_PL, None, ("CGN",)),
    "team-ham": (Role.WAREHOUSE, ScopeKind.LOCATIONS, ("HAM",)),
    "acme": (Role.SUPPLIER, None, ("ACME",)),
    "bolt": (Role.SUPPLIER, None, ("BOLT",)),
    "buyer-acme": (Role.PURCHASING, ScopeKind.SUPPLIER, ("ACME",)),
    "sales-shop": (Role.SALES, ScopeKind.CHANNELS, ("SHOP",)),
    "wh": (Role.WAREHOUSE, None, ()),
    "buyer": (Role.PURCHASING, None, ()),
    "sales": (Role.SALES, None, ()),
    "boss": (Role.ADMIN, None, ()),
}


def open_sites(sf: Stockflow) -> dict[str, dict[str, str]]:
    """The sites, SKUs, channels, suppliers and stock; the callers' sign-in headers by name."""
    sf.add_locations([NewLocation(code, f"Warehouse {code}") for code in ("HAM", "CGN", "MUC")])
    sf.add_bins([NewBin(code, "S-01", "S", 1) for code in ("HAM", "CGN", "MUC")])
    sf.add_skus([NewSku(sku, f"Item {sku}", unit_price=Decimal("4.00")) for sku in ("A", "B")])
    for site, (sku, channel, supplier) in SITES.items():
        sf.orders.add_channel(NewChannel(channel, f"Channel {channel}"))
        sf.receiving.add_supplier(NewSupplier(supplier, f"Supplier {supplier}", 5))
        sf.post_move(PostMove(sku, 50, "receipt", target=Place(site, "S-01")))
    headers = {}
    for name, (role, kind, scope) in CALLERS.items():
        sf.access.add_user(name, role, scope=scope, scope_kind=kind)
        headers[name] = bearer(sf.access.issue_token(name, "tests").secret)
    return headers


def capture(sf: Stockflow, site: str, qty: int = 2) -> str:
    """An order of the site's SKU through its channel; its id."""
    sku, channel, _ = SITES[site]
    return sf.orders.capture(order(channel, (sku, qty))).id


def picked(sf: Stockflow, site: str) -> str:
    """An order picked in full at ``site`` and waiting to be packed; its id."""
    order_id = capture(sf, site)
    wave = sf.floor.build_wave(WaveRequest(site, order_ids=(order_id,)))
    assert wave is not None
    for task in wave.tasks:
        sf.floor.confirm_pick(task.id, task.qty)
    return order_id


def packing(sf: Stockflow, site: str) -> str:
    """A shipment being packed at ``site`` (all scanned, no box yet); its id."""
    order_id = picked(sf, site)
    return sf.floor.pack_scan(order_id, SITES[site][0], qty=2).id


def shipped(sf: Stockflow, site: str, tracking_no: str | None = None) -> tuple[str, str]:
    """An order shipped from ``site`` by hand for 7.50 (tracking number T-<site> unless told);
    order and shipment ids."""
    shipment_id = packing(sf, site)
    sf.floor.add_package(shipment_id, Parcel(900, 300, 200, 100))
    how = Dispatch("manual", tracking_no=tracking_no or f"T-{site}", amount=Decimal("7.50"))
    view = sf.floor.ship(shipment_id, how)
    return view.order_id, shipment_id


def returning(sf: Stockflow, site: str) -> tuple[str, str]:
    """An RMA for one unit of an order shipped from ``site`` (as T-<site>-R); order and RMA ids."""
    order_id, _ = shipped(sf, site, f"T-{site}-R")
    rma = sf.returns.authorise(AuthoriseReturn(order_id, (ReturnLineIn(1, 1),), "too big"))
    return order_id, rma.id


def purchase(sf: Stockflow, site: str, qty: int = 10) -> str:
    """A purchase order of the site's SKU from its supplier at 1.25 a unit; its id."""
    sku, _, supplier = SITES[site]
    lines = (POLineIn(sku, qty, Decimal("1.25")),)
    return sf.receiving.place_order(NewPurchaseOrder(supplier, site, lines)).id


def answers_as_unknown(
    client: Any, headers: dict[str, str], method: str, path: str, hidden: str, unknown: str,
    **sent: Any,
) -> None:  # fmt: skip
    """``path`` (``{}`` for the id) answers for ``hidden`` exactly what it answers for an id
    nobody has: 404, the same problem document word for word, the id aside."""
    seen = client.request(method, API + path.format(hidden), headers=headers, **sent)
    ghost = client.request(method, API + path.format(unknown), headers=headers, **sent)
    assert seen.status_code == 404, seen.text
    assert ghost.status_code == 404, ghost.text
    assert seen.headers["content-type"] == PROBLEM_JSON
    assert seen.json() == json.loads(ghost.text.replace(unknown, hidden))


def refused(resp: Any, field: str) -> None:
    """A 403 naming the field the caller may not set."""
    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    assert resp.json()["field"] == field, resp.json()
