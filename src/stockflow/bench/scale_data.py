"""The ``scale`` data set: a year of a mid-size operation, or a multiple of it, as CSV files.

At ``1x``: 10,000 SKUs x 10 locations (each stocked in one of its bins), 100,000
orders of one to four lines and 1,000,000 ledger moves. ``--size`` scales SKUs,
bins, orders and moves; the ten locations stay ten. The files are written by
a seeded generator, so a size always gives the same files:

- ``skus.csv``, ``locations.csv``, ``bins.csv`` and ``stock-<location>.csv``
  (opening stock, a file per location with a row per SKU) in the import
  formats of ``stockflow import``;
- ``moves-MM.csv``: the rest of the year's moves, month by month: receipts
  and adjustments in and out (not an import format; the loader posts them);
- ``orders-MM.csv``: the year's orders, month by month, in the format of
  ``stockflow orders import``.

Demand is skewed (a few SKUs sell most), and stock follows it. An adjustment
out never takes units that orders of earlier months could hold: the
generator keeps every position's units and every SKU's units ordered so far,
and takes out only what is left over, so loading can never be refused.
"""

from __future__ import annotations

import csv
import itertools
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stockflow.errors import InvalidInput

YEAR_SKUS = 10_000
YEAR_ORDERS = 100_000
YEAR_MOVES = 1_000_000
LOCATIONS = 10
SKUS_PER_BIN = 100
CHANNELS = ("WEB", "MARKET", "WHOLESALE", "PHONE")
CHANNEL_SHARE = (50, 25, 15, 10)
_LINES = (1, 2, 3, 4)
_LINE_SHARE = (50, 25, 15, 10)  # 1.85 lines an order on average
_POPULARITY = 0.9  # Zipf exponent of demand over SKUs
_RECEIPT_SHARE = 0.7  # of the moves after opening stock; the rest are adjustments
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*[xX]?\s*$")


@dataclass(frozen=True, slots=True)
class Size:
    """How much data: a multiple of a year."""

    label: str
    factor: float
    skus: int
    locations: int
    orders: int
    moves: int

    @property
    def bins_per_location(self) -> int:
        """Named bins in each location (besides its default bin)."""
        return max(1, math.ceil(self.skus / SKUS_PER_BIN))

    @property
    def positions(self) -> int:
        """Positions the opening stock makes: one per SKU and location."""
        return self.skus * self.locations

    @property
    def months(self) -> int:
        """Months the orders and later moves are spread over."""
        return max(1, min(12, self.orders))


def parse_size(text: str) -> Size:
    """``1x``, ``10x``, ``0.1x`` (the ``x`` may be left off): that multiple of a year."""
    found = _SIZE.match(text)
    factor = float(found.group(1)) if found else 0.0
    if not 0 < factor <= 100:
        raise InvalidInput(
            f"give a multiple of a year such as 1x, 10x or 0.1x (at most 100x), not {text!r}",
            field="size",
        )
    skus = max(1, round(YEAR_SKUS * factor))
    return Size(
        label=f"{factor:g}x",
        factor=factor,
        skus=skus,
        locations=LOCATIONS,
        orders=max(1, round(YEAR_ORDERS * factor)),
        moves=max(skus * LOCATIONS, round(YEAR_MOVES * factor)),
    )


@dataclass(frozen=True, slots=True)
class DataSet:
    """The files of one generated data set and what they hold."""

    folder: Path
    size: Size
    order_files: tuple[Path, ...]
    move_files: tuple[Path, ...]
    order_lines: int

    @property
    def skus(self) -> Path:
        return self.folder / "skus.csv"

    @property
    def locations(self) -> Path:
        return self.folder / "locations.csv"

    @property
    def bins(self) -> Path:
        return self.folder / "bins.csv"

    @property
    def stock_files(self) -> tuple[Path, ...]:
        """Opening stock, a file per location."""
        return tuple(
            self.folder / f"stock-{location_code(n + 1)}.csv" for n in range(self.size.locations)
        )

    @property
    def later_moves(self) -> int:
        """Moves after the opening stock."""
        return self.size.moves - self.size.positions

    def counts(self) -> dict[str, int]:
        """What loading this data set must leave in the database."""
        s = self.size
        return {
            "skus": s.skus,
            "locations": s.locations,
            "bins": s.bins_per_location * s.locations,
            "positions": s.positions,
            "moves": s.moves,
            "orders": s.orders,
            "order_lines": self.order_lines,
        }


def sku_code(n: int) -> str:
    return f"I{n:07d}"


def location_code(n: int) -> str:
    return f"DC{n:02d}"


def bin_code(n: int) -> str:
    return f"A-{n:04d}"


def generate(folder: Path, size: Size, *, seed: int = 1) -> DataSet:
    """Write the data set of ``size`` into ``folder`` (made if need be)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    world = _World(size, rng)
    world.write_catalogue(folder)
    order_files: list[Path] = []
    move_files: list[Path] = []
    lines = 0
    for month in range(1, size.months + 1):
        move_files.append(world.write_moves(folder / f"moves-{month:02d}.csv", month))
        path, written = world.write_orders(folder / f"orders-{month:02d}.csv", month)
        order_files.append(path)
        lines += written
    return DataSet(folder, size, tuple(order_files), tuple(move_files), lines)


class _World:
    """The generator's running picture: units per position, units ordered per SKU."""

    def __init__(self, size: Size, rng: random.Random) -> None:
        self.size = size
        self.rng = rng
        weights = [1 / (rank + 1) ** _POPULARITY for rank in range(size.skus)]
        popular = list(range(size.skus))
        rng.shuffle(popular)  # the best sellers are anywhere in the catalogue
        self.popular = popular
        self.cum = list(itertools.accumulate(weights))
        units = sum(_LINE_SHARE[i] * _LINES[i] for i in range(4)) / 100 * 1.6 * size.orders
        self.expected = [units * w / self.cum[-1] for w in weights]  # by rank
        self.on_hand = [0] * size.positions  # by sku * locations + location
        self.ordered = [0] * size.skus
        self.order_numbers = itertools.count(1)

    def bin_of(self, sku: int, location: int) -> str:
        return bin_code((sku * 7 + location) % self.size.bins_per_location + 1)

    def pick_skus(self, k: int) -> list[int]:
        ranks = self.rng.choices(range(self.size.skus), cum_weights=self.cum, k=k)
        return [self.popular[r] for r in ranks]

    def write_catalogue(self, folder: Path) -> None:
        s, rng = self.size, self.rng
        _write(folder / "skus.csv", ("code", "name", "unit_price"), (
            (sku_code(n + 1), f"Item {n + 1}", f"{rng.randint(100, 50_000) / 100:.2f}")
            for n in range(s.skus)
        ))  # fmt: skip
        _write(folder / "locations.csv", ("code", "name", "kind"), (
            (location_code(n + 1), f"Distribution centre {n + 1}", "warehouse")
            for n in range(s.locations)
        ))  # fmt: skip
        _write(folder / "bins.csv", ("location", "code", "zone", "sequence"), (
            (location_code(loc + 1), bin_code(b + 1), f"Z{b // 50 + 1}", b + 1)
            for loc in range(s.locations)
            for b in range(s.bins_per_location)
        ))  # fmt: skip
        rank = {sku: r for r, sku in enumerate(self.popular)}

        def opening(loc: int) -> Iterator[tuple[object, ...]]:
            for sku in range(s.skus):
                share = self.expected[rank[sku]] / s.locations
                qty = max(2, round(share * rng.uniform(0.6, 1.4)))
                self.on_hand[sku * s.locations + loc] = qty
                yield sku_code(sku + 1), location_code(loc + 1), qty, self.bin_of(sku, loc)

        for loc in range(s.locations):
            path = folder / f"stock-{location_code(loc + 1)}.csv"
            _write(path, ("sku", "location", "qty", "bin"), opening(loc))

    def write_moves(self, path: Path, month: int) -> Path:
        """This month's share of the moves after opening stock: receipts and adjustments."""
        s, rng = self.size, self.rng
        later = s.moves - s.positions
        count = later * month // s.months - later * (month - 1) // s.months

        def moves() -> Iterator[tuple[object, ...]]:
            for sku in self.pick_skus(count):
                loc = rng.randrange(s.locations)
                at = sku * s.locations + loc
                roll = rng.random()
                free = self.on_hand[at] - self.ordered[sku]
                if roll < _RECEIPT_SHARE or free < 1:
                    kind, qty = "receipt", rng.randint(1, 20)
                    self.on_hand[at] += qty
                elif roll < (1 + _RECEIPT_SHARE) / 2:
                    kind, qty = "adjustment in", rng.randint(1, 3)
                    self.on_hand[at] += qty
                else:
                    kind, qty = "adjustment out", rng.randint(1, min(3, free))
                    self.on_hand[at] -= qty
                yield sku_code(sku + 1), location_code(loc + 1), self.bin_of(sku, loc), qty, kind

        _write(path, ("sku", "location", "bin", "qty", "kind"), moves())
        return path

    def write_orders(self, path: Path, month: int) -> tuple[Path, int]:
        """This month's orders, one row per line; the file and its line count."""
        s, rng = self.size, self.rng
        count = s.orders * month // s.months - s.orders * (month - 1) // s.months
        written = 0

        def rows() -> Iterator[tuple[object, ...]]:
            nonlocal written
            for _ in range(count):
                number = next(self.order_numbers)
                channel = rng.choices(CHANNELS, weights=CHANNEL_SHARE)[0]
                want = min(s.skus, rng.choices(_LINES, weights=_LINE_SHARE)[0])
                skus: list[int] = []
                while len(skus) < want:
                    for sku in self.pick_skus(want - len(skus)):
                        if sku not in skus:
                            skus.append(sku)
                ship_to = f"{number % 999 + 1} Scale Street, Town {number % 97 + 1}"
                for sku in skus:
                    qty = rng.choices((1, 2, 3, 4, 5), weights=(60, 25, 8, 4, 3))[0]
                    self.ordered[sku] += qty
                    written += 1
                    yield channel, f"Y{number:08d}", ship_to, sku_code(sku + 1), qty

        _write(path, ("channel", "external_id", "ship_to", "sku", "qty"), rows())
        return path, written


def _write(path: Path, header: tuple[str, ...], rows: Iterator[tuple[object, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)
