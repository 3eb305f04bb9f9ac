"""One import, one unit: a file goes in whole or not at all, once, and is recorded.

Every import (SKUs, locations, bins, opening stock, orders, purchase orders)
runs through ``run_import``:

1. The file's SHA-256 is worked out. A file of that kind with those bytes
   that went in before is answered with the earlier run: nothing changes.
2. The import's own work (check every row, then write) runs in ONE
   transaction, which first claims the file in ``import_runs`` (two runs of
   one file at once: the second waits for the first and then finds it) and
   last records what it wrote. A problem anywhere rolls all of it back.
3. A dry run does the same checks and rolls back, whatever they find.
4. After commit the reactions run (waiting orders get the new stock,
   promise dates move). One that fails is tried again; if it still fails,
   the import is still reported as done, with the failure beside it: the
   next reaction for the same SKUs, or ``stockflow orders fill-backorders``,
   does what it missed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Row, select, update

from stockflow.adapters import audit
from stockflow.adapters.database import Running
from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.tables import import_runs
from stockflow.adapters.upsert import upsert
from stockflow.errors import InvalidInput

S = TypeVar("S")

ProgressCallback = Callable[[int, int], None]
"""Called now and then with (rows done so far, rows in the file)."""

ACTOR = "import"
"""Who an import is recorded under when no one is named (a library call)."""


@dataclass(frozen=True, slots=True)
class ImportRun:
    """A file that went in: what, when, by whom, and what it wrote."""

    id: int
    kind: str
    file: str
    sha256: str
    rows: int
    actor: str
    started_at: datetime
    finished_at: datetime
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did and how long it took.

    ``earlier``: the same file went in before (this run changed nothing).
    ``dry_run``: the file was only checked. ``followup_failed``: the import
    is saved, but a reaction after it failed (see the module's note).
    """

    kind: str
    file: str
    rows: int
    seconds: float
    dry_run: bool = False
    earlier: ImportRun | None = None
    followup_failed: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Throughput of the whole import, reading the file included."""
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)


@dataclass(frozen=True, slots=True)
class Outcome(Generic[S]):
    """What ``run_import`` hands back: the work's result, or the earlier run that makes it moot."""

    result: S | None
    earlier: ImportRun | None
    followup_failed: str | None
    seconds: float


class _Rehearsed(Exception):
    """Raised inside a dry run's transaction, once its checks passed, to roll it back."""

    def __init__(self, result: object) -> None:
        super().__init__("dry run")
        self.result = result


def file_digest(path: Path) -> str:
    """The SHA-256 of the file's bytes, in hex."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path.name}: {exc.strerror}", field="file") from None
    return digest.hexdigest()


def run_import(
    sf: Running,
    path: Path,
    kind: str,
    prepare: Callable[[], Callable[[Connection], tuple[S, int, dict[str, Any]]]],
    *,
    dry_run: bool = False,
) -> Outcome[S]:
    """Import ``path`` once, as one unit (see the module's note).

    ``prepare`` reads and checks the file outside any transaction and
    returns the work that writes it: on a connection, it checks the rows
    against the database, writes them, and returns its result, the file's
    data row count and a JSON-ready summary for the record.
    """
    started = time.perf_counter()
    digest = file_digest(path)
    if not dry_run:
        earlier = sf.db.snapshot(lambda conn: earlier_run(conn, kind, digest))
        if earlier is not None:
            return Outcome(None, earlier, None, time.perf_counter() - started)
    work = prepare()
    actor = _actor()
    begun = sf.clock()

    def unit(conn: Connection) -> tuple[S | None, ImportRun | None]:
        earlier = claim(conn, kind, digest, file=path.name, actor=actor, now=begun)
        if earlier is not None and not dry_run:
            return None, earlier
        result, rows, summary = work(conn)
        if dry_run:
            raise _Rehearsed(result)
        finish(conn, kind, digest, rows=rows, summary=summary, now=sf.clock())
        return result, None

    try:
        (result, earlier), events = sf.db.commit(unit, idempotent=True)
    except _Rehearsed as rehearsed:
        done: S = rehearsed.result  # type: ignore[assignment]
        return Outcome(done, None, None, time.perf_counter() - started)
    failed = sf.db.settle(events)
    return Outcome(result, earlier, str(failed) if failed else None, time.perf_counter() - started)


def earlier_run(conn: Connection, kind: str, sha256: str) -> ImportRun | None:
    """The run that imported a file of this kind with these bytes, if one did."""
    found = conn.execute(
        select(import_runs).where(import_runs.c.kind == kind, import_runs.c.sha256 == sha256)
    ).first()
    return None if found is None else _run(found)


def claim(
    conn: Connection, kind: str, sha256: str, *, file: str, actor: str, now: datetime
) -> ImportRun | None:
    """Claim the file for this transaction; the earlier run instead when it went in before.

    The claim is the row that records the run, written first: another
    transaction importing the same file waits on it and then finds it.
    """
    row = {
        "kind": kind, "sha256": sha256, "file": file[:255], "rows": 0, "actor": actor[:64],
        "started_at": now, "finished_at": now, "summary": {},
    }  # fmt: skip
    claiming = upsert(conn, import_runs).values(row).on_conflict_do_nothing()
    inserted = conn.execute(claiming.returning(import_runs.c.id)).first()
    return earlier_run(conn, kind, sha256) if inserted is None else None


def finish(
    conn: Connection, kind: str, sha256: str, *, rows: int, summary: dict[str, Any], now: datetime
) -> None:
    """Record what the claimed run wrote, as it commits."""
    conn.execute(
        update(import_runs)
        .where(import_runs.c.kind == kind, import_runs.c.sha256 == sha256)
        .values(rows=rows, summary=summary, finished_at=now)
    )


IMPORTS = Keyset("imports", Key(import_runs.c.id, descending=True))


def import_run_page(
    conn: Connection, *, kind: str | None = None, after: str | None = None, limit: int = 100
) -> Page[ImportRun]:
    """Past imports, newest first; ``after`` is the cursor the previous page gave."""
    query = select(import_runs)
    if kind is not None:
        query = query.where(import_runs.c.kind == kind)
    return IMPORTS.page(conn, query, after=after, limit=limit).map(_run)


def _run(r: Row[Any]) -> ImportRun:
    return ImportRun(
        id=int(r.id), kind=r.kind, file=r.file, sha256=r.sha256, rows=int(r.rows),
        actor=r.actor, started_at=r.started_at, finished_at=r.finished_at,
        summary=dict(r.summary or {}),
    )  # fmt: skip


def _actor() -> str:
    """Who runs the import: the principal a front end is acting for, else ``import``."""
    acting = audit.current()
    return acting.actor if acting is not None else ACTOR
