"""Exports: every row of a list at once, streamed as CSV or NDJSON, as the caller may see it.

No list answers a whole table (each is paged); whoever wants everything
exports it. One mechanism serves every export: an ``Export`` says what it
reads for a caller's scope (``adapters.exporting.Rows``), its columns, and
the permission it needs (its list's); ``Exports`` is the registry the
composition root fills and the API, the CLI and anything built later
(templates) read. ``open_export`` checks the caller before the first byte,
so a refusal is an error and not a truncated file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from stockflow.adapters.database import Database
from stockflow.adapters.exporting import CHUNK, FORMATS, Rows, stream
from stockflow.errors import Forbidden, InvalidInput, NotFound
from stockflow.stock.queries import atp, catalogue, ledger, orders
from stockflow.stock.rules.access import Action, Permission, Principal, Resource, Scope


class UnknownExport(NotFound):
    """Nothing of that name can be exported."""

    title = "Unknown export"


@dataclass(frozen=True, slots=True)
class Export:
    """Something that can be exported, and who may."""

    name: str
    description: str
    resource: Resource  # the caller needs <resource>:read, as for the matching list
    columns: tuple[str, ...]
    rows: Callable[[Scope, date], Rows]  # what a caller with this scope reads, today
    priced: frozenset[str] = field(default_factory=frozenset)  # blank unless it sees prices
    ledger: bool = False  # names other parties' orders and people: no channel or supplier scope

    @property
    def permission(self) -> Permission:
        """The permission a caller needs."""
        return Permission(self.resource, Action.READ)

    def admit(self, who: Principal) -> None:
        """Refuse a caller the matching list would refuse."""
        if not who.may(self.permission):
            raise Forbidden(f"the {who.role} role may not read {self.resource}")
        if self.ledger and not who.scope.reads_ledger:
            raise Forbidden("a caller limited to channels or suppliers may not read the ledger")


class Exports:
    """The registry of what can be exported, by name."""

    def __init__(self, exports: Iterable[Export]) -> None:
        self._by_name: dict[str, Export] = {}
        for export in exports:
            if export.name in self._by_name:
                raise ValueError(f"two exports are named {export.name!r}")
            self._by_name[export.name] = export

    def __iter__(self) -> Iterator[Export]:
        return iter(self._by_name.values())

    def get(self, name: str) -> Export:
        """The export called ``name``, or ``UnknownExport``."""
        found = self._by_name.get(name)
        if found is None:
            known = ", ".join(self._by_name)
            raise UnknownExport(f"nothing called {name!r} is exported (try {known})", field="what")
        return found


def open_export(
    db: Database, export: Export, who: Principal, *, fmt: str, today: date, chunk: int = CHUNK
) -> tuple[str, Iterator[bytes]]:
    """The media type and the bytes of an export for ``who``, once ``who`` is let in.

    The bytes come as they are read, a chunk of rows at a time; nothing is
    read before the first one is asked for.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"use one of: {', '.join(FORMATS)}", field="format")
    export.admit(who)
    media_type, write = FORMATS[fmt]
    values = stream(db, export.rows(who.scope, today), chunk=chunk)
    hidden = set() if who.sees_prices else export.priced
    if hidden:
        blank = [n for n, c in enumerate(export.columns) if c in hidden]
        values = (tuple(None if n in blank else v for n, v in enumerate(row)) for row in values)
    return media_type, write(export.columns, values)


CORE_EXPORTS = (
    Export(
        "skus",
        "The catalogue: every SKU, in code order",
        Resource.CATALOGUE,
        catalogue.SKU_COLUMNS,
        lambda scope, today: catalogue.sku_rows(scope),
        priced=frozenset({"unit_price"}),
    ),
    Export(
        "locations",
        "Every location the caller sees, in code order",
        Resource.CATALOGUE,
        catalogue.LOCATION_COLUMNS,
        lambda scope, today: catalogue.location_rows(scope),
    ),
    Export(
        "positions",
        "Every position (SKU x location x bin x lot) the caller sees, in key order",
        Resource.STOCK,
        atp.POSITION_COLUMNS,
        atp.position_rows,
    ),
    Export(
        "atp",
        "Available-to-promise of every SKU with stock, per sellable location, by SKU code",
        Resource.STOCK,
        atp.ATP_COLUMNS,
        atp.atp_rows,
    ),
    Export(
        "orders",
        "Every order the caller sees, one row per line, newest first",
        Resource.ORDERS,
        orders.ORDER_LINE_COLUMNS,
        lambda scope, today: orders.order_line_rows(scope),
        priced=frozenset({"value", "unit_price"}),
    ),
    Export(
        "moves",
        "The ledger: every move the caller sees, oldest first",
        Resource.LEDGER,
        ledger.MOVE_COLUMNS,
        lambda scope, today: ledger.move_rows(scope),
        ledger=True,
    ),
)
"""What the stock core exports; features add theirs in the composition root."""
