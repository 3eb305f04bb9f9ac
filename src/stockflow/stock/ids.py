"""Document ids: short enough to read out on the phone, and the same one for a retried request."""

from __future__ import annotations

import hashlib
import uuid


def new_id(prefix: str) -> str:
    """A short, readable, unique document id such as ``W-3F9A61C20B``."""
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def keyed_id(prefix: str, key: str) -> str:
    """The document id one idempotency key always yields: a retry lands on the same row."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:10].upper()}"
