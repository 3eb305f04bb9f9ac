"""``stockflow tokens``: issue a user an API token, list tokens, revoke one.

A token's secret is printed once, alone on standard output (so a script can
capture it); only its hash is kept. Every token expires; a revoked one is
refused at once by the process that revoked it and within 10 s by a running
server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.access import rules
from stockflow.adapters.paging import MAX_PAGE, every
from stockflow.cli.acting import audited
from stockflow.cli.options import DbOption, opened

tokens_app = typer.Typer(no_args_is_help=True, help="API tokens: issue, list, revoke")
console = Console()
err = Console(stderr=True)


@tokens_app.command("add")
@audited
def add(
    user: Annotated[str, typer.Argument(help="Whose token: it acts with this user's role")],
    name: Annotated[str, typer.Option("--name", help="What it is for, e.g. 'web shop'")],
    days: Annotated[
        int, typer.Option("--days", help=f"Days until it expires (1-{rules.MAX_TOKEN_DAYS})")
    ] = rules.DEFAULT_TOKEN_DAYS,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            "--rate-limit",
            help="Order captures and reservations a second (default: STOCKFLOW_RATE_LIMIT)",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Issue an API token; its secret is printed this once."""
    with opened(db) as sf:
        issued = sf.access.issue_token(user, name, days=days, rate_limit=rate_limit)
    t = issued.token
    err.print(
        f"token {t.id} '{t.name}' for {t.user}, expires {_when(t.expires_at)}. "
        "This is the only time the secret is shown; it will not be shown again:",
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(issued.secret)


@tokens_app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Argument(help="Only this user's")] = None,
    db: DbOption = None,
) -> None:
    """Tokens, newest first, without their secrets."""
    with opened(db) as sf:
        if user is not None:
            sf.access.user(user)  # an unknown name is an error, not an empty list
        found = list(every(lambda after: sf.access.tokens(user, after=after, limit=MAX_PAGE)))
    table = Table(
        "id", "user", "name", "prefix", "created", "expires", "last used", "revoked", "rate limit",
        caption="times in UTC",
    )  # fmt: skip
    for t in found:
        table.add_row(
            str(t.id), t.user, t.name, f"{t.prefix}...", f"{t.created_at:%Y-%m-%d}",
            f"{t.expires_at:%Y-%m-%d}", _when(t.last_used_at), _when(t.revoked_at),
            "default" if t.rate_limit is None else f"{t.rate_limit}/s",
        )  # fmt: skip
    console.print(table)


@tokens_app.command("revoke")
@audited
def revoke(
    token_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1, help="Its id (see tokens list)")],
    db: DbOption = None,
) -> None:
    """Revoke a token: a running server refuses it within 10 s."""
    with opened(db) as sf:
        sf.access.revoke_token(token_id)
    console.print(
        f"token {token_id} revoked; a running server refuses it within 10 s", highlight=False
    )


def _when(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M}"
