"""``stockflow webhooks`` on real databases: subscribe, pause, rotate, the log, resend, remove."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from standardwebhooks import Webhook
from typer.testing import CliRunner

from stockflow.access.queries import audit_page
from stockflow.bootstrap import Stockflow
from stockflow.cli import webhooks
from stockflow.cli.app import app
from stockflow.events.rules import DeliveryStatus, SubscriptionStatus
from stockflow.stock.rules.access import Role
from webhook_kit import Answer, Spec, dispatcher, drain, receiver, stream


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "console", Console(width=250))


def cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["webhooks", *args, "--db", db_url])
    return result.exit_code, result.stdout, result.stderr


def test_a_subscription_from_the_command_line_lives_its_whole_life(
    sf: Stockflow, db_url: str
) -> None:
    sf.access.add_user("feed", Role.SALES)
    up = False

    def flaky(event_id: int, nth: int) -> Answer:
        return Answer(204) if up else Answer(500)

    with receiver(flaky) as hook:
        code, out, err = cli(
            db_url, "add", hook.url, "--user", "feed", "-e", "order.*", "--description", "shop"
        )
        assert code == 0, err
        secret = out.strip()  # alone on standard output
        assert secret.startswith("whsec_")
        assert "only time the signing secret is shown" in err
        (sub,) = sf.webhooks.subscriptions()
        assert (sub.owner, sub.event_types, sub.description) == ("feed", ("order.*",), "shop")

        code, out, _ = cli(db_url, "list", "--user", "feed")
        assert code == 0
        assert hook.url in out
        assert secret not in out
        code, out, _ = cli(db_url, "show", str(sub.id))
        assert "order.*" in out
        assert secret not in out

        assert cli(db_url, "pause", str(sub.id))[0] == 0
        assert sf.webhooks.subscription(sub.id).status is SubscriptionStatus.PAUSED
        assert cli(db_url, "resume", str(sub.id))[0] == 0
        assert sf.webhooks.subscription(sub.id).status is SubscriptionStatus.ACTIVE

        code, out, err = cli(db_url, "rotate", str(sub.id))
        assert code == 0, err
        rotated = out.strip()
        assert rotated.startswith("whsec_")
        assert rotated != secret

        sent = stream(sf, [Spec("order.captured", "order", f"SO-{n}") for n in range(2)])
        drain(dispatcher(sf, schedule=[timedelta(0)]), sf)  # one try: dead at once
        code, out, _ = cli(db_url, "deliveries", str(sub.id), "--status", "dead")
        assert code == 0
        assert out.count("order.captured") == 2
        assert "500" in out

        up = True
        code, out, err = cli(db_url, "redeliver", str(sub.id), "--event", str(sent[0].id))
        assert code == 0, err
        assert "1 event(s) queued again" in out
        drain(dispatcher(sf), sf)
        since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        code, out, err = cli(db_url, "redeliver", str(sub.id), "--since", since)
        assert code == 0, err
        assert "2 event(s) queued again" in out
        drain(dispatcher(sf), sf)
    delivered = hook.delivered()
    assert sorted(r.event_id for r in delivered) == sorted([sent[0].id, sent[0].id, sent[1].id])
    for r in delivered:  # signed with both secrets while the old one still signs
        Webhook(secret).verify(r.body, r.headers)
        Webhook(rotated).verify(r.body, r.headers)
    log = sf.webhooks.deliveries(sub.id)
    assert sum(d.manual and d.status is DeliveryStatus.DELIVERED for d in log) == 3

    code, out, _ = cli(db_url, "remove", str(sub.id))
    assert code == 0
    assert list(sf.webhooks.subscriptions()) == []
    with sf.db.read() as conn:
        commands = {e.command for e in audit_page(conn, limit=100)}
    for written in ("add", "pause", "resume", "rotate", "redeliver", "remove"):
        assert f"stockflow webhooks {written}" in commands


def test_refusals_name_the_option_and_change_nothing(sf: Stockflow, db_url: str) -> None:
    sf.access.add_user("ro", Role.READ_ONLY)
    sf.access.add_user("feed", Role.SALES)
    code, _, err = cli(db_url, "add", "https://x.example", "--user", "ro", "-e", "*")
    assert code == 2
    assert "user" in err
    assert "may not own" in err
    code, _, err = cli(db_url, "add", "https://x.example", "--user", "feed", "-e", "orders.*")
    assert code == 2
    assert "event_types[0]" in err
    code, _, err = cli(db_url, "add", "mailto:a@b", "--user", "feed", "-e", "*")
    assert code == 2
    assert "url" in err
    code, _, err = cli(db_url, "add", "https://x.example", "--user", "nobody", "-e", "*")
    assert code == 2
    assert "no user 'nobody'" in err
    assert list(sf.webhooks.subscriptions()) == []
    made = sf.webhooks.subscribe("feed", "https://x.example", ["*"])
    code, _, err = cli(db_url, "redeliver", str(made.subscription.id), "--since", "yesterday")
    assert code == 2
    assert "since" in err
    code, _, err = cli(db_url, "show", "999")
    assert code == 2
    assert "no webhook subscription 999" in err
