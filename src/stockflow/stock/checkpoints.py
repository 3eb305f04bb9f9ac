"""Checkpointed verify: each run reads the moves since the last checkpoint, then moves it on.

The checkpoint is the ledger summed per position up to a move id, nothing
else: it never copies a position's stored totals, so drift there cannot leak
into it. A run that finds everything in agreement moves it to the newest
settled move (``adapters/settled.py``: one below which no transaction still
running can commit a move); a run that finds drift leaves it where it was.
``full`` sums the whole ledger from zero and checks the checkpoint against it
too; when the checkpoint is all that disagrees, the full sum replaces it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from stockflow.adapters.database import Database
from stockflow.adapters.settled import settled_through
from stockflow.adapters.tables import balance_checkpoints, ledger_checkpoints, stock_moves
from stockflow.adapters.upsert import upsert
from stockflow.stock.queries.verify import Drift, ledger_balances, moves_after, verify
from stockflow.stock.rules.access import EVERYWHERE, Scope

_THE_ROW = 1


@dataclass(frozen=True, slots=True)
class Verification:
    """What one run of verify found and read, and where it left the checkpoint."""

    drift: list[Drift]
    full: bool
    since: int  # the move the ledger was read after (0: from the first move)
    moves_read: int
    previous: int  # the checkpoint before this run
    checkpoint: int  # the checkpoint after it
    rebuilt: bool = False  # the checkpoint disagreed with the ledger and was replaced

    @property
    def moved(self) -> bool:
        """Whether this run wrote a new checkpoint."""
        return self.rebuilt or self.checkpoint != self.previous


def verify_books(
    db: Database,
    *,
    now: Callable[[], datetime],
    full: bool = False,
    scope: Scope = EVERYWHERE,
    settle_timeout: float = 10.0,
) -> Verification:
    """Check I1-I3 from the checkpoint on (from zero with ``full``) and move the checkpoint on.

    Only an unlimited caller moves the checkpoint: one limited to some sites
    has not seen the others agree.
    """
    settled = settled_through(db, stock_moves, timeout=settle_timeout) if scope.unlimited else None
    with db.read(repeatable=True) as conn:
        since = last_checkpoint(conn)
        start = 0 if full else since
        found_all = verify(conn, scope=scope, since=start, checkpoint=since if full else 0)
        kept = [d for d in found_all if d.invariant == "checkpoint"]
        drift = [d for d in found_all if d.invariant != "checkpoint"]
        moves_read = moves_after(conn, start)
        through = _newest_move(conn, settled) if settled is not None else since
    found = Verification(found_all, full, start, moves_read, since, since)
    if settled is None or drift:
        return found
    if kept:
        db.retrying(lambda: _rebuild(db, through, now()))
        return replace(found, checkpoint=through, rebuilt=True)
    if through > since and db.retrying(lambda: _advance(db, since, through, now())):
        return replace(found, checkpoint=through)
    return found


def last_checkpoint(conn: Connection) -> int:
    """The move id the checkpoint's balances are summed through (0: no checkpoint yet)."""
    found = conn.execute(
        select(ledger_checkpoints.c.through_move_id).where(ledger_checkpoints.c.id == _THE_ROW)
    ).scalar()
    return int(found or 0)


def _newest_move(conn: Connection, limit: int) -> int:
    """The newest move at or below ``limit`` that this snapshot sees (0: none)."""
    query = select(func.max(stock_moves.c.id)).where(stock_moves.c.id <= limit)
    return int(conn.execute(query).scalar() or 0)


def _advance(db: Database, since: int, through: int, now: datetime) -> bool:
    """Add the moves after ``since`` up to ``through``; False if another run moved it first."""
    with db.write() as conn:
        if not _claim(conn, since, through, now):
            return False
        totals = ledger_balances(after=since, through=through)
        insert = upsert(conn, balance_checkpoints).from_select(
            ["position_id", "on_hand"],
            select(totals.c.pid, totals.c.ledger).where(totals.c.ledger != 0),
        )
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[balance_checkpoints.c.position_id],
                set_={"on_hand": balance_checkpoints.c.on_hand + insert.excluded.on_hand},
            )
        )
    return True


def _rebuild(db: Database, through: int, now: datetime) -> None:
    """Replace every balance with the whole ledger summed up to ``through``."""
    with db.write() as conn:
        _claim(conn, None, through, now)
        conn.execute(delete(balance_checkpoints))
        totals = ledger_balances(through=through)
        conn.execute(
            balance_checkpoints.insert().from_select(
                ["position_id", "on_hand"],
                select(totals.c.pid, totals.c.ledger).where(totals.c.ledger != 0),
            )
        )


def _claim(conn: Connection, since: int | None, through: int, now: datetime) -> bool:
    """Move the checkpoint row to ``through`` if it still stands at ``since`` (None: wherever).

    The row's lock is held to commit, so two runs never both add their moves.
    """
    conn.execute(
        upsert(conn, ledger_checkpoints)
        .values(id=_THE_ROW, through_move_id=0, taken_at=now)
        .on_conflict_do_nothing(index_elements=[ledger_checkpoints.c.id])
    )
    query = update(ledger_checkpoints).where(ledger_checkpoints.c.id == _THE_ROW)
    if since is not None:
        query = query.where(ledger_checkpoints.c.through_move_id == since)
    return conn.execute(query.values(through_move_id=through, taken_at=now)).rowcount == 1
