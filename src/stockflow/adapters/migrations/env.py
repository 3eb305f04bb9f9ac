"""Alembic environment: runs on the connection handed over by ``migrate``."""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from stockflow.adapters.tables import UtcDateTime, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through stockflow (stockflow migrate)")


def render_item(kind: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write the timestamp type as plain SQLAlchemy, so migrations never import app code."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
