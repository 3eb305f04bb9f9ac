"""Turn the codes people type (SKU, location, bin) into rows, with errors that name the field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Connection, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import bins, locations, positions, skus
from stockflow.errors import InactiveSku, UnknownBin, UnknownLocation, UnknownSku
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.places import DEFAULT_BIN
from stockflow.stock.visibility import location_condition

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SkuRef:
    """The parts of a SKU row that stock rules need."""

    id: int
    code: str
    active: bool
    lot_tracked: bool


@dataclass(frozen=True, slots=True)
class LocationRef:
    """The parts of a location row that stock rules need."""

    id: int
    code: str
    kind: str
    allow_negative: bool


def skus_by_code(conn: Connection, codes: Iterable[str]) -> dict[str, SkuRef]:
    """Every known SKU among ``codes``, by code."""
    wanted = set(codes)
    if not wanted:
        return {}
    query = select(skus.c.id, skus.c.code, skus.c.active, skus.c.lot_tracked)
    return {
        r.code: SkuRef(r.id, r.code, bool(r.active), bool(r.lot_tracked))
        for r in conn.execute(query.where(among(skus.c.code, wanted)))
    }


def sku_codes(conn: Connection, ids: Iterable[int]) -> list[str]:
    """The codes of these SKU ids, in code order."""
    wanted = set(ids)
    if not wanted:
        return []
    return sorted(conn.execute(select(skus.c.code).where(among(skus.c.id, wanted))).scalars())


def locations_by_code(
    conn: Connection, codes: Iterable[str], *, scope: Scope = EVERYWHERE
) -> dict[str, LocationRef]:
    """Every known location among ``codes`` that the scope sees, by code."""
    wanted = set(codes)
    if not wanted:
        return {}
    columns = (locations.c.id, locations.c.code, locations.c.kind, locations.c.allow_negative)
    query = select(*columns).where(among(locations.c.code, wanted))
    seen = location_condition(scope, locations.c.id)
    if seen is not None:
        query = query.where(seen)
    return {
        r.code: LocationRef(r.id, r.code, r.kind, bool(r.allow_negative))
        for r in conn.execute(query)
    }


def sku_by_code(conn: Connection, code: str, *, field: str = "sku", active: bool = False) -> SkuRef:
    """The SKU with ``code``; with ``active=True`` an inactive one is refused too."""
    found = skus_by_code(conn, [code]).get(code)
    if found is None:
        raise UnknownSku(f"no SKU with code {code!r}", field=field)
    if active and not found.active:
        raise InactiveSku(f"SKU {code} is inactive", field=field)
    return found


def location_by_code(
    conn: Connection, code: str, *, field: str = "location", scope: Scope = EVERYWHERE
) -> LocationRef:
    """The location with ``code``; one the scope does not see is answered as unknown."""
    found = locations_by_code(conn, [code], scope=scope).get(code)
    if found is None:
        raise UnknownLocation(f"no location with code {code!r}", field=field)
    return found


def bin_id(conn: Connection, location: LocationRef, code: str | None, *, field: str = "bin") -> int:
    """The id of bin ``code`` (or the default bin) inside ``location``."""
    wanted = code or DEFAULT_BIN
    found = conn.execute(
        select(bins.c.id).where(bins.c.location_id == location.id, bins.c.code == wanted)
    ).scalar()
    if found is None:
        raise UnknownBin(f"location {location.code} has no bin {wanted!r}", field=field)
    return int(found)


class PositionKey(NamedTuple):
    """What makes a position: a SKU in a bin of a location, in one lot ('' for none)."""

    sku_id: int
    location_id: int
    bin_id: int
    lot_code: str

    def where(self) -> list[ColumnElement[bool]]:
        """SQL conditions matching this key."""
        return [positions.c[name] == value for name, value in self._asdict().items()]
