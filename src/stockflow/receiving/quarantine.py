"""Quarantine decisions: damaged or doubtful units are released to storage or scrapped.

Quarantined units are on hand but never available; a release moves them to a
storage bin, where they may be promised (and waiting orders get their chance
after commit), and a scrap writes them off. Either way a person says why.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from stockflow.adapters.outbox import record
from stockflow.errors import StockflowError
from stockflow.receiving.putaway import bin_row
from stockflow.receiving.rules.putaway import QuarantineDecision
from stockflow.stock import lookup
from stockflow.stock.bins import work_bin
from stockflow.stock.ledger import MoveRecord, post_move
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import StockFreed
from stockflow.stock.rules.places import BinRole

# The move's ends are the caller's location, bins and lot.
_FIELDS = {"from.lot": "lot", "to.lot": "lot", "from.bin": "from_bin", "to.bin": "to_bin"}


def decide(
    conn: Connection, cmd: QuarantineDecision, *, release: bool, now: datetime,
    scope: Scope = EVERYWHERE,
) -> MoveRecord:  # fmt: skip
    """Release quarantined units (checked) to a storage bin, or scrap them; the ledger move.

    A location outside ``scope`` is refused by name.
    """
    require_location(scope, cmd.location, field="location")
    place = lookup.location_by_code(conn, cmd.location)
    if cmd.from_bin is not None:
        source = bin_row(conn, place, cmd.from_bin, field="from_bin", role=BinRole.QUARANTINE).code
    else:
        _, source = work_bin(conn, place.id, BinRole.QUARANTINE)
    target = None
    if release and cmd.to_bin is not None:
        storage = bin_row(conn, place, cmd.to_bin, field="to_bin", role=BinRole.STORAGE)
        target = Place(place.code, storage.code, cmd.lot)
    move = PostMove(
        cmd.sku,
        cmd.qty,
        "move" if release else "scrap",
        source=Place(place.code, source, cmd.lot),
        target=target,
        actor=cmd.actor,
        reference="quarantine release" if release else "quarantine scrap",
        note=cmd.note,
        idempotency_key=cmd.idempotency_key,
    )
    try:
        moved = post_move(conn, move, now=now)
    except StockflowError as exc:
        exc.field = _FIELDS.get(exc.field or "", exc.field)
        raise
    if release and not moved.replayed:
        record(conn, StockFreed.of([moved.sku], "quarantine"), now=now)
    return moved
