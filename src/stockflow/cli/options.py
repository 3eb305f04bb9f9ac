"""Options shared by every ``stockflow`` command, kept apart so sub-apps can import them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from stockflow.config import Settings
from stockflow.errors import InvalidInput, StockflowError

if TYPE_CHECKING:
    from stockflow.bootstrap import Stockflow

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


@contextmanager
def opened(db: str | None) -> Iterator[Stockflow]:
    """A stockflow for one command; a refusal prints one line naming the field and exits 2."""
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        yield sf
    except StockflowError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        sf.close()
