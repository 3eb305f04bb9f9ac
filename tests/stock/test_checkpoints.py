"""Checkpointed verify: the daily check reads only the moves since the last checkpoint.

A run that finds everything in agreement moves the checkpoint to the moves it
has just read; one that finds drift leaves it. ``full`` sums the ledger from
the first move and checks the checkpoint against it. On PostgreSQL a move's id
is handed out before it commits, so the checkpoint must never pass a move
still being written: the real-thread tests hold one open while a later one
commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, func, select, text
from test_verify import run_cli, shape, tamper

from helpers import JOIN_TIMEOUT, add_sku, receive, setup_places
from stockflow.adapters.tables import balance_checkpoints, positions, stock_moves
from stockflow.bootstrap import Stockflow
from stockflow.stock.ledger import post_moves
from stockflow.stock.rules.access import Scope
from stockflow.stock.rules.commands import Place, PostMove, Reserve, ReserveLine

# A's position in WH1/MAIN, named so it stays the same row however the table was updated.
A_POSITION = (
    "id = (SELECT p.id FROM positions p JOIN skus s ON s.id = p.sku_id"
    " JOIN bins b ON b.id = p.bin_id WHERE s.code = 'A' AND b.code = 'MAIN')"
)


@pytest.fixture
def stocked(sf: Stockflow) -> Stockflow:
    """A and B in WH1 (three receipts and a scrap), 4 of A reserved."""
    setup_places(sf)
    add_sku(sf, "A")
    add_sku(sf, "B")
    receive(sf, "A", 10)
    receive(sf, "B", 7)
    receive(sf, "A", 5, bin="A-01")
    sf.post_move(PostMove("B", 2, "scrap", source=Place("WH1"), note="crushed"))
    sf.reserve(Reserve((ReserveLine("A", 4),)))
    return sf


def last_move(sf: Stockflow) -> int:
    with sf.db.read() as conn:
        return int(conn.execute(select(func.max(stock_moves.c.id))).scalar_one())


def kept_balances(sf: Stockflow) -> dict[int, int]:
    with sf.db.read() as conn:
        kept = balance_checkpoints.c
        rows = conn.execute(select(kept.position_id, kept.on_hand))
        return {int(pid): int(qty) for pid, qty in rows}


def on_hand(sf: Stockflow) -> dict[int, int]:
    with sf.db.read() as conn:
        rows = conn.execute(select(positions.c.id, positions.c.on_hand))
        return {int(pid): int(qty) for pid, qty in rows if qty}


def test_the_first_run_reads_everything_and_the_next_only_what_came_since(
    stocked: Stockflow,
) -> None:
    sf = stocked
    first = sf.verify_books()
    assert (first.drift, first.since, first.moves_read, first.previous) == ([], 0, 4, 0)
    assert first.checkpoint == last_move(sf)
    assert first.moved
    assert kept_balances(sf) == on_hand(sf)

    receive(sf, "B", 3)
    sf.post_move(PostMove("A", 2, "move", source=Place("WH1"), target=Place("WH1", "A-02")))
    second = sf.verify_books()
    assert (second.drift, second.since, second.moves_read) == ([], first.checkpoint, 2)
    assert second.checkpoint == last_move(sf)
    assert kept_balances(sf) == on_hand(sf)

    quiet = sf.verify_books()
    assert (quiet.moves_read, quiet.checkpoint, quiet.moved) == (0, second.checkpoint, False)


def test_drift_after_the_checkpoint_is_reported_as_before_and_the_checkpoint_stays(
    stocked: Stockflow,
) -> None:
    sf = stocked
    kept = sf.verify_books().checkpoint
    receive(sf, "A", 1)
    tamper(sf, f"UPDATE positions SET on_hand = on_hand + 3 WHERE {A_POSITION}")
    found = sf.verify_books()
    [drift] = found.drift
    assert drift.message == "A @ WH1/MAIN: on hand 14, ledger says 11"
    assert (found.moves_read, found.checkpoint, found.moved) == (1, kept, False)
    # Found again the next day: the move after the checkpoint is read again.
    again = sf.verify_books()
    assert shape(again.drift) == [("I1", "A @ WH1/MAIN", 11, 14)]
    assert again.moves_read == 1


def test_a_move_written_without_its_position_is_caught_by_the_daily_check(
    stocked: Stockflow,
) -> None:
    sf = stocked
    sf.verify_books()
    # A ledger row that reached the table but never the position (a bad manual fix).
    tamper(
        sf,
        "INSERT INTO stock_moves (sku_id, qty, to_position_id, reason, actor, created_at)"
        f" SELECT sku_id, 6, id, 'adjustment', 'someone', created_at FROM positions,"
        " (SELECT max(created_at) AS created_at FROM stock_moves) AS m"
        f" WHERE {A_POSITION}",
    )
    found = sf.verify_books()
    assert shape(found.drift) == [("I1", "A @ WH1/MAIN", 16, 10)]
    assert found.moves_read == 1
    assert not found.moved


def test_full_sums_from_the_first_move_and_finds_a_checkpoint_that_went_wrong(
    stocked: Stockflow,
) -> None:
    sf = stocked
    kept = sf.verify_books().checkpoint
    full = sf.verify_books(full=True)
    assert (full.drift, full.since, full.moves_read, full.checkpoint) == ([], 0, 4, kept)

    tamper(
        sf,
        "UPDATE balance_checkpoints SET on_hand = on_hand + 5"
        f" WHERE position_id IN (SELECT id FROM positions WHERE {A_POSITION})",
    )
    # The daily check only sees that on hand no longer adds up.
    assert shape(sf.verify()) == [("I1", "A @ WH1/MAIN", 15, 10)]
    full = sf.verify_books(full=True)
    [drift] = full.drift
    assert (drift.invariant, drift.subject, drift.expected, drift.actual) == (
        "checkpoint",
        "A @ WH1/MAIN",
        10,
        15,
    )
    assert drift.message == f"A @ WH1/MAIN: checkpoint through move {kept} says 15, ledger says 10"
    # Positions agree with the ledger, so the ledger's own sum replaces the checkpoint.
    assert full.rebuilt
    assert full.checkpoint == kept
    assert kept_balances(sf) == on_hand(sf)
    assert sf.verify() == []


def test_full_leaves_the_checkpoint_alone_when_positions_drifted(stocked: Stockflow) -> None:
    sf = stocked
    kept = sf.verify_books().checkpoint
    before = kept_balances(sf)
    receive(sf, "B", 1)
    tamper(sf, f"UPDATE positions SET on_hand = on_hand + 3 WHERE {A_POSITION}")
    found = sf.verify_books(full=True)
    assert shape(found.drift) == [("I1", "A @ WH1/MAIN", 10, 13)]
    assert (found.checkpoint, found.moved) == (kept, False)
    assert kept_balances(sf) == before


def test_a_caller_limited_to_sites_reads_from_the_checkpoint_but_never_moves_it(
    stocked: Stockflow,
) -> None:
    sf = stocked
    kept = sf.verify_books().checkpoint
    receive(sf, "A", 1)
    found = sf.verify_books(scope=Scope(locations=frozenset({"WH1"})))
    assert (found.drift, found.since, found.moves_read) == ([], kept, 1)
    assert (found.checkpoint, found.moved) == (kept, False)


def test_cli_says_how_many_moves_it_read(stocked: Stockflow, db_url: str) -> None:
    first = run_cli("verify", "--db", db_url)
    assert first.returncode == 0, first.stderr
    moves = last_move(stocked)
    assert f"read 4 moves from the first move; checkpoint moved to move {moves}" in first.stdout
    assert "verify: ledger, positions and allocations agree" in first.stdout
    receive(stocked, "A", 1)
    daily = run_cli("verify", "--db", db_url)
    assert f"read 1 move after move {moves}; checkpoint moved to move {moves + 1}" in daily.stdout
    full = run_cli("verify", "--full", "--db", db_url)
    assert full.returncode == 0, full.stderr
    assert f"read 5 moves from the first move; checkpoint stays at move {moves + 1}" in full.stdout


# PostgreSQL: ids are handed out before commit ---------------------------------------


@pytest.fixture
def pg_stocked(pg_only_url: str) -> Iterator[Stockflow]:
    """Two SKUs on PostgreSQL, so two writers lock different positions."""
    app = Stockflow.open(pg_only_url, migrate_schema=False)
    setup_places(app)
    add_sku(app, "A")
    add_sku(app, "B")
    receive(app, "A", 10)
    receive(app, "B", 10)
    yield app
    app.close()


class HeldMove:
    """A ledger write that has taken its move id and not committed until ``commit``."""

    def __init__(self, sf: Stockflow, sku: str, qty: int) -> None:
        self.moved = threading.Event()
        self.release = threading.Event()
        self.errors: list[BaseException] = []
        self.move_id = 0

        def work(conn: Connection) -> None:
            [record] = post_moves(conn, [PostMove(sku, qty, "receipt", target=Place("WH1"))],
                                  now=sf.clock())  # fmt: skip
            self.move_id = record.id
            self.moved.set()
            assert self.release.wait(JOIN_TIMEOUT)

        def run() -> None:
            try:
                sf.db.run(work, attempts=1)
            except BaseException as exc:
                self.errors.append(exc)
                self.moved.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.moved.wait(JOIN_TIMEOUT)
        assert not self.errors

    def commit(self) -> None:
        self.release.set()
        self.thread.join(JOIN_TIMEOUT)
        assert not self.thread.is_alive()
        assert not self.errors


@pytest.mark.postgres_only
def test_a_move_committed_after_a_later_one_is_never_skipped(pg_stocked: Stockflow) -> None:
    sf = pg_stocked
    sf.verify_books()
    held = HeldMove(sf, "A", 3)  # takes the lower id, commits last
    later = sf.post_move(PostMove("B", 4, "receipt", target=Place("WH1")))
    assert later.id > held.move_id

    outcome: list[object] = []
    checking = threading.Thread(target=lambda: outcome.append(sf.verify_books()), daemon=True)
    checking.start()
    time.sleep(0.5)
    waited = checking.is_alive()
    # Other moves still commit meanwhile: the check waits beside the writer, in nobody's way.
    sf.post_move(PostMove("B", 1, "receipt", target=Place("WH1")))
    held.commit()
    checking.join(JOIN_TIMEOUT)
    [found] = outcome
    assert found.drift == []  # type: ignore[attr-defined]
    assert found.checkpoint >= later.id  # type: ignore[attr-defined]

    # Had the checkpoint passed the held move while it was invisible, A's 3
    # units would be missing from it, and on hand would not add up from then on.
    assert sf.verify() == []
    assert sf.verify_books(full=True).drift == []
    assert waited
    assert kept_balances(sf) == on_hand(sf)


@pytest.mark.postgres_only
def test_a_writer_still_running_after_the_wait_leaves_the_checkpoint_where_it_was(
    pg_stocked: Stockflow,
) -> None:
    sf = pg_stocked
    kept = sf.verify_books().checkpoint
    held = HeldMove(sf, "A", 3)
    sf.post_move(PostMove("B", 4, "receipt", target=Place("WH1")))
    try:
        found = sf.verify_books(settle_timeout=0.2)
        # The check itself is done: the committed move is read, the open one unseen.
        assert (found.drift, found.moves_read) == ([], 1)
        assert (found.checkpoint, found.moved) == (kept, False)
    finally:
        held.commit()
    after = sf.verify_books()
    assert (after.drift, after.moves_read) == ([], 2)
    assert after.checkpoint == last_move(sf)
    assert kept_balances(sf) == on_hand(sf)


@pytest.mark.postgres_only
def test_checks_racing_writers_agree_and_keep_the_checkpoint_whole(pg_stocked: Stockflow) -> None:
    sf = pg_stocked
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(sku: str) -> None:
        try:
            while not stop.is_set():
                sf.post_move(PostMove(sku, 1, "receipt", target=Place("WH1")))
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(s,), daemon=True) for s in ("A", "B", "A")]
    for w in writers:
        w.start()
    try:
        for _ in range(8):
            assert sf.verify_books().drift == []
    finally:
        stop.set()
        for w in writers:
            w.join(JOIN_TIMEOUT)
    assert not errors
    final = sf.verify_books(full=True)
    assert final.drift == []
    assert final.checkpoint == last_move(sf)
    assert kept_balances(sf) == on_hand(sf)
    with sf.db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_checkpoints")).scalar_one() == 1
