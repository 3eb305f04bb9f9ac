"""Who a user is now: its role and scope as a ``Principal``, read from the users' tables.

Signing in builds a caller's principal from its credential; work done later
on a user's behalf (a webhook subscription that sees what its owner sees)
builds the owner's principal here, with the role and scope the user has at
that moment. A stopped user has none.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import user_scopes, users
from stockflow.stock.rules.access import EVERYWHERE, Principal, Role, Scope, ScopeKind


def scopes_of(conn: Connection, user_ids: Collection[int]) -> dict[int, Scope]:
    """The scope each of these users is limited to (everywhere for one without scope rows)."""
    stored = scope_codes(conn, user_ids)
    return {
        user_id: Scope.of(*stored[user_id]) if user_id in stored else EVERYWHERE
        for user_id in user_ids
    }


def scope_codes(
    conn: Connection, user_ids: Collection[int]
) -> dict[int, tuple[ScopeKind, list[str]]]:
    """Each user's scope as stored: its kind and its codes, in code order (none: no entry)."""
    found: dict[int, tuple[ScopeKind, list[str]]] = {}
    if not user_ids:
        return found
    rows = conn.execute(
        select(user_scopes.c.user_id, user_scopes.c.kind, user_scopes.c.code)
        .where(among(user_scopes.c.user_id, user_ids))
        .order_by(user_scopes.c.user_id, user_scopes.c.code)
    )
    for user_id, kind, code in rows:
        found.setdefault(user_id, (ScopeKind(kind), []))[1].append(code)
    return found


def scope_of(conn: Connection, user_id: int) -> Scope:
    """The scope one user is limited to."""
    return scopes_of(conn, [user_id])[user_id]


def active_principals(conn: Connection, user_ids: Collection[int]) -> dict[int, Principal]:
    """The principal of each of these users that is still active; a stopped user is left out."""
    if not user_ids:
        return {}
    rows = conn.execute(
        select(users.c.id, users.c.name, users.c.role).where(
            among(users.c.id, user_ids), users.c.active.is_(True)
        )
    ).all()
    scopes = scopes_of(conn, [r.id for r in rows])
    return {r.id: Principal(r.name, Role(r.role), scopes[r.id], r.id) for r in rows}
