"""Who may do what: roles, the one permission table, and the scopes that narrow what a caller sees.

A permission is a resource and an action. Every role's permissions are listed
here and nowhere else; every HTTP route names the one permission it needs, and
the application refuses to start if a route names none.

A role says what kind of thing a caller may do; a scope says to which objects.
Internal staff usually have no scope (they see everything their role lets them
see) but a warehouse team may be limited to its sites. A partner always has
one: a 3PL its locations, a marketplace its sales channels, a supplier itself.
Scopes are applied inside the queries, so lists, single reads, documents and
writes all agree: an object outside the scope is answered as if it did not
exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from stockflow.errors import Forbidden


class Role(StrEnum):
    """What kind of work a caller does."""

    ADMIN = "admin"
    MANAGER = "manager"
    SALES = "sales"  # customer service
    WAREHOUSE = "warehouse"
    PURCHASING = "purchasing"
    READ_ONLY = "read_only"
    THREE_PL = "three_pl"  # a 3PL: a logistics partner running some of our sites
    MARKETPLACE = "marketplace"  # a sales channel run by someone else
    SUPPLIER = "supplier"


class Resource(StrEnum):
    """What a permission is about."""

    CATALOGUE = "catalogue"  # SKUs, kits, locations, bins, buffers, home bins
    STOCK = "stock"  # positions, ATP
    LEDGER = "ledger"  # the moves themselves, and verify: they name orders, references, people
    ADJUSTMENTS = "adjustments"  # booking stock in or out by hand
    RESERVATIONS = "reservations"
    ORDERS = "orders"
    CUSTOMERS = "customers"
    CHANNELS = "channels"
    EXCEPTIONS = "exceptions"
    PURCHASING = "purchasing"  # suppliers, purchase orders, expected supply
    ASNS = "asns"  # advance shipping notices: what a supplier says is on its way
    RECEIVING = "receiving"  # receipts, putaway, quarantine
    FLOOR = "floor"  # waves, picking, packing, shipping, documents
    TRANSFERS = "transfers"
    COUNTS = "counts"
    RETURNS = "returns"
    AUDIT = "audit"
    USERS = "users"  # users, their tokens
    WEBHOOKS = "webhooks"  # one's webhook subscriptions: they carry only what one may read


class Action(StrEnum):
    """Looking, or changing."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Permission:
    """One cell of the table: ``orders:write``."""

    resource: Resource
    action: Action

    def __str__(self) -> str:
        return f"{self.resource}:{self.action}"


def _grants(*cells: str) -> frozenset[Permission]:
    """Permissions written as ``resource:action``; ``resource:*`` is both actions."""
    found: set[Permission] = set()
    for cell in cells:
        resource, _, action = cell.partition(":")
        actions = list(Action) if action == "*" else [Action(action)]
        found.update(Permission(Resource(resource), a) for a in actions)
    return frozenset(found)


_EVERYTHING = frozenset(Permission(r, a) for r in Resource for a in Action)
_READ_ALL_STOCK = ("catalogue:read", "stock:read", "ledger:read")

# Every role may subscribe to webhooks (``webhooks:*``) but read_only, which only reads
# its own (none): a subscription carries only what its owner may read through the API,
# so owning one grants nothing more, and staff integrations (a warehouse system, a
# purchasing tool) need them as much as partners do.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _EVERYTHING,
    Role.MANAGER: _EVERYTHING - _grants("users:write"),
    Role.SALES: _grants(
        *_READ_ALL_STOCK,
        "reservations:*",
        "orders:*",
        "customers:*",
        "channels:read",
        "exceptions:*",
        "returns:*",
        "floor:read",
        "transfers:read",
        "webhooks:*",
    ),
    Role.WAREHOUSE: _grants(
        *_READ_ALL_STOCK,
        "catalogue:write",
        "adjustments:write",
        "orders:read",
        "exceptions:*",
        "receiving:*",
        "purchasing:read",
        "asns:read",
        "floor:*",
        "transfers:*",
        "counts:*",
        "returns:*",
        "webhooks:*",
    ),
    Role.PURCHASING: _grants(
        *_READ_ALL_STOCK,
        "catalogue:write",
        "purchasing:*",
        "asns:*",
        "receiving:read",
        "transfers:read",
        "exceptions:read",
        "orders:read",
        "webhooks:*",
    ),
    Role.READ_ONLY: frozenset(
        p
        for p in _EVERYTHING
        if p.action is Action.READ and p.resource not in (Resource.USERS, Resource.AUDIT)
    ),
    Role.THREE_PL: _grants(
        *_READ_ALL_STOCK,
        "orders:read",
        "receiving:*",
        "purchasing:read",
        "asns:read",
        "floor:*",
        "transfers:*",
        "counts:*",
        "returns:*",
        "webhooks:*",
    ),
    # Ledger rows name other parties' orders, references and people: not for a marketplace.
    Role.MARKETPLACE: _grants(
        "catalogue:read", "stock:read", "orders:*", "channels:read", "webhooks:*"
    ),
    Role.SUPPLIER: _grants("catalogue:read", "purchasing:read", "asns:*", "webhooks:*"),
}


class ScopeKind(StrEnum):
    """What a scope limits a caller to."""

    LOCATIONS = "locations"
    CHANNELS = "channels"
    SUPPLIER = "supplier"


# Each partner role is always limited, and to one kind of object.
PARTNER_SCOPE: dict[Role, ScopeKind] = {
    Role.THREE_PL: ScopeKind.LOCATIONS,
    Role.MARKETPLACE: ScopeKind.CHANNELS,
    Role.SUPPLIER: ScopeKind.SUPPLIER,
}


@dataclass(frozen=True, slots=True)
class Scope:
    """The objects a caller may see; ``None`` on a side means no limit there.

    ``locations``: stock, moves, waves, shipments, receipts, counts, returns
    and transfers at these sites, and the orders shipped from them.
    ``channels``: orders of these channels and ATP as they see it.
    ``suppliers``: purchase orders and ASNs of these suppliers.
    """

    locations: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    suppliers: frozenset[str] | None = None

    @property
    def unlimited(self) -> bool:
        """True when nothing is hidden."""
        return self.locations is None and self.channels is None and self.suppliers is None

    @property
    def partner(self) -> bool:
        """True for a caller limited to some channels or suppliers (not just to sites)."""
        return self.channels is not None or self.suppliers is not None

    @property
    def reads_ledger(self) -> bool:
        """Whether ledger rows and drift may be read: they name other parties' orders and people.

        Staff limited to sites read those of their sites; a channel or a
        supplier reads none.
        """
        return not self.partner

    def sees_location(self, code: str) -> bool:
        """Whether objects at location ``code`` are visible."""
        return self.locations is None or code in self.locations

    def sees_channel(self, code: str) -> bool:
        """Whether orders of channel ``code`` are visible."""
        return self.channels is None or code in self.channels

    def sees_supplier(self, code: str) -> bool:
        """Whether purchase orders of supplier ``code`` are visible."""
        return self.suppliers is None or code in self.suppliers

    @staticmethod
    def of(kind: ScopeKind | None, codes: Iterable[str]) -> Scope:
        """The scope limiting to ``codes`` of ``kind``; no kind is no limit."""
        limit = frozenset(codes)
        if kind is ScopeKind.LOCATIONS:
            return Scope(locations=limit)
        if kind is ScopeKind.CHANNELS:
            return Scope(channels=limit)
        if kind is ScopeKind.SUPPLIER:
            return Scope(suppliers=limit)
        return EVERYWHERE


EVERYWHERE = Scope()


# Fields only some roles may see or set. A role not listed for a field gets it
# left out of what it reads, and is refused (not ignored) when it sends it.
COST_FIELDS_SEEN_BY = frozenset({Role.ADMIN, Role.MANAGER, Role.PURCHASING, Role.SUPPLIER})
COST_FIELDS_SET_BY = frozenset({Role.ADMIN, Role.MANAGER, Role.PURCHASING})
PRICE_FIELDS_HIDDEN_FROM = frozenset({Role.THREE_PL, Role.SUPPLIER})
PRICE_FIELDS_SET_BY = frozenset({Role.ADMIN, Role.MANAGER, Role.PURCHASING, Role.SALES})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user, through a browser session or one of its API tokens."""

    name: str  # the user's name; the ledger's actor for everything it does
    role: Role
    scope: Scope = EVERYWHERE
    user_id: int | None = None
    token_id: int | None = None  # None when signed in through a session
    rate_limit: float | None = None  # capture/reserve requests a second; None: the default

    @property
    def via(self) -> str:
        """How it signed in: ``token`` or ``session``."""
        return "token" if self.token_id is not None else "session"

    def may(self, permission: Permission) -> bool:
        """Whether the role grants ``permission``."""
        return permission in PERMISSIONS[self.role]

    @property
    def sees_costs(self) -> bool:
        """Whether unit costs are shown."""
        return self.role in COST_FIELDS_SEEN_BY

    @property
    def sets_costs(self) -> bool:
        """Whether unit costs may be sent."""
        return self.role in COST_FIELDS_SET_BY

    @property
    def sees_prices(self) -> bool:
        """Whether prices (of SKUs, of order lines, an order's value) are shown."""
        return self.role not in PRICE_FIELDS_HIDDEN_FROM

    @property
    def sets_prices(self) -> bool:
        """Whether a SKU's list price may be sent."""
        return self.role in PRICE_FIELDS_SET_BY

    def refuse_field(self, field: str, allowed: bool) -> None:
        """Refuse (never ignore) a field this caller sent but may not set."""
        if not allowed:
            raise Forbidden(f"the {self.role} role may not set {field}", field=field)


# A code a request body names (a channel to capture for, a location to reserve
# at) that the caller's scope does not reach is refused as a field it may not
# set. It is judged on the scope alone, so the answer is the same whether or
# not such a thing exists.


def require_channel(scope: Scope, code: str, *, field: str) -> None:
    """Refuse ``code`` unless the scope reaches that channel."""
    if not scope.sees_channel(code) or scope.suppliers is not None:
        raise Forbidden(f"{code!r} is not a channel this caller may use", field=field)


def require_location(scope: Scope, code: str | None, *, field: str) -> None:
    """Refuse ``code`` unless the scope reaches that location; sites-limited callers must name one.

    A caller limited to sites that names no location would leave the choice
    to rules that range over every site, so it is refused too.
    """
    if scope.locations is None:
        return
    if code is None:
        raise Forbidden("name one of this caller's locations", field=field)
    if code not in scope.locations:
        raise Forbidden(f"{code!r} is not a location this caller may use", field=field)
