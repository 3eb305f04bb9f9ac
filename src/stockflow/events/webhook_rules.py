"""The pure rules of webhooks: secrets and signatures, what may be subscribed, when to try again.

Signatures follow Standard Webhooks: every request carries ``webhook-id``
(the event's id, the same on every try and on a redelivery, so a receiver
can drop what it has seen), ``webhook-timestamp`` (this try's Unix seconds)
and ``webhook-signature``, a space-separated list of ``v1,<base64>`` HMAC-SHA256
signatures of ``"{id}.{timestamp}.{body}"``, one for each secret in force:
while a secret is being rotated the old one signs too, until it expires, so
a receiver can switch secrets at its own pace.

A secret reads ``whsec_`` followed by the base64 of 32 random bytes; the
bytes are the HMAC key. stockflow makes it and shows it once; it is kept
(it must be, to sign) and never shown again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from stockflow.errors import InvalidInput
from stockflow.stock.rules.access import Principal, Role
from stockflow.stock.rules.events import Topic

SECRET_PREFIX = "whsec_"  # noqa: S105 (what every secret starts with, not a secret)
SECRET_BYTES = 32
MAX_URL = 2048
MAX_EVENT_TYPES = 100
MAX_DESCRIPTION = 255
# The Standard Webhooks suggestion: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_SCHEDULE = "0,5s,5m,30m,2h,5h,10h,10h"
JITTER = 0.1  # each wait is stretched or shrunk by up to this much, so retries do not stampede
MAX_RETRY_AFTER = timedelta(hours=24)  # a receiver's Retry-After is honoured up to this
DEFAULT_OVERLAP = timedelta(hours=24)  # how long a rotated-out secret goes on signing
# Who sees (and manages) every subscription, not only its own.
OVERSEERS = frozenset({Role.ADMIN, Role.MANAGER})

_UNITS = {"": 1, "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_WAIT = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")


# --- secrets and signatures --------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: the bytes after ``whsec_``."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of a request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    signing: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The Standard Webhooks headers of a request, signed with every secret in ``signing``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in signing),
    }


# --- what may be subscribed ----------------------------------------------------------------


def event_types(given: Sequence[str]) -> tuple[str, ...]:
    """Topics or patterns to subscribe to: known topics, ``"order.*"`` or ``"*"``."""
    if not given:
        raise InvalidInput(
            "name at least one event type (a topic, 'order.*' or '*')", field="event_types"
        )
    if len(given) > MAX_EVENT_TYPES:
        raise InvalidInput(f"at most {MAX_EVENT_TYPES} event types", field="event_types")
    known = {str(t) for t in Topic}
    prefixes = {t.split(".", 1)[0] for t in known}
    for i, pattern in enumerate(given):
        if pattern == "*" or pattern in known:
            continue
        if pattern.endswith(".*") and pattern[:-2] in prefixes:
            continue
        raise InvalidInput(
            f"{pattern!r} is neither a known event type nor a pattern of them "
            f"(e.g. 'order.*' or '*')",
            field=f"event_types[{i}]",
        )
    return tuple(dict.fromkeys(given))


def endpoint(url: str) -> str:
    """A receiver's URL: http or https, with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("must be an http:// or https:// URL with a host", field="url")
    if len(url) > MAX_URL:
        raise InvalidInput(f"must be at most {MAX_URL} characters", field="url")
    return url.strip()


def description(text: str | None) -> str | None:
    """A subscription's note to itself, if any."""
    if text is not None and len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"must be at most {MAX_DESCRIPTION} characters", field="description")
    return text


def oversees(principal: Principal) -> bool:
    """Whether ``principal`` sees and manages every subscription, not only its own."""
    return principal.role in OVERSEERS


# --- when to try again ---------------------------------------------------------------------


def parse_schedule(text: str) -> tuple[timedelta, ...]:
    """``"0,5s,5m,30m,2h"``: the wait before each try; as many tries as waits."""
    waits = []
    for i, part in enumerate(p.strip() for p in text.split(",")):
        found = _WAIT.fullmatch(part)
        if found is None:
            raise InvalidInput(
                f"{part!r} is not a wait (a number with ms, s, m, h or d)", field=f"schedule[{i}]"
            )
        waits.append(timedelta(seconds=float(found[1]) * _UNITS[found[2] or ""]))
    return tuple(waits)


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as a wait, capped; None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            at = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        wait = at - now
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one try did: the receiver's status (None: no answer) and its Retry-After."""

    status: int | None
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver wants no more."""
        return self.status == 410


def next_try(
    schedule: Sequence[timedelta],
    tries: int,
    outcome: Outcome,
    now: datetime,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try a failed delivery again after its ``tries``-th try; None: it is dead.

    The wait is the schedule's next, give or take ``JITTER``; a receiver's
    ``Retry-After`` wins when it asks for longer (up to ``MAX_RETRY_AFTER``).
    """
    if tries >= len(schedule):
        return None
    wait = schedule[tries] * (1 + (rng or random).uniform(-JITTER, JITTER))
    if outcome.retry_after is not None and outcome.retry_after > wait:
        wait = outcome.retry_after
    return now + wait
