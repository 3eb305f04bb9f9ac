"""Opening stock: rows checked against the catalogue at once, then posted as receipts.

Every row goes through ``post_moves``, so a receipt from a file obeys exactly
the rules of any other receipt; this module only looks codes up in bulk first, so
the error for an unknown SKU, location or bin names the first bad row of the
file before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import Connection, select

from stockflow.adapters.outbox import record
from stockflow.adapters.sheets import Row
from stockflow.adapters.tables import bins
from stockflow.errors import (
    InactiveSku,
    InvalidInput,
    StockflowError,
    UnknownBin,
    UnknownLocation,
    UnknownSku,
)
from stockflow.stock import lookup
from stockflow.stock.ledger import post_moves
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import StockFreed
from stockflow.stock.rules.places import DEFAULT_BIN
from stockflow.stock.rules.quantities import positive_quantity

T = TypeVar("T")

ProgressCallback = Callable[[int, int], None]
"""Called now and then with (rows written so far, rows in the file)."""

ACTOR = "import"
_CHUNK = 5_000  # codes per lookup: well inside every database's bind-parameter limit
_CHUNK_POST = 1_000  # moves posted per statement batch, and per progress step


@dataclass(frozen=True, slots=True)
class StockLine:
    """One row of an opening-stock file, checked for types but not yet against the catalogue."""

    row: int
    sku: str
    location: str
    bin: str | None
    lot: str | None
    expires_on: date | None
    qty: int

    @classmethod
    def from_row(cls, row: Row) -> StockLine:
        """The row's cells as a stock line; blank or mistyped cells are errors naming the row."""
        required = {name: row.text(name) for name in ("sku", "location", "qty")}
        for name, value in required.items():
            if value is None:
                raise row.error(name, "is required")
        return cls(
            row=row.number,
            sku=required["sku"] or "",
            location=required["location"] or "",
            bin=row.text("bin", max_length=32),
            lot=row.text("lot", max_length=64),
            expires_on=row.day("expires_on"),
            qty=positive_quantity(row.whole("qty"), field="qty", row=row.number),
        )

    def command(self, reference: str) -> PostMove:
        """The receipt this row asks for."""
        return PostMove(
            self.sku,
            self.qty,
            "receipt",
            target=Place(self.location, self.bin, self.lot),
            actor=ACTOR,
            reference=reference,
            lot_expires_on=self.expires_on,
        )


def refuse_conflicting_expiry(lines: Sequence[StockLine]) -> None:
    """One lot has one expiry date; two rows that disagree are an error naming both."""
    dated: dict[tuple[str, str], StockLine] = {}
    for line in lines:
        if line.lot is None or line.expires_on is None:
            continue
        first = dated.setdefault((line.sku, line.lot), line)
        if first.expires_on != line.expires_on:
            raise InvalidInput(
                f"lot {line.lot} of SKU {line.sku} expires on {first.expires_on} on row "
                f"{first.row} but on {line.expires_on} here",
                field="expires_on",
                row=line.row,
            )


def post_receipts(
    conn: Connection,
    lines: Sequence[StockLine],
    *,
    reference: str,
    now: datetime,
    progress: ProgressCallback | None,
) -> None:
    """Check every row against the catalogue at once, then post each as a receipt, in lock order."""
    refs = _Refs.load(conn, lines)
    # Receipts lock their target position; taking them in the global lock order
    # (sku, location, bin, lot) means a long import cannot deadlock a reservation.
    ordered = sorted(lines, key=refs.lock_key)
    total = len(ordered)
    if progress is not None:
        progress(0, total)
    for start in range(0, total, _CHUNK_POST):
        chunk = ordered[start : start + _CHUNK_POST]
        try:
            post_moves(
                conn, [line.command(reference) for line in chunk], now=now,
                rows=[line.row for line in chunk],
            )  # fmt: skip
        except StockflowError as exc:
            if exc.field is not None:
                exc.field = exc.field.removeprefix("to.")
            raise
        if progress is not None:
            progress(start + len(chunk), total)
    if lines:
        record(conn, StockFreed.of((line.sku for line in lines), "import"), now=now)


@dataclass(frozen=True, slots=True)
class _Refs:
    """Every SKU, location and bin the file names, each looked up once."""

    skus: dict[str, lookup.SkuRef]
    places: dict[str, lookup.LocationRef]
    bin_ids: dict[tuple[int, str], int]

    @classmethod
    def load(cls, conn: Connection, lines: Sequence[StockLine]) -> _Refs:
        skus: dict[str, lookup.SkuRef] = {}
        places: dict[str, lookup.LocationRef] = {}
        for chunk in _chunks(sorted({x.sku for x in lines})):
            skus.update(lookup.skus_by_code(conn, chunk))
        for chunk in _chunks(sorted({x.location for x in lines})):
            places.update(lookup.locations_by_code(conn, chunk))
        bin_ids: dict[tuple[int, str], int] = {}
        for ids in _chunks(sorted(p.id for p in places.values())):
            query = select(bins.c.id, bins.c.location_id, bins.c.code)
            for r in conn.execute(query.where(bins.c.location_id.in_(ids))):
                bin_ids[(int(r.location_id), r.code)] = int(r.id)
        refs = cls(skus, places, bin_ids)
        for line in lines:
            refs.lock_key(line)  # the first bad row in file order is the one reported
        return refs

    def lock_key(self, line: StockLine) -> tuple[int, int, int, str]:
        """The row's position key, or the error that keeps it from being posted."""
        sku = self.skus.get(line.sku)
        if sku is None:
            raise UnknownSku(f"no SKU with code {line.sku!r}", field="sku", row=line.row)
        if not sku.active:
            raise InactiveSku(f"SKU {line.sku} is inactive", field="sku", row=line.row)
        place = self.places.get(line.location)
        if place is None:
            raise UnknownLocation(
                f"no location with code {line.location!r}", field="location", row=line.row
            )
        bin_code = line.bin or DEFAULT_BIN
        bin_id = self.bin_ids.get((place.id, bin_code))
        if bin_id is None:
            raise UnknownBin(
                f"location {place.code} has no bin {bin_code!r}", field="bin", row=line.row
            )
        _check_lot(line, sku)
        return (sku.id, place.id, bin_id, line.lot or "")


def _check_lot(line: StockLine, sku: lookup.SkuRef) -> None:
    if sku.lot_tracked and line.lot is None:
        raise InvalidInput(
            f"SKU {sku.code} is lot-tracked: say which lot", field="lot", row=line.row
        )
    if not sku.lot_tracked and line.lot is not None:
        raise InvalidInput(
            f"SKU {sku.code} is not lot-tracked: leave the lot empty", field="lot", row=line.row
        )
    if not sku.lot_tracked and line.expires_on is not None:
        raise InvalidInput(
            f"SKU {sku.code} is not lot-tracked: only lots expire", field="expires_on", row=line.row
        )


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
