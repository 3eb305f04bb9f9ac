"""Resolving the ends of many moves at once: SKUs, locations, bins, lots and positions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select, update

from stockflow.adapters.sets import among
from stockflow.adapters.tables import bins, lots, positions
from stockflow.adapters.upsert import upsert
from stockflow.errors import (
    Conflict,
    InactiveSku,
    InvalidInput,
    StockflowError,
    UnknownBin,
    UnknownLocation,
    UnknownSku,
)
from stockflow.stock import lookup
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.places import DEFAULT_BIN


@contextmanager
def about_row(index: int, rows: Sequence[int] | None) -> Iterator[None]:
    """An error raised in the block names the file row of move ``index``, when there are rows."""
    try:
        yield
    except StockflowError as exc:
        if rows is not None and exc.row is None:
            exc.row = rows[index]
        raise


@dataclass(slots=True)
class End:
    """One end of a move: where, and (once placed) which position."""

    place: Place
    location: lookup.LocationRef
    key: lookup.PositionKey
    lands: bool  # stock arrives here, so the position must exist
    position_id: int | None = None


class Resolver:
    """Every code a batch of moves names, looked up once."""

    def __init__(
        self,
        skus: dict[str, lookup.SkuRef],
        places: dict[str, lookup.LocationRef],
        bin_ids: dict[tuple[int, str], int],
    ) -> None:
        self._skus = skus
        self._places = places
        self._bin_ids = bin_ids
        self._ends: list[End] = []
        self._lots: dict[tuple[int, str], tuple[date | None, int]] = {}

    @classmethod
    def load(cls, conn: Connection, cmds: Sequence[PostMove]) -> Resolver:
        """Look up every SKU, location and bin the moves name."""
        ends = [e for c in cmds for e in (c.source, c.target) if e is not None]
        skus = lookup.skus_by_code(conn, {c.sku for c in cmds})
        places = lookup.locations_by_code(conn, {e.location for e in ends})
        query = select(bins.c.id, bins.c.location_id, bins.c.code)
        bin_ids = {
            (int(r.location_id), r.code): int(r.id)
            for r in conn.execute(query.where(among(bins.c.location_id, _ids(places))))
        }
        return cls(skus, places, bin_ids)

    def sku(self, code: str, *, active: bool) -> lookup.SkuRef:
        """The SKU; with ``active``, an inactive one is refused (it takes no new stock)."""
        found = self._skus.get(code)
        if found is None:
            raise UnknownSku(f"no SKU with code {code!r}", field="sku")
        if active and not found.active:
            raise InactiveSku(f"SKU {code} is inactive", field="sku")
        return found

    def end(self, place: Place | None, sku: lookup.SkuRef, *, field: str) -> End | None:
        """The checked end of a move (``field`` is ``from`` or ``to``)."""
        if place is None:
            return None
        location = self._places.get(place.location)
        if location is None:
            raise UnknownLocation(
                f"no location with code {place.location!r}", field=f"{field}.location"
            )
        bin_code = place.bin or DEFAULT_BIN
        bin_id = self._bin_ids.get((location.id, bin_code))
        if bin_id is None:
            raise UnknownBin(
                f"location {location.code} has no bin {bin_code!r}", field=f"{field}.bin"
            )
        lot = (place.lot or "").strip()
        if sku.lot_tracked and not lot:
            raise InvalidInput(
                f"SKU {sku.code} is lot-tracked: say which lot", field=f"{field}.lot"
            )
        if lot and not sku.lot_tracked:
            raise InvalidInput(
                f"SKU {sku.code} is not lot-tracked: leave the lot empty", field=f"{field}.lot"
            )
        key = lookup.PositionKey(sku.id, location.id, bin_id, lot)
        # A location that may go negative can ship from a position it never held.
        end = End(Place(location.code, bin_code, lot or None), location, key,
                  lands=field == "to" or location.allow_negative)  # fmt: skip
        self._ends.append(end)
        return end

    def note_lot(self, sku: lookup.SkuRef, end: End, expires_on: date | None, index: int) -> None:
        """Remember the lot stock lands in, and its expiry; two dates for one lot clash."""
        if not sku.lot_tracked:
            if expires_on is not None:
                raise InvalidInput(
                    f"SKU {sku.code} is not lot-tracked: only lots expire", field="expires_on"
                )
            return
        key = (sku.id, end.key.lot_code)
        earlier = self._lots.get(key)
        if earlier is None or earlier[0] is None:
            self._lots[key] = (expires_on, index)
        elif expires_on is not None and expires_on != earlier[0]:
            raise Conflict(
                f"lot {end.key.lot_code} of SKU {sku.code} expires on {earlier[0]}, "
                f"not {expires_on}",
                field="expires_on",
            )

    def save_lots(self, conn: Connection, rows: Sequence[int] | None) -> None:
        """Record new lots; a known lot keeps its expiry, and a different date is an error."""
        if not self._lots:
            return
        conn.execute(
            upsert(conn, lots).on_conflict_do_nothing(),
            [{"sku_id": s, "code": c, "expires_on": d} for (s, c), (d, _) in self._lots.items()],
        )
        sku_ids = sorted({s for s, _ in self._lots})
        known = {
            (int(r.sku_id), r.code): r.expires_on
            for r in conn.execute(select(lots).where(among(lots.c.sku_id, sku_ids)))
        }
        codes = {v.id: v.code for v in self._skus.values()}
        for (sku_id, code), (wanted, index) in self._lots.items():
            have = known.get((sku_id, code))
            if wanted is None or have == wanted:
                continue
            if have is None:
                conn.execute(
                    update(lots)
                    .where(lots.c.sku_id == sku_id, lots.c.code == code)
                    .values(expires_on=wanted)
                )
                continue
            with about_row(index, rows):
                raise Conflict(
                    f"lot {code} of SKU {codes[sku_id]} expires on {have}, not {wanted}",
                    field="expires_on",
                )

    def place_positions(self, conn: Connection) -> None:
        """Give every end its position id, creating the positions stock lands in."""
        landing = {e.key for e in self._ends if e.lands}
        if landing:
            conn.execute(
                upsert(conn, positions).on_conflict_do_nothing(),
                [k._asdict() for k in sorted(landing)],
            )
        wanted = {e.key for e in self._ends}
        ids: dict[lookup.PositionKey, int] = {}
        query = select(
            positions.c.id, positions.c.sku_id, positions.c.location_id,
            positions.c.bin_id, positions.c.lot_code,
        ).where(among(positions.c.sku_id, {k.sku_id for k in wanted}))  # fmt: skip
        for r in conn.execute(query):
            key = lookup.PositionKey(r.sku_id, r.location_id, r.bin_id, r.lot_code)
            if key in wanted:
                ids[key] = int(r.id)
        for end in self._ends:
            end.position_id = ids.get(end.key)


def _ids(places: dict[str, lookup.LocationRef]) -> set[int]:
    return {p.id for p in places.values()}
