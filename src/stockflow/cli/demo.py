"""A realistic demo data set: sites with bins, a few hundred SKUs, stock and reservations.

It also holds what the demo's partner users are limited to: a marketplace
channel, and a supplier with a purchase order on its way.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from rich.progress import Progress

from stockflow.bootstrap import Stockflow
from stockflow.errors import InsufficientStock
from stockflow.orders.rules.parties import NewChannel, NewCustomer
from stockflow.receiving.rules.purchasing import NewPurchaseOrder, NewSupplier, POLineIn
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku
from stockflow.stock.rules.commands import (
    CaptureOrder,
    OrderLineIn,
    Place,
    PostMove,
    Reserve,
    ReserveLine,
)

SITES = [
    ("AMS", "Amsterdam DC", "dc", "Amsterdam, NL", "52.370216", "4.895168"),
    ("RTM", "Rotterdam warehouse", "warehouse", "Rotterdam, NL", "51.924420", "4.477733"),
    ("BER", "Berlin warehouse", "warehouse", "Berlin, DE", "52.520008", "13.404954"),
    ("UTR-STORE", "Utrecht store", "store", "Utrecht, NL", "52.090736", "5.121420"),
]
FAMILIES = [
    ("BOLT", "Hex bolt", "hardware", False, "0.12"),
    ("NUT", "Lock nut", "hardware", False, "0.05"),
    ("TAPE", "Packing tape", "packaging", False, "2.40"),
    ("GLOVE", "Work gloves", "safety", False, "6.90"),
    ("LAMP", "LED lamp", "electrical", False, "11.50"),
    ("CABLE", "Power cable", "electrical", False, "7.80"),
    ("GLUE", "Wood glue", "chemicals", True, "4.20"),
    ("PAINT", "Wall paint", "chemicals", True, "24.00"),
    ("SEAL", "Silicone sealant", "chemicals", True, "5.60"),
    ("OIL", "Machine oil", "chemicals", True, "9.90"),
]
SIZES = ["XS", "S", "M", "L", "XL", "2XL", "3XL", "4XL", "5XL", "6XL"]
VARIANTS = ["BLK", "WHT", "GRY"]


def load_demo(sf: Stockflow, *, seed: int = 7) -> dict[str, int]:
    """Fill an empty database with the demo set; returns counts of what was made."""
    rng = random.Random(seed)
    bins = _places(sf)
    skus = _catalogue(sf)
    moves, reservations = _stock(sf, rng, skus, bins)
    orders = _orders(sf, rng, [s.code for s in skus])
    waves, shipped = _floor(sf)
    _partners(sf, [s.code for s in skus])
    return {
        "locations": len(SITES),
        "bins": len(bins),
        "skus": len(skus),
        "moves": moves,
        "reservations": reservations,
        "orders": orders,
        "waves": waves,
        "shipments": shipped,
    }


def _places(sf: Stockflow) -> list[NewBin]:
    """The sites, and 80 bins in each warehouse (the store keeps everything in MAIN)."""
    sf.add_locations(
        [
            NewLocation(code, name, kind, addr, Decimal(lat), Decimal(lon))
            for code, name, kind, addr, lat, lon in SITES
        ]
    )
    bins = [
        NewBin(code, f"{aisle}-{shelf:02d}-{level}", aisle, n)
        for code, *_ in SITES
        if code != "UTR-STORE"
        for n, (aisle, shelf, level) in enumerate(
            ((a, s, lv) for a in "ABCD" for s in range(1, 11) for lv in (1, 2)), start=1
        )
    ]
    sf.add_bins(bins)
    return bins


def _catalogue(sf: Stockflow) -> list[NewSku]:
    """Every family in every size and colour."""
    skus = [
        NewSku(
            f"{fam}-{size}-{var}",
            f"{name} {size} {var.lower()}",
            unit_price=Decimal(price),
            lot_tracked=lot,
            attributes={"category": cat, "size": size, "colour": var.lower()},
        )
        for fam, name, cat, lot, price in FAMILIES
        for size in SIZES
        for var in VARIANTS
    ]
    sf.add_skus(skus)
    return skus


def _stock(
    sf: Stockflow, rng: random.Random, skus: list[NewSku], bins: list[NewBin]
) -> tuple[int, int]:
    """Receipts of every SKU at one to three sites, then a few carts' holds; how many of each."""
    today = sf.today()
    moves = 0
    reservations = 0
    with Progress(transient=True) as progress:
        task = progress.add_task("demo stock", total=len(skus))
        for sku in skus:
            for code, *_ in rng.sample(SITES, k=rng.randint(1, 3)):
                site_bins: list[str | None] = [b.code for b in bins if b.location == code] or [None]
                lot = f"L{rng.randint(1000, 9999)}" if sku.lot_tracked else None
                expiry = today + timedelta(days=rng.randint(-5, 400)) if lot else None
                sf.post_move(
                    PostMove(
                        sku.code,
                        rng.randint(5, 400),
                        "receipt",
                        target=Place(code, rng.choice(site_bins), lot),
                        lot_expires_on=expiry,
                        reference=f"PO-{rng.randint(10000, 99999)}",
                        actor="demo",
                    )
                )
                moves += 1
            progress.advance(task)
        for n in range(40):
            lines = tuple(
                ReserveLine(s.code, rng.randint(1, 5))
                for s in rng.sample(skus, k=rng.randint(1, 3))
            )
            try:
                sf.reserve(Reserve(lines, owner_ref=f"SO-{1000 + n}"))
                reservations += 1
            except InsufficientStock:
                continue
    return moves, reservations


def _floor(sf: Stockflow) -> tuple[int, int]:
    """A wave per site with ready orders; the first order of each is picked, packed and shipped."""
    from stockflow.adapters.parcels import Parcel
    from stockflow.floor.picking import WaveRequest
    from stockflow.floor.shipping import Dispatch

    waves = shipped = 0
    for code, *_ in SITES:
        wave = sf.floor.build_wave(WaveRequest(code, max_orders=4), actor="demo")
        if wave is None:
            continue
        waves += 1
        first = wave.tasks[0].order_id
        mine = [t for t in wave.tasks if t.order_id == first]
        for task in mine:
            sf.floor.confirm_pick(task.id, task.qty, actor="demo")
        parcel = None
        for task in mine:
            parcel = sf.floor.pack_scan(first, task.sku, qty=task.qty)
        if parcel is not None:
            sf.floor.add_package(parcel.id, Parcel(1500, 400, 300, 200))
            sf.floor.ship(parcel.id, Dispatch("flat"), actor="demo")
            shipped += 1
    return waves, shipped


MARKETPLACE = "MARKET"  # the channel the demo's marketplace user sells through
SUPPLIER = "NORDBOLT"  # the supplier the demo's supplier user is


def _partners(sf: Stockflow, codes: list[str]) -> None:
    """A marketplace channel, and a supplier with one purchase order for Rotterdam."""
    sf.orders.add_channel(NewChannel(MARKETPLACE, "Marketplace", "marketplace", priority=4))
    sf.receiving.add_supplier(NewSupplier(SUPPLIER, "Nordbolt Fasteners AB", lead_time_days=5))
    sf.receiving.place_order(
        NewPurchaseOrder(
            SUPPLIER,
            "RTM",
            (POLineIn(codes[0], 500, Decimal("0.08")), POLineIn(codes[30], 800, Decimal("0.03"))),
            reference="NB-2041",
        )
    )


CUSTOMERS = [
    ("C-ACME", "Acme Building Supplies", "Keizersgracht 1, Amsterdam", "52.3731", "4.8922"),
    ("C-BOUW", "Bouwmarkt Noord", "Coolsingel 40, Rotterdam", "51.9225", "4.4792"),
    ("C-HAUS", "Haus & Hof GmbH", "Alexanderplatz 5, Berlin", "52.5219", "13.4132"),
    ("C-SHOP", "Online shopper", "Oudegracht 100, Utrecht", "52.0907", "5.1214"),
]


def _orders(sf: Stockflow, rng: random.Random, codes: list[str]) -> int:
    """Three channels with their rules, a few customers, incoming supply and some orders."""
    sf.orders.add_channel(
        NewChannel("WEB", "Web shop", "web", priority=10, max_splits=2, hold_new_customers=False)
    )
    sf.orders.add_channel(
        NewChannel(
            "WHOLESALE",
            "Wholesale (email)",
            "wholesale",
            priority=5,
            allow_partial=True,
            hold_over_value=Decimal("5000"),
        )
    )
    sf.orders.add_channel(
        NewChannel(
            "PHONE",
            "Phone orders",
            "phone",
            priority=8,
            backorder_policy="allow_days",
            backorder_days=14,
        )
    )
    for code, name, address, lat, lon in CUSTOMERS:
        sf.orders.add_customer(
            NewCustomer(code, name, address=address, latitude=Decimal(lat), longitude=Decimal(lon))
        )
    sf.orders.set_ring_fence(channel="WEB", sku=codes[0], location="AMS", qty=5)
    sf.orders.add_supply(
        kind="purchase", reference="PO-90001", sku=codes[1], location="RTM", qty=200,
        expected_on=sf.today() + timedelta(days=6),
    )  # fmt: skip
    captured = 0
    for n in range(30):
        code, name, address, lat, lon = rng.choice(CUSTOMERS)
        channel = rng.choice(["WEB", "WEB", "WHOLESALE", "PHONE"])
        lines = tuple(
            OrderLineIn(sku, rng.randint(1, 4 if channel != "WHOLESALE" else 40))
            for sku in rng.sample(codes, k=rng.randint(1, 3))
        )
        try:
            sf.orders.capture(
                CaptureOrder(
                    channel,
                    lines,
                    ship_to=address,
                    customer=code,
                    external_id=f"{channel}-{5000 + n}",
                    actor="demo",
                )
            )
            captured += 1
        except InsufficientStock:
            continue
    return captured
