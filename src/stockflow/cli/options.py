"""Options shared by every ``stockflow`` command, kept apart so sub-apps can import them."""

from __future__ import annotations

from typing import Annotated

import typer

from stockflow.config import Settings

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: STOCKFLOW_DATABASE_URL or ./stockflow.db)"),
]


def database_url(db: str | None) -> str:
    """The URL given on the command line, else the configured one."""
    return db or Settings().database_url
