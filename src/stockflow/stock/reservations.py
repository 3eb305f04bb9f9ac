"""Reserving stock: the one locked code path every allocation goes through.

``reserve_many`` takes a batch of independent requests, locks the positions
they could use in lock order, plans each request all-or-nothing against those
locked rows (first-expiring lot first) and writes the accepted ones with a few
set-based statements. A batch of one is an ordinary reservation; the
``ReservationDesk`` feeds it bigger batches under load (group commit).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import Connection, select

from stockflow.adapters import audit, bulk
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocations,
    audit_log,
    positions,
    reservations,
)
from stockflow.errors import (
    IdempotencyKeyReused,
    InactiveSku,
    InvalidInput,
    StockflowError,
    UnknownLocation,
    UnknownSku,
)
from stockflow.stock import lookup
from stockflow.stock.book import load_book
from stockflow.stock.changes import write_and_tell
from stockflow.stock.queries.reservations import AllocationView, ReservationView, load_reservations
from stockflow.stock.rules.allocation import LineRequest, PlannedAllocation, StockBook
from stockflow.stock.rules.commands import Reserve, ReserveLine
from stockflow.stock.rules.quantities import MAX_QUANTITY, positive_quantity
from stockflow.stock.rules.reservation_lifecycle import ReservationStatus

Outcome = ReservationView | StockflowError

_OPEN = ReservationStatus.OPEN.value  # looked up once: rows are built per reservation


def check_reserve(cmd: Reserve) -> None:
    """Refuse a malformed request before it touches the database."""
    if not cmd.lines:
        raise InvalidInput("a reservation needs at least one line", field="lines")
    if cmd.idempotency_key is not None and not cmd.idempotency_key:
        raise InvalidInput("must not be empty", field="idempotency_key")
    for i, line in enumerate(cmd.lines):
        if not line.sku:
            raise InvalidInput("is required", field=f"lines[{i}].sku")
        qty = line.qty
        if type(qty) is not int or not 0 < qty <= MAX_QUANTITY:  # the common case, cheaply
            positive_quantity(qty, field=f"lines[{i}].qty")
    if len(cmd.lines) > 1:
        seen: set[tuple[str, str | None, str | None]] = set()
        for i, line in enumerate(cmd.lines):
            key = (line.sku, line.location, line.lot)
            if key in seen:
                raise InvalidInput(
                    f"SKU {line.sku} appears twice; put it on one line", field=f"lines[{i}].sku"
                )
            seen.add(key)


def reserve_many(
    conn: Connection, requests: Sequence[Reserve], *, today: date, now: datetime
) -> list[Outcome]:
    """Reserve each request all-or-nothing, in order; one outcome per request."""
    outcomes: list[Outcome | None] = [None] * len(requests)
    replays = _replays(conn, requests)
    live = [r for r in requests if r.idempotency_key not in replays]
    book, sku_refs = load_book(conn, {ln.sku for r in live for ln in r.lines}, today, lock=True)
    loc_refs = lookup.locations_by_code(
        conn, (ln.location for r in live for ln in r.lines if ln.location)
    )
    plans = _line_plans(requests, replays, sku_refs, loc_refs, outcomes)
    accepted, claimed = _plan(requests, plans, book, outcomes)
    views = _write(conn, requests, accepted, book, now=now)
    for i, view in views.items():
        outcomes[i] = view
    _answer_keys(requests, replays, claimed, outcomes)
    return [o if o is not None else InvalidInput("not processed") for o in outcomes]


def _line_plans(
    requests: Sequence[Reserve],
    replays: dict[str, ReservationView],
    sku_refs: dict[str, lookup.SkuRef],
    loc_refs: dict[str, lookup.LocationRef],
    outcomes: list[Outcome | None],
) -> dict[int, list[LineRequest]]:
    """Each new request's lines checked against the catalogue (a bad one gets its error)."""
    plans: dict[int, list[LineRequest]] = {}
    asked: dict[tuple[ReserveLine, ...], list[LineRequest]] = {}
    for i, request in enumerate(requests):
        if request.idempotency_key in replays:
            continue
        lines = asked.get(request.lines)
        if lines is None:
            try:
                lines = asked[request.lines] = _line_requests(request, sku_refs, loc_refs)
            except StockflowError as exc:
                outcomes[i] = exc
                continue
        plans[i] = lines
    return plans


def _plan(
    requests: Sequence[Reserve],
    plans: dict[int, list[LineRequest]],
    book: StockBook,
    outcomes: list[Outcome | None],
) -> tuple[dict[int, tuple[str, list[PlannedAllocation]]], dict[str, int]]:
    """Plan each request against the locked book in order; the accepted, and keys claimed."""
    # The book only shrinks during a batch: a request refused once is refused
    # again when asked the same way (a crowd asks the same way).
    refused: dict[tuple[ReserveLine, ...], StockflowError] = {}
    accepted: dict[int, tuple[str, list[PlannedAllocation]]] = {}
    claimed: dict[str, int] = {}
    for i, lines in plans.items():
        request = requests[i]
        key = request.idempotency_key
        if key is not None and key in claimed:
            continue  # a twin earlier in this batch; it gets the same answer below
        if request.lines in refused:
            outcomes[i] = refused[request.lines].twin()
            continue
        try:
            accepted[i] = (uuid.uuid4().hex, book.plan(lines))
        except StockflowError as exc:
            outcomes[i] = refused[request.lines] = exc
            continue
        if key is not None:
            claimed[key] = i
    return accepted, claimed


def _answer_keys(
    requests: Sequence[Reserve],
    replays: dict[str, ReservationView],
    claimed: dict[str, int],
    outcomes: list[Outcome | None],
) -> None:
    """Keyed requests not yet answered: a replay of an earlier write, or a twin's answer."""
    for i, request in enumerate(requests):
        key = request.idempotency_key
        if outcomes[i] is not None or key is None:
            continue
        if key in replays:
            earlier = replays[key]
            outcomes[i] = (
                replace(earlier, replayed=True)
                if _same_lines(earlier, request)
                else IdempotencyKeyReused(key)
            )
        elif key in claimed:
            twin = outcomes[claimed[key]]
            outcomes[i] = (
                replace(twin, replayed=True) if isinstance(twin, ReservationView) else twin
            )


def refusals(conn: Connection, requests: Sequence[Reserve], *, today: date) -> list[Outcome] | None:
    """Refuse a whole batch from a committed snapshot, without taking a lock.

    When every request is refused (no stock, unknown SKU...), those answers are
    as true as the locked path's: the snapshot was taken after the requests
    arrived. As soon as one request could succeed, or one is a replay, this
    returns None and the batch must go the locked way.
    """
    if _replays(conn, requests):
        return None
    book, sku_refs = load_book(conn, {ln.sku for r in requests for ln in r.lines}, today)
    loc_refs = lookup.locations_by_code(
        conn, (ln.location for r in requests for ln in r.lines if ln.location)
    )
    outcomes: list[Outcome] = []
    answers: dict[tuple[ReserveLine, ...], StockflowError] = {}  # a crowd asks the same question
    for request in requests:
        known = answers.get(request.lines)
        if known is not None:
            outcomes.append(known.twin())
            continue
        try:
            book.plan(_line_requests(request, sku_refs, loc_refs))
        except StockflowError as exc:
            answers[request.lines] = exc
            outcomes.append(exc)
            continue
        return None
    return outcomes


def _same_lines(view: ReservationView, request: Reserve) -> bool:
    """Whether a retried request asks for what the stored reservation was made for."""
    held: dict[str, int] = defaultdict(int)
    for a in view.allocations:
        held[a.sku] += a.qty
    return dict(held) == {ln.sku: ln.qty for ln in request.lines}


def _replays(conn: Connection, requests: Sequence[Reserve]) -> dict[str, ReservationView]:
    keys = {r.idempotency_key for r in requests if r.idempotency_key is not None}
    if not keys:
        return {}
    rows = conn.execute(
        select(reservations.c.id, reservations.c.idempotency_key).where(
            among(reservations.c.idempotency_key, keys)
        )
    ).all()
    views = load_reservations(conn, [r.id for r in rows])
    return {r.idempotency_key: views[r.id] for r in rows}


def _line_requests(
    request: Reserve,
    sku_refs: dict[str, lookup.SkuRef],
    loc_refs: dict[str, lookup.LocationRef],
) -> list[LineRequest]:
    lines = []
    for i, line in enumerate(request.lines):
        field = f"lines[{i}]"
        sku = sku_refs.get(line.sku)
        if sku is None:
            raise UnknownSku(f"no SKU with code {line.sku!r}", field=f"{field}.sku")
        if not sku.active:
            raise InactiveSku(f"SKU {line.sku} is inactive", field=f"{field}.sku")
        location = loc_refs.get(line.location) if line.location else None
        if line.location and location is None:
            raise UnknownLocation(
                f"no location with code {line.location!r}", field=f"{field}.location"
            )
        lines.append(
            LineRequest(
                sku_id=sku.id,
                sku_code=sku.code,
                qty=line.qty,
                field=field,
                location_id=location.id if location else None,
                location_code=location.code if location else None,
                lot_code=line.lot,
            )
        )
    return lines


def _write(
    conn: Connection,
    requests: Sequence[Reserve],
    accepted: dict[int, tuple[str, list[PlannedAllocation]]],
    book: StockBook,
    *,
    now: datetime,
) -> dict[int, ReservationView]:
    """Insert the accepted reservations and raise ``allocated`` with set-based statements."""
    if not accepted:
        return {}
    delta: dict[int, int] = defaultdict(int)
    for _, plan in accepted.values():
        for a in plan:
            delta[a.position_id] += a.qty
    # The batch's last change to stock: its totals are told in the same round trip.
    write_and_tell(
        conn,
        bulk.Insert(
            reservations,
            [
                {
                    "id": rid,
                    "owner_ref": requests[i].owner_ref,
                    "status": _OPEN,
                    "idempotency_key": requests[i].idempotency_key,
                    "created_at": now,
                }
                for i, (rid, _) in accepted.items()
            ],
        ),
        bulk.Insert(
            allocations,
            [
                {
                    "reservation_id": rid,
                    "line_no": a.line_index + 1,
                    "position_id": a.position_id,
                    "qty": a.qty,
                }
                for rid, plan in accepted.values()
                for a in plan
            ],
        ),
        bulk.Increment(positions, {pid: {"allocated": q} for pid, q in delta.items()}),
        # Who asked, when a desk staged it: in the same statement, no extra round trip.
        bulk.Insert(audit_log, audit.staged_rows(conn, accepted.keys(), now=now)),
        position_ids=delta,
        now=now,
    )
    return {
        i: ReservationView(
            id=rid,
            owner_ref=requests[i].owner_ref,
            status=_OPEN,
            created_at=now,
            closed_at=None,
            allocations=tuple(_allocation_view(requests[i], a, book) for a in plan),
        )
        for i, (rid, plan) in accepted.items()
    }


def _allocation_view(request: Reserve, a: PlannedAllocation, book: StockBook) -> AllocationView:
    c = book.candidate(a.position_id)
    return AllocationView(
        line_no=a.line_index + 1,
        sku=request.lines[a.line_index].sku,
        location=c.location_code,
        bin=c.bin_code,
        lot=c.lot_code or None,
        qty=a.qty,
    )
