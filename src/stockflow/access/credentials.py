"""Making users, setting passwords, issuing and revoking tokens, signing in and out.

Passwords are hashed with Argon2id at argon2-cffi's defaults (RFC 9106's
low-memory profile: 64 MiB, 3 passes, 4 lanes), above OWASP's minimum of
19 MiB and 2 passes. A hash made with weaker parameters is upgraded at the
next successful sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from stockflow.access import rules
from stockflow.access.queries import (
    Signed,
    TokenView,
    UserView,
    by_session,
    token_view,
    user_view,
)
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    api_tokens,
    channels,
    locations,
    sessions,
    suppliers,
    user_scopes,
    users,
)
from stockflow.errors import AlreadyExists, InvalidInput, NotFound, NotSignedIn
from stockflow.stock.rules.access import ScopeKind

HASHER = PasswordHasher()
# Checked against when the user is unknown, so a wrong name costs as long as a wrong password.
_DECOY = HASHER.hash("decoy password, never anyone's")

_SCOPE_TABLES = {
    ScopeKind.LOCATIONS: locations,
    ScopeKind.CHANNELS: channels,
    ScopeKind.SUPPLIER: suppliers,
}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: the secret, shown this once, and what is kept of it."""

    secret: str
    token: TokenView


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new browser session: the cookie's secret, the CSRF token, and who signed in."""

    secret: str
    csrf: str
    signed: Signed


def add_user(
    conn: Connection, new: rules.NewUser, password: str | None, *, now: datetime
) -> UserView:
    """Create a user; a password is optional (a user for integrations signs in with tokens)."""
    user = new.checked()
    hashed = HASHER.hash(rules.password(password)) if password is not None else None
    if conn.execute(select(users.c.id).where(users.c.name == user.name)).first() is not None:
        raise AlreadyExists(f"user {user.name!r} already exists", field="name")
    _check_scope(conn, user.scope_kind, user.scope)
    user_id = conn.execute(
        insert(users).returning(users.c.id),
        {"name": user.name, "role": str(user.role), "password_hash": hashed, "created_at": now},
    ).scalar_one()
    if user.scope_kind is not None and user.scope:
        conn.execute(
            insert(user_scopes),
            [{"user_id": user_id, "kind": str(user.scope_kind), "code": c} for c in user.scope],
        )
    return user_view(conn, user.name)


def _check_scope(conn: Connection, kind: ScopeKind | None, codes: tuple[str, ...]) -> None:
    if kind is None:
        return
    table = _SCOPE_TABLES[kind]
    known = set(conn.execute(select(table.c.code).where(among(table.c.code, codes))).scalars())
    for i, code in enumerate(codes):
        if code not in known:
            raise NotFound(f"no {kind} {code!r}", field=f"scope[{i}]")


def _user_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
    if found is None:
        raise NotFound(f"no user {name!r}", field="name")
    return int(found)


def set_password(conn: Connection, name: str, password: str, *, now: datetime) -> int:
    """Give a user a new password; its open sessions end (its tokens go on working)."""
    user_id = _user_id(conn, name)
    hashed = HASHER.hash(rules.password(password))
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=hashed))
    _end_sessions(conn, user_id, now)
    return user_id


def _end_sessions(conn: Connection, user_id: int, now: datetime) -> None:
    conn.execute(
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def set_active(conn: Connection, name: str, active: bool, *, now: datetime) -> int:
    """Let a user sign in again, or stop it: its sessions end and its tokens stop working."""
    user_id = _user_id(conn, name)
    conn.execute(update(users).where(users.c.id == user_id).values(active=active))
    if not active:
        _end_sessions(conn, user_id, now)
    return user_id


def issue_token(
    conn: Connection,
    user: str,
    name: str,
    *,
    now: datetime,
    days: int = rules.DEFAULT_TOKEN_DAYS,
    rate_limit: int | None = None,
) -> IssuedToken:
    """A new API token for ``user``; its secret is in the answer and nowhere else."""
    if not name.strip() or len(name) > 64:
        raise InvalidInput("must be 1-64 characters", field="name")
    if rate_limit is not None and not 1 <= rate_limit <= 1_000_000:
        raise InvalidInput("must be between 1 and 1000000 a second", field="rate_limit")
    lifetime = rules.token_lifetime(days)
    user_id = _user_id(conn, user)
    secret = rules.new_token()
    token_id = conn.execute(
        insert(api_tokens).returning(api_tokens.c.id),
        {
            "user_id": user_id,
            "name": name,
            "prefix": secret[: rules.SHOWN_PREFIX],
            "secret_hash": rules.hashed(secret),
            "created_at": now,
            "expires_at": now + lifetime,
            "rate_limit": rate_limit,
        },
    ).scalar_one()
    view = token_view(conn, token_id)
    return IssuedToken(secret, view)


def revoke_token(conn: Connection, token_id: int, *, now: datetime, owner: str | None) -> str:
    """Revoke a token (only ``owner``'s, when given); returns its hash, for caches to forget."""
    query = select(api_tokens.c.secret_hash, api_tokens.c.revoked_at).where(
        api_tokens.c.id == token_id
    )
    if owner is not None:
        query = query.join(users, users.c.id == api_tokens.c.user_id).where(users.c.name == owner)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no token {token_id}", field="token_id")
    if row.revoked_at is None:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
    return str(row.secret_hash)


def touch_token(conn: Connection, secret_hash: str, now: datetime) -> None:
    """Note that a token was used (at most once per cache period, not per request)."""
    conn.execute(
        update(api_tokens).where(api_tokens.c.secret_hash == secret_hash).values(last_used_at=now)
    )


def sign_in(conn: Connection, name: str, password: str, *, now: datetime) -> OpenedSession:
    """Check a name and password and open a session; one wording for every way it can fail."""
    row = conn.execute(
        select(users.c.id, users.c.password_hash, users.c.active).where(users.c.name == name)
    ).first()
    stored = row.password_hash if row is not None and row.active else None
    if len(password) > rules.MAX_PASSWORD or not _verified(stored, password):
        raise NotSignedIn("wrong user name or password")
    assert row is not None
    assert stored is not None
    if HASHER.check_needs_rehash(stored):
        conn.execute(
            update(users).where(users.c.id == row.id).values(password_hash=HASHER.hash(password))
        )
    secret, csrf = rules.new_secret(), rules.new_secret()
    conn.execute(
        insert(sessions),
        {
            "user_id": row.id,
            "secret_hash": rules.hashed(secret),
            "csrf_hash": rules.hashed(csrf),
            "created_at": now,
            "expires_at": now + timedelta(hours=rules.SESSION_HOURS),
        },
    )
    signed = by_session(conn, rules.hashed(secret), now)
    assert signed is not None
    return OpenedSession(secret, csrf, signed)


def _verified(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DECOY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def sign_out(conn: Connection, secret_hash: str, *, now: datetime) -> None:
    """End a session."""
    conn.execute(
        update(sessions)
        .where(sessions.c.secret_hash == secret_hash, sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
