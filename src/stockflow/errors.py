"""Named errors of the domain; every one carries the field it is about."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self


class StockflowError(Exception):
    """Base of every error stockflow reports to a caller.

    ``field`` names the input the error is about (``lines[2].qty``), ``row`` the
    1-based data row of an imported file, when there is one. An error about a
    file is its first problem; ``also`` lists the others found (in row order,
    up to a limit) and ``more`` counts those left out of the list.
    """

    status = 400
    title = "Invalid request"
    also: tuple[StockflowError, ...] = ()
    more = 0

    def __init__(self, detail: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.row = row

    @property
    def problems(self) -> tuple[StockflowError, ...]:
        """Every problem listed: this one first, then ``also``."""
        return (self, *self.also)

    @property
    def problem_count(self) -> int:
        """How many problems were found in all, listed or not."""
        return 1 + len(self.also) + self.more

    def extra(self) -> dict[str, object]:
        """Machine-readable members added to the problem document."""
        return {}

    def twin(self) -> Self:
        """The same error as a fresh instance, for another caller to raise."""
        twin = type(self).__new__(type(self), *self.args)
        twin.__dict__.update(self.__dict__)
        return twin

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.detail}" if where else self.detail


class InvalidInput(StockflowError):
    """The request is malformed: wrong type, out of range, missing or duplicated."""

    status = 422
    title = "Invalid input"


class NotSignedIn(StockflowError):
    """No credentials, or ones that are unknown, expired or revoked."""

    status = 401
    title = "Not signed in"


class Forbidden(StockflowError):
    """The caller is known, but its role may not do this or may not send this field."""

    status = 403
    title = "Forbidden"


class TooManyRequests(StockflowError):
    """The caller asked faster than its limit allows; ``retry_after`` seconds until it may again."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def extra(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}


class NotFound(StockflowError):
    """A referenced thing (SKU, location, bin, reservation) does not exist."""

    status = 404
    title = "Not found"


class UnknownSku(NotFound):
    """The SKU code is not in the catalogue."""

    title = "Unknown SKU"


class UnknownLocation(NotFound):
    """The location code does not exist."""

    title = "Unknown location"


class UnknownBin(NotFound):
    """The bin code does not exist in that location."""

    title = "Unknown bin"


class UnknownReservation(NotFound):
    """No reservation has that id."""

    title = "Unknown reservation"


class Gone(StockflowError):
    """What was asked for existed once and is no longer kept (events past their retention)."""

    status = 410
    title = "Gone"


class Conflict(StockflowError):
    """The request is valid but clashes with the current state."""

    status = 409
    title = "Conflict"


class AlreadyExists(Conflict):
    """A thing with that code already exists."""

    title = "Already exists"


class InactiveSku(Conflict):
    """The SKU is switched off and takes no new stock or reservations."""

    title = "Inactive SKU"


class ExpiredLot(Conflict):
    """The requested lot is past its expiry date."""

    title = "Expired lot"


class ReservationClosed(Conflict):
    """The reservation has nothing open left to release or consume."""

    title = "Reservation closed"


class InsufficientStock(Conflict):
    """Not enough available stock; says how much there is."""

    title = "Insufficient stock"

    def __init__(
        self,
        *,
        sku: str,
        requested: int,
        available: int,
        location: str | None = None,
        field: str | None = None,
    ) -> None:
        where = f" at {location}" if location else ""
        super().__init__(
            f"SKU {sku}: requested {requested}, only {available} available{where}",
            field=field,
        )
        self.sku = sku
        self.requested = requested
        self.available = available
        self.location = location

    def extra(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "requested": self.requested,
            "available": self.available,
            "location": self.location,
        }


class IdempotencyKeyReused(Conflict):
    """An idempotency key came back with a different request than the first time."""

    title = "Idempotency key reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was first used for a different request; "
            "send a new key for a new request",
            field="Idempotency-Key",
        )


class ExternalIdReused(IdempotencyKeyReused):
    """A channel's external order id came back with a different order than the first time.

    The pair is an order's second idempotency key, so this is a kind of
    ``IdempotencyKeyReused``; it names the pair and the body field, because the
    caller may have sent no ``Idempotency-Key`` at all.
    """

    title = "External id reused"

    def __init__(self, channel: str, external_id: str) -> None:
        Conflict.__init__(
            self,
            f"channel {channel!r} already has an order with external_id {external_id!r} "
            "that differs from this one; send a new external_id for a new order",
            field="external_id",
        )


class ReactionFailed(StockflowError):
    """The command was saved; a reaction that runs after its commit failed.

    Reported as such (never as "nothing was changed"): retrying the command
    with its idempotency key replays it, and the reactions' work (offering
    stock to waiting orders, new promise dates) is also done by the next one
    that runs for the same SKUs.
    """

    status = 500
    title = "Saved, but a follow-up step failed"


class Problems:
    """The problems found checking a file: the first ``limit`` by row and column, and a count.

    Checks add what they find in any order; ``raise_any`` raises the first
    problem in the file with the rest as its ``also``.
    """

    def __init__(self, *, limit: int = 100, columns: Iterable[str] = ()) -> None:
        self.limit = limit
        self.count = 0
        self._found: list[StockflowError] = []
        self._column = {name: n for n, name in enumerate(columns)}

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, problem: StockflowError) -> None:
        """One more problem."""
        self.count += 1
        self._found.append(problem)
        if len(self._found) >= 4 * self.limit:
            self._found = self.listed()

    def copy(self) -> Problems:
        """A collector holding what this one holds, to add more to (one per attempt)."""
        other = Problems(limit=self.limit)
        other.count, other._found, other._column = self.count, list(self._found), self._column
        return other

    def counted(self, count: int) -> None:
        """Problems found beyond those added (a check that lists only its first few)."""
        self.count += count

    def listed(self) -> list[StockflowError]:
        """The first ``limit`` problems, in file order (row, then column)."""
        return sorted(self._found, key=self._place)[: self.limit]

    def raise_any(self) -> None:
        """Raise the first problem, carrying the others, if there is any."""
        if not self.count:
            return
        first, *rest = self.listed()
        first.also = tuple(rest)
        first.more = self.count - 1 - len(rest)
        raise first

    def _place(self, problem: StockflowError) -> tuple[int, int]:
        """Row, then column in file order; problems in one place keep the order they came in."""
        return (problem.row or 0, self._column.get(problem.field or "", len(self._column)))
