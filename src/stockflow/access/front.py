"""The Python front door for access: users, tokens, sessions and the audit trail.

Every change that takes a credential away (a revoked token, an ended
session, a stopped user, a new password) also makes this process's
``authenticator`` forget it, so the next request with it is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from stockflow.access import credentials, queries, rules
from stockflow.access.authenticator import Authenticator, Kind
from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.stock.rules.access import Principal, Role, ScopeKind


class Access:
    """Users, tokens, sessions and the audit trail on one database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self.authenticator = Authenticator(db, clock)

    def add_user(
        self,
        name: str,
        role: Role,
        *,
        password: str | None = None,
        scope: Sequence[str] = (),
        scope_kind: ScopeKind | None = None,
    ) -> queries.UserView:
        """A new user; partners need a scope (their locations, channels or supplier)."""
        new = rules.NewUser(name, role, tuple(scope), scope_kind)
        return self.db.run(lambda conn: credentials.add_user(conn, new, password, now=self.clock()))

    def set_password(self, name: str, password: str) -> None:
        """A new password; the user's browser sessions end."""
        user_id = self.db.run(
            lambda conn: credentials.set_password(conn, name, password, now=self.clock())
        )
        self.authenticator.forget_user(user_id)

    def set_active(self, name: str, active: bool) -> None:
        """Stop a user (sessions end, tokens stop working) or let it back in."""
        user_id = self.db.run(
            lambda conn: credentials.set_active(conn, name, active, now=self.clock())
        )
        self.authenticator.forget_user(user_id)

    def users(
        self, *, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> Page[queries.UserView]:
        """A page of users, by name, after cursor ``after``."""
        with self.db.read() as conn:
            return queries.user_page(conn, after=after, limit=limit)

    def principal(self, name: str) -> Principal:
        """User ``name`` as it acts: its role and scope."""
        with self.db.read() as conn:
            return queries.principal_of(conn, name)

    def user(self, name: str) -> queries.UserView:
        """One user."""
        with self.db.read() as conn:
            return queries.user_view(conn, name)

    def issue_token(
        self,
        user: str,
        name: str,
        *,
        days: int = rules.DEFAULT_TOKEN_DAYS,
        rate_limit: int | None = None,
    ) -> credentials.IssuedToken:
        """A new API token; its secret is shown this once."""
        return self.db.run(
            lambda conn: credentials.issue_token(
                conn, user, name, now=self.clock(), days=days, rate_limit=rate_limit
            )
        )

    def revoke_token(self, token_id: int, *, owner: str | None = None) -> None:
        """Revoke a token (only ``owner``'s, when given); it stops working here at once."""
        digest = self.db.run(
            lambda conn: credentials.revoke_token(conn, token_id, now=self.clock(), owner=owner)
        )
        self.authenticator.forget(Kind.TOKEN, digest)

    def tokens(
        self, user: str | None = None, *, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> Page[queries.TokenView]:
        """A page of tokens, newest first, of one user or of everyone."""
        with self.db.read() as conn:
            return queries.token_page(conn, user, after=after, limit=limit)

    def sign_in(self, name: str, password: str) -> credentials.OpenedSession:
        """Open a browser session for a name and password."""
        return self.db.run(lambda conn: credentials.sign_in(conn, name, password, now=self.clock()))

    def sign_out(self, session_secret: str) -> None:
        """End a browser session."""
        digest = rules.hashed(session_secret)
        self.db.run(lambda conn: credentials.sign_out(conn, digest, now=self.clock()))
        self.authenticator.forget(Kind.SESSION, digest)

    def audit(
        self,
        *,
        actor: str | None = None,
        command: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[queries.AuditEntry]:
        """Audited writes, newest first: by actor, part of the command, an id touched, time."""
        with self.db.read() as conn:
            return queries.audit_page(
                conn, actor=actor, command=command, target=target, since=since, until=until,
                after=after, limit=limit,
            )  # fmt: skip
