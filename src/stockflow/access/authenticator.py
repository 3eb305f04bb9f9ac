"""Checking a token or session on every request without asking the database every time.

What the database said about a secret (who it belongs to, or that it is
unknown) is kept in memory for ``recheck_after`` seconds, or until the secret
expires if that is sooner. A request within that time is checked with one
dictionary lookup and a clock read, so the
reservation fast lane pays no round trip for authentication. Revoking a token,
ending a session or stopping a user through this process forgets its entries
at once; through another process (the command line, a second server) it
takes effect here within ``recheck_after`` seconds. A token's expiry is
never overlooked: an entry lasts no longer than its secret. (The memory is
keyed by the secret as sent, so a hit costs no hashing; only its hash is ever
stored in the database.) Each recheck also notes the token's last use, so
``last_used_at`` is exact to within that period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from stockflow.access import credentials, queries, rules
from stockflow.adapters.database import Database

RECHECK_AFTER = 10.0
MAX_ENTRIES = 50_000  # unknown secrets are remembered too; a flood of them must not grow forever


class Kind(Enum):
    """Which kind of secret."""

    TOKEN = "token"  # noqa: S105 (a name, not a secret)
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class _Entry:
    signed: queries.Signed | None
    digest: str  # the secret's hash, as stored
    good_until: float  # monotonic: the next recheck, or the secret's expiry if that is sooner


class Authenticator:
    """Tokens and session secrets of one database, checked from memory when recently seen."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        recheck_after: float = RECHECK_AFTER,
    ) -> None:
        self.db = db
        self.clock = clock
        self.recheck_after = recheck_after
        self._known: dict[tuple[Kind, str], _Entry] = {}
        self._lock = threading.Lock()

    def cached(self, kind: Kind, secret: str) -> queries.Signed | bool | None:
        """From memory only: who the secret is, ``None`` if known bad, ``False`` if not cached."""
        entry = self._known.get((kind, secret))
        if entry is None or time.monotonic() >= entry.good_until:
            return False
        return entry.signed

    def check(self, kind: Kind, secret: str) -> queries.Signed | None:
        """Who the secret is (``None``: unknown, expired, revoked); the database if need be."""
        found = self.cached(kind, secret)
        if found is not False:
            assert not isinstance(found, bool)
            return found
        return self.refresh(kind, secret)

    def refresh(self, kind: Kind, secret: str) -> queries.Signed | None:
        """Ask the database, note a token's use, and remember the answer."""
        digest = rules.hashed(secret)
        now = self.clock()
        with self.db.write() as conn:
            if kind is Kind.TOKEN:
                signed = queries.by_token(conn, digest, now)
                if signed is not None:
                    credentials.touch_token(conn, digest, now)
            else:
                signed = queries.by_session(conn, digest, now)
        good_for = self.recheck_after
        if signed is not None:
            good_for = min(good_for, (signed.expires_at - now).total_seconds())
        with self._lock:
            if len(self._known) >= MAX_ENTRIES:
                self._known.clear()
            self._known[(kind, secret)] = _Entry(signed, digest, time.monotonic() + good_for)
        return signed

    def forget(self, kind: Kind, digest: str) -> None:
        """Drop what is known of one secret (by its hash): a revoked token, an ended session."""
        with self._lock:
            for key, entry in list(self._known.items()):
                if key[0] is kind and entry.digest == digest:
                    del self._known[key]

    def forget_user(self, user_id: int) -> None:
        """Drop every secret of one user (stopped, let back in, a new password), and every refusal.

        A refused secret is not known to belong to anyone, so the refusals go
        too: a user let back in must not wait for their recheck.
        """
        with self._lock:
            for key, entry in list(self._known.items()):
                if entry.signed is None or entry.signed.principal.user_id == user_id:
                    del self._known[key]
