"""``stockflow webhooks``: subscribe a user's endpoint, list, pause, rotate, read the log, resend.

A new subscription's signing secret (and a rotated one) is printed once,
alone on standard output, so a script can capture it. A subscription is told
only what its owner (``--user``) may see.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.adapters.paging import MAX_PAGE, every
from stockflow.cli.acting import audited
from stockflow.cli.options import DbOption, opened
from stockflow.config import Settings
from stockflow.errors import InvalidInput
from stockflow.events.rules import DeliveryStatus, SubscriptionStatus
from stockflow.events.webhook_front import WithSecret
from stockflow.events.webhook_queries import SubscriptionView
from stockflow.events.webhooks import Changes, Redelivery

if TYPE_CHECKING:
    from stockflow.bootstrap import Stockflow

webhooks_app = typer.Typer(
    no_args_is_help=True, help="Webhooks: subscribe, list, pause, rotate, log, redeliver"
)
console = Console()
err = Console(stderr=True)

IdArgument = Annotated[int, typer.Argument(min=1, max=2**63 - 1, help="The subscription's id")]


@contextmanager
def _webhooks(db: str | None) -> Iterator[Stockflow]:
    with opened(db) as sf:
        sf.webhooks.overlap = Settings().webhook_overlap
        yield sf


@webhooks_app.command("add")
@audited
def add(
    url: Annotated[str, typer.Argument(help="The endpoint: http:// or https://")],
    user: Annotated[str, typer.Option("--user", help="Its owner: it sees what this user may")],
    events: Annotated[
        list[str],
        typer.Option("--event", "-e", help="A topic, 'order.*' or '*' (repeat for more)"),
    ],
    description: Annotated[str | None, typer.Option("--description", help="A note")] = None,
    db: DbOption = None,
) -> None:
    """Subscribe an endpoint; its signing secret is printed this once."""
    with _webhooks(db) as sf:
        made = sf.webhooks.subscribe(user, url, events, description)
    _print_secret(made, "subscription")


@webhooks_app.command("list")
def list_subscriptions(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's")] = None,
    db: DbOption = None,
) -> None:
    """Subscriptions, oldest first, without their secrets."""
    with _webhooks(db) as sf:
        if user is not None:
            sf.access.user(user)  # an unknown name is an error, not an empty list
        found = list(
            every(lambda after: sf.webhooks.subscriptions(owner=user, after=after, limit=MAX_PAGE))
        )
    table = Table("id", "owner", "status", "events", "url", "description")
    for s in found:
        table.add_row(
            str(s.id), s.owner, _status(s), ", ".join(s.event_types), s.url, s.description or ""
        )
    console.print(table)


@webhooks_app.command("show")
def show(subscription_id: IdArgument, db: DbOption = None) -> None:
    """One subscription."""
    with _webhooks(db) as sf:
        s = sf.webhooks.subscription(subscription_id)
    rows = [
        ("id", str(s.id)), ("owner", s.owner), ("url", s.url), ("status", _status(s)),
        ("events", ", ".join(s.event_types)), ("description", s.description or "-"),
        ("created", _when(s.created_at)), ("changed", _when(s.updated_at)),
        ("old secret signs until", _when(s.old_secret_until)),
    ]  # fmt: skip
    for name, value in rows:
        console.print(f"{name:>24}: {value}", highlight=False)


def _set_status(subscription_id: int, status: SubscriptionStatus, db: str | None) -> None:
    with _webhooks(db) as sf:
        s = sf.webhooks.change(subscription_id, Changes(status=status))
    console.print(f"subscription {s.id} is {s.status}", highlight=False)


@webhooks_app.command("pause")
@audited
def pause(subscription_id: IdArgument, db: DbOption = None) -> None:
    """Pause: deliveries wait, nothing is lost."""
    _set_status(subscription_id, SubscriptionStatus.PAUSED, db)


@webhooks_app.command("resume")
@audited
def resume(subscription_id: IdArgument, db: DbOption = None) -> None:
    """Resume a paused (or disabled) subscription: what waited is sent."""
    _set_status(subscription_id, SubscriptionStatus.ACTIVE, db)


@webhooks_app.command("remove")
@audited
def remove(subscription_id: IdArgument, db: DbOption = None) -> None:
    """Remove a subscription and its delivery log."""
    with _webhooks(db) as sf:
        sf.webhooks.remove(subscription_id)
    console.print(f"subscription {subscription_id} removed", highlight=False)


@webhooks_app.command("rotate")
@audited
def rotate(subscription_id: IdArgument, db: DbOption = None) -> None:
    """A new signing secret, printed this once; the old one goes on signing for a while."""
    with _webhooks(db) as sf:
        made = sf.webhooks.rotate_secret(subscription_id)
    _print_secret(made, "new secret of subscription")


@webhooks_app.command("deliveries")
def deliveries(
    subscription_id: IdArgument,
    status: Annotated[
        DeliveryStatus | None, typer.Option("--status", help="Only these (dead: dead letters)")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    db: DbOption = None,
) -> None:
    """The delivery log, newest first, with each delivery's last answer."""
    with _webhooks(db) as sf:
        found = sf.webhooks.deliveries(subscription_id, status=status, limit=limit)
    table = Table(
        "id", "event", "topic", "aggregate", "status", "tries", "last answer", "next try",
        "by hand", caption="times in UTC",
    )  # fmt: skip
    for d in found:
        answer = str(d.last_status) if d.last_status is not None else (d.last_error or "-")
        next_try = "-"
        if d.status is DeliveryStatus.PENDING:
            waits = d.next_attempt_at is None  # behind an earlier event of its aggregate
            next_try = "after the one before" if waits else _when(d.next_attempt_at)
        table.add_row(
            str(d.id), str(d.event_id), d.topic or "(no longer kept)", d.aggregate or "-",
            str(d.status), str(d.attempts), answer, next_try,
            "yes" if d.manual else "",
        )  # fmt: skip
    console.print(table)


@webhooks_app.command("redeliver")
@audited
def redeliver(
    subscription_id: IdArgument,
    event: Annotated[int | None, typer.Option("--event", min=1, help="One event's id")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Events queued from then (ISO 8601, UTC)")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="...until then (excluded)")] = None,
    db: DbOption = None,
) -> None:
    """Send events again, delivered ones too: one (--event) or a range (--since, --until)."""
    with _webhooks(db) as sf:
        wanted = Redelivery(event, _moment(since, "since"), _moment(until, "until"))
        done = sf.webhooks.redeliver(subscription_id, wanted)
    console.print(
        f"{len(done.event_ids)} event(s) queued again for subscription {subscription_id}",
        highlight=False,
    )


def _print_secret(made: WithSecret, what: str) -> None:
    s = made.subscription
    err.print(
        f"{what} {s.id} for {s.owner} -> {s.url}. "
        "This is the only time the signing secret is shown; it will not be shown again:",
        highlight=False,
        soft_wrap=True,
    )
    typer.echo(made.secret)


def _status(s: SubscriptionView) -> str:
    return f"{s.status} ({s.disabled_reason})" if s.disabled_reason else str(s.status)


def _moment(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a time (ISO 8601)", field=field) from None
    if at.tzinfo is None:
        raise InvalidInput("give a time zone (e.g. Z or +00:00)", field=field)
    return at


def _when(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M:%S}"
