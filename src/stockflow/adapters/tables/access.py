"""Access's tables: users, their scopes, API tokens, browser sessions, and the audit trail."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, text

from stockflow.adapters.tables.base import Id, UtcDateTime, metadata, one_of

ROLES = (
    "admin", "manager", "sales", "warehouse", "purchasing", "read_only",
    "three_pl", "marketplace", "supplier",
)  # fmt: skip
SCOPE_KINDS = ("locations", "channels", "supplier")

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(24), nullable=False),
    Column("password_hash", String(255), nullable=True),  # None: signs in with tokens only
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime(), nullable=False),
    one_of("role", ROLES),
)

# What a user is limited to: rows of one kind (its role's) naming the codes it may see.
user_scopes = Table(
    "user_scopes",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("code", String(64), primary_key=True),
    one_of("kind", SCOPE_KINDS),
)

# Only a hash of each secret is kept; ``prefix`` is the recognisable start shown in lists.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("rate_limit", Integer, nullable=True),  # capture/reserve per second; None: default
)
Index("ix_api_tokens_user", api_tokens.c.user_id, api_tokens.c.id)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("csrf_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(24), nullable=False),
    Column("token_id", Id, nullable=True),  # None: a browser session, or the CLI
    Column("via", String(16), nullable=False),  # token, session, cli
    Column("remote", String(64), nullable=True),  # the client's address
    Column("command", String(200), nullable=False),  # "POST /api/v1/orders/{order_id}/cancel"
    Column("target", JSON, nullable=False),  # path parameters and what the change recorded
    Column("outcome", String(16), nullable=False),  # done, denied
    one_of("role", ROLES),
    one_of("via", ("token", "session", "cli")),
    one_of("outcome", ("done", "denied")),
)
Index("ix_audit_log_at", audit_log.c.at, audit_log.c.id)
Index("ix_audit_log_actor", audit_log.c.actor, audit_log.c.at, audit_log.c.id)
