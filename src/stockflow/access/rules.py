"""What a user name, a password, a token and a session must be; no database, no framework.

An API token reads ``sfk_`` followed by 43 URL-safe characters (256 random
bits), so it is recognisable in a log line or to a secret scanner
(``sfk_[A-Za-z0-9_-]{43}``). Only its SHA-256 is stored: a token is random
enough that a fast hash cannot be reversed, and checking it costs no more
than a dictionary lookup. A password is chosen by a person, so it is hashed
with Argon2id, slow on purpose; that lives with the use cases, not here.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from stockflow.errors import InvalidInput
from stockflow.stock.rules.access import PARTNER_SCOPE, Role, ScopeKind

TOKEN_PREFIX = "sfk_"  # noqa: S105 (what every token starts with, not a token)
TOKEN_PATTERN = re.compile(r"sfk_[A-Za-z0-9_-]{43}")
SHOWN_PREFIX = 12  # characters of a token kept in the clear, to tell tokens apart in lists
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # a longer one is refused before it is hashed
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
SESSION_HOURS = 12


def new_secret(prefix: str = "") -> str:
    """A fresh random secret: 256 bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def new_token() -> str:
    """A fresh API token, shown to its owner once."""
    return new_secret(TOKEN_PREFIX)


def hashed(secret: str) -> str:
    """The stored form of a token or session secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def user_name(name: str) -> str:
    """A valid user name, or the reason it is not."""
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            "must be 1-64 letters, digits or . _ @ - and start with a letter or digit",
            field="name",
        )
    return name


def password(text: str) -> str:
    """A password long enough to keep; a passphrase of plain words is encouraged."""
    if len(text) < MIN_PASSWORD:
        raise InvalidInput(f"must be at least {MIN_PASSWORD} characters", field="password")
    if len(text) > MAX_PASSWORD:
        raise InvalidInput(f"must be at most {MAX_PASSWORD} characters", field="password")
    return text


def token_lifetime(days: int) -> timedelta:
    """How long a new token lives: a day to a year; every token expires."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"must be between 1 and {MAX_TOKEN_DAYS} days", field="expires_in_days")
    return timedelta(days=days)


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to create: its role, and the codes it is limited to when the role needs a scope."""

    name: str
    role: Role
    scope: tuple[str, ...] = ()
    scope_kind: ScopeKind | None = None

    def checked(self) -> NewUser:
        """This user, or the reason it cannot be made."""
        user_name(self.name)
        kind = PARTNER_SCOPE.get(self.role, self.scope_kind)
        if kind is None and self.scope:
            raise InvalidInput(
                "needs a scope kind (locations, channels or supplier)", field="scope"
            )
        if self.role in PARTNER_SCOPE and not self.scope:
            raise InvalidInput(
                f"a {self.role} user must be limited to at least one of its {kind}", field="scope"
            )
        if kind is ScopeKind.SUPPLIER and len(self.scope) != 1:
            raise InvalidInput("a supplier user is one supplier", field="scope")
        if kind is not None and self.scope_kind not in (None, kind):
            raise InvalidInput(f"a {self.role} user is limited by {kind}", field="scope_kind")
        return NewUser(self.name, self.role, tuple(dict.fromkeys(self.scope)), kind)


def expired(expires_at: datetime, now: datetime) -> bool:
    """Whether a token or session has run out."""
    return expires_at <= now
