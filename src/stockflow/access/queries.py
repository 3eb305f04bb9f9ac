"""Reading users, tokens, sessions and the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, Text, cast, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.tables import api_tokens, audit_log, sessions, users
from stockflow.errors import Conflict, NotFound
from stockflow.stock import principals
from stockflow.stock.rules.access import Principal, Role, Scope, ScopeKind


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as an administrator sees it (never its password hash)."""

    id: int
    name: str
    role: Role
    scope_kind: ScopeKind | None
    scope: tuple[str, ...]
    active: bool
    has_password: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as its owner sees it after creation: everything but the secret."""

    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    rate_limit: int | None


@dataclass(frozen=True, slots=True)
class Signed:
    """Who a token or session belongs to, as checked against the database."""

    principal: Principal
    expires_at: datetime
    csrf_hash: str | None = None  # sessions only


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited write."""

    id: int
    at: datetime
    actor: str
    role: str
    via: str
    token_id: int | None
    remote: str | None
    command: str
    target: dict[str, Any]
    outcome: str


def scope_of(conn: Connection, user_id: int) -> Scope:
    """The scope a user is limited to."""
    return principals.scope_of(conn, user_id)


USERS = Keyset("users", users.c.name)
TOKENS = Keyset("tokens", Key(api_tokens.c.id, descending=True))
AUDIT = Keyset("audit", Key(audit_log.c.at, descending=True), Key(audit_log.c.id, descending=True))


def user_page(conn: Connection, *, after: str | None = None, limit: int) -> Page[UserView]:
    """Users by name, a page after cursor ``after``."""
    page = USERS.page(conn, select(users), after=after, limit=limit)
    return Page(_user_views(conn, page.items), page.next)


def user_view(conn: Connection, name: str) -> UserView:
    """One user by name."""
    found = _user_views(conn, conn.execute(select(users).where(users.c.name == name)).all())
    if not found:
        raise NotFound(f"no user {name!r}", field="name")
    return found[0]


def principal_of(conn: Connection, name: str) -> Principal:
    """User ``name`` as it acts: its role and scope (``NotFound``; ``Conflict`` if stopped)."""
    found = user_view(conn, name)
    acting = principals.active_principals(conn, [found.id]).get(found.id)
    if acting is None:
        raise Conflict(f"user {name!r} is stopped", field="user")
    return acting


def _user_views(conn: Connection, rows: Sequence[Row[Any]]) -> list[UserView]:
    scopes = principals.scope_codes(conn, [r.id for r in rows])
    views = []
    for r in rows:
        kind, codes = scopes.get(r.id, (None, []))
        views.append(
            UserView(
                r.id,
                r.name,
                Role(r.role),
                kind,
                tuple(codes),
                r.active,
                r.password_hash is not None,
                r.created_at,
            )
        )
    return views


def _tokens_query() -> Select[Any]:
    return select(api_tokens, users.c.name.label("user_name")).join(
        users, users.c.id == api_tokens.c.user_id
    )


def token_page(
    conn: Connection, user: str | None = None, *, after: str | None = None, limit: int
) -> Page[TokenView]:
    """Tokens, newest first, of one user or of all, a page after cursor ``after``."""
    query = _tokens_query()
    if user is not None:
        query = query.where(
            api_tokens.c.user_id == select(users.c.id).where(users.c.name == user).scalar_subquery()
        )
    return TOKENS.page(conn, query, after=after, limit=limit).map(_token)


def token_view(conn: Connection, token_id: int) -> TokenView:
    """One token by id."""
    return _token(conn.execute(_tokens_query().where(api_tokens.c.id == token_id)).one())


def _token(r: Row[Any]) -> TokenView:
    return TokenView(
        r.id,
        r.user_name,
        r.name,
        r.prefix,
        r.created_at,
        r.expires_at,
        r.revoked_at,
        r.last_used_at,
        r.rate_limit,
    )


def by_token(conn: Connection, secret_hash: str, now: datetime) -> Signed | None:
    """The live token with this hash and its user, if both still may sign in."""
    row = conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.expires_at,
            api_tokens.c.rate_limit,
            users.c.id.label("user_id"),
            users.c.name,
            users.c.role,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(
            api_tokens.c.secret_hash == secret_hash,
            api_tokens.c.revoked_at.is_(None),
            api_tokens.c.expires_at > now,
            users.c.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    principal = Principal(
        row.name,
        Role(row.role),
        scope_of(conn, row.user_id),
        row.user_id,
        row.id,
        float(row.rate_limit) if row.rate_limit is not None else None,
    )
    return Signed(principal, row.expires_at)


def by_session(conn: Connection, secret_hash: str, now: datetime) -> Signed | None:
    """The open session with this hash and its user, if both still may sign in."""
    row = conn.execute(
        select(
            sessions.c.expires_at,
            sessions.c.csrf_hash,
            users.c.id.label("user_id"),
            users.c.name,
            users.c.role,
        )
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            sessions.c.secret_hash == secret_hash,
            sessions.c.ended_at.is_(None),
            sessions.c.expires_at > now,
            users.c.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    principal = Principal(row.name, Role(row.role), scope_of(conn, row.user_id), row.user_id)
    return Signed(principal, row.expires_at, row.csrf_hash)


def audit_page(
    conn: Connection,
    *,
    actor: str | None = None,
    command: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int,
) -> Page[AuditEntry]:
    """Audited writes, newest first, filtered, a page after cursor ``after``."""
    query = select(audit_log)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if command is not None:
        query = query.where(audit_log.c.command.contains(command, autoescape=True))
    if target is not None:
        # Any path parameter or event subject mentioning it, in the JSON's text.
        query = query.where(cast(audit_log.c.target, Text).contains(target, autoescape=True))
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    return AUDIT.page(conn, query, after=after, limit=limit).map(
        lambda r: AuditEntry(
            r.id,
            r.at,
            r.actor,
            r.role,
            r.via,
            r.token_id,
            r.remote,
            r.command,
            dict(r.target),
            r.outcome,
        )
    )
