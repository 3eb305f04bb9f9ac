"""Options shared by every ``stockflow`` command, kept apart so sub-apps can import them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from stockflow.config import Settings
from stockflow.errors import InvalidInput

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: STOCKFLOW_DATABASE_URL or ./stockflow.db)"),
]
ActorOption = Annotated[str, typer.Option("--actor", help="Who does this")]


def database_url(db: str | None) -> str:
    """The URL given on the command line, else the configured one."""
    return db or Settings().database_url


def iso_day(value: str, field: str) -> date:
    """A date option as YYYY-MM-DD; anything else is refused as input, naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None
