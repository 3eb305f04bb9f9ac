"""Webhooks reach a real local receiver: signed, retried, in order per aggregate, exactly once.

The receiver is an HTTP server on 127.0.0.1 that fails the first tries of
some events (500s, a pause longer than the sender waits, a 429 with
Retry-After). The dispatcher runs on a short schedule (0, 50 ms, 100 ms...)
until nothing is pending; every event must then have been received, with a
signature the reference verifier (``standardwebhooks``) accepts, in sequence
order within its aggregate, and exactly once after dropping repeats by
``webhook-id``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook, WebhookVerificationError

from stockflow.adapters.tables import webhook_attempts, webhook_deliveries
from stockflow.bootstrap import Stockflow
from stockflow.events import webhook_rules
from stockflow.events.rules import DeliveryStatus, SubscriptionStatus
from stockflow.events.webhooks import Changes, Redelivery
from stockflow.stock.rules.access import Role
from webhook_kit import Answer, Spec, dispatcher, drain, receiver, stream


def owner(sf: Stockflow, name: str = "integrator", role: Role = Role.MANAGER) -> str:
    sf.access.add_user(name, role)
    return name


def verified(secret: str, r: object) -> dict[str, object]:
    body = r.body  # type: ignore[attr-defined]
    found: dict[str, object] = Webhook(secret).verify(body, r.headers)  # type: ignore[attr-defined]
    return found


# --- signing, against the reference verifier --------------------------------------------


def test_a_signature_is_what_the_reference_verifier_accepts() -> None:
    secret = webhook_rules.new_secret()
    assert secret.startswith("whsec_")
    assert len(webhook_rules.secret_key(secret)) == 32
    body = b'{"id":7,"type":"order.captured"}'
    now = int(time.time())
    headers = webhook_rules.signed_headers([secret], "7", now, body)
    assert Webhook(secret).verify(body, headers) == {"id": 7, "type": "order.captured"}
    # The reference signer says the same, byte for byte.
    expected = Webhook(secret).sign("7", datetime.fromtimestamp(now, UTC), body)
    assert headers["webhook-signature"] == expected
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_rules.new_secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = webhook_rules.new_secret(), webhook_rules.new_secret()
    body = b"{}"
    headers = webhook_rules.signed_headers([new, old], "9", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {}
    assert Webhook(new).verify(body, headers) == {}


def test_a_schedule_is_read_and_a_bad_wait_named() -> None:
    waits = webhook_rules.parse_schedule(webhook_rules.DEFAULT_SCHEDULE)
    assert [w.total_seconds() for w in waits] == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert webhook_rules.parse_schedule("0, 50ms,1.5s")[1:] == (
        timedelta(milliseconds=50),
        timedelta(seconds=1.5),
    )
    with pytest.raises(Exception, match=r"schedule\[1\]"):
        webhook_rules.parse_schedule("0,soon")


def test_retry_after_is_read_as_seconds_or_a_date_and_capped() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert webhook_rules.retry_after("120", now) == timedelta(seconds=120)
    assert webhook_rules.retry_after("Sun, 01 Mar 2026 12:01:00 GMT", now) == timedelta(minutes=1)
    assert webhook_rules.retry_after("999999", now) == timedelta(hours=24)
    assert webhook_rules.retry_after("whenever", now) is None
    failed = webhook_rules.Outcome(503, "HTTP 503", timedelta(hours=1))
    schedule = [timedelta(0), timedelta(seconds=5), timedelta(minutes=5)]
    at = webhook_rules.next_try(schedule, 1, failed, now)
    assert at == now + timedelta(hours=1)  # later than the schedule's 5 s: the receiver's wins
    soon = webhook_rules.next_try(schedule, 1, webhook_rules.Outcome(500), now)
    assert soon is not None
    assert timedelta(seconds=4.5) <= soon - now <= timedelta(seconds=5.5)  # 5 s, +-10 %
    assert webhook_rules.next_try(schedule, 3, webhook_rules.Outcome(500), now) is None


# --- delivery to a real receiver ---------------------------------------------------------


def flaky(event_id: int, nth: int) -> Answer:
    """Fail the first tries of some events, each in its own way."""
    kind = event_id % 5
    if kind == 1 and nth <= 2:
        return Answer(500)
    if kind == 2 and nth == 1:
        return Answer(200, pause=0.8)  # longer than the sender waits: it counts as no answer
    if kind == 3 and nth == 1:
        return Answer(429, {"Retry-After": "1"})
    if kind == 4 and nth == 1:
        return Answer(503)
    return Answer(200)


def test_every_event_arrives_verified_in_order_exactly_once_despite_failures(
    sf: Stockflow,
) -> None:
    with receiver(flaky) as hook:
        made = sf.webhooks.subscribe(owner(sf), hook.url, ["*"], "all of it")
        specs = [
            Spec("order.captured" if n % 3 else "order.cancelled", "order", f"SO-{n % 4}")
            for n in range(40)
        ] + [Spec("stock.freed") for _ in range(5)]  # no aggregate: no order to keep
        sent = stream(sf, specs)
        drain(dispatcher(sf), sf)

    by_id = {e.id: e for e in sent}
    firsts: dict[int, dict[str, object]] = {}
    for r in hook.delivered():
        firsts.setdefault(r.event_id, verified(made.secret, r))
    assert set(firsts) == set(by_id)  # every event, each counted once by its webhook-id
    for event_id, doc in firsts.items():
        assert doc == json.loads(by_id[event_id].body())
    # Within an aggregate every request (failed ones too) came in sequence order.
    seen: dict[str, list[int]] = defaultdict(list)
    for r in hook.received:
        e = by_id[r.event_id]
        if e.aggregate is not None:
            seen[f"{e.aggregate}:{e.key}"].append(e.sequence)
    assert len(seen) == 4
    for sequences in seen.values():
        assert sequences == sorted(sequences)
    with sf.db.read() as conn:
        statuses = set(conn.execute(select(webhook_deliveries.c.status)).scalars())
        tries = conn.execute(select(webhook_attempts)).all()
    assert statuses == {"delivered"}
    codes = [t.http_status for t in tries]
    assert {500, 503, 429, 200} <= set(codes)
    assert None in codes  # the pause: no answer in time, and said so
    assert any(t.error and "no answer within" in t.error for t in tries)
    assert len(tries) >= len(hook.received) - 1  # every try written (a late answer or none)


def test_a_retry_after_later_than_the_schedule_is_waited_for(sf: Stockflow) -> None:
    def busy(event_id: int, nth: int) -> Answer:
        return Answer(429, {"Retry-After": "1"}) if nth == 1 else Answer(200)

    with receiver(busy) as hook:
        sf.webhooks.subscribe(owner(sf), hook.url, ["order.*"])
        stream(sf, [Spec("order.captured", "order", "SO-1")])
        drain(dispatcher(sf), sf)
    first, second = hook.received
    assert second.at - first.at >= 0.9  # the schedule said 50 ms; the receiver asked for 1 s


def test_410_gone_disables_the_subscription_and_cancels_what_it_had_pending(
    sf: Stockflow,
) -> None:
    with receiver(lambda event_id, nth: Answer(410)) as hook:
        made = sf.webhooks.subscribe(owner(sf), hook.url, ["order.*"])
        stream(
            sf, [Spec("order.captured", "order", "SO-1"), Spec("order.cancelled", "order", "SO-1")]
        )
        drain(dispatcher(sf), sf)
        assert len(hook.received) == 1  # the second waited behind the first, then was cancelled
        stream(sf, [Spec("order.captured", "order", "SO-2")])  # a disabled one gets no more
        drain(dispatcher(sf), sf)
        assert len(hook.received) == 1
    sub = sf.webhooks.subscription(made.subscription.id)
    assert sub.status is SubscriptionStatus.DISABLED
    assert sub.disabled_reason is not None
    assert "410" in sub.disabled_reason
    log = sf.webhooks.deliveries(sub.id)
    assert [d.status for d in log] == [DeliveryStatus.CANCELLED, DeliveryStatus.CANCELLED]
    assert log[1].tries[0].http_status == 410


def test_after_the_last_try_a_delivery_is_dead_until_sent_again_by_hand(sf: Stockflow) -> None:
    healthy = False

    def down(event_id: int, nth: int) -> Answer:
        return Answer(200) if healthy else Answer(502)

    with receiver(down) as hook:
        made = sf.webhooks.subscribe(owner(sf), hook.url, ["order.*"])
        sub_id = made.subscription.id
        sent = stream(sf, [Spec("order.captured", "order", f"SO-{n}") for n in range(3)])
        drain(dispatcher(sf), sf)
        assert len(hook.received) == 3 * 5  # five tries each (the schedule's length)
        dead = sf.webhooks.deliveries(sub_id, status=DeliveryStatus.DEAD)
        assert sorted(d.event_id for d in dead) == [e.id for e in sent]
        assert all(d.attempts == 5 and len(d.tries) == 5 and d.last_status == 502 for d in dead)

        healthy = True
        one = sf.webhooks.redeliver(sub_id, Redelivery(event_id=sent[0].id))
        assert one.event_ids == (sent[0].id,)
        drain(dispatcher(sf), sf)
        assert [r.event_id for r in hook.delivered()] == [sent[0].id]

        since = datetime.now(UTC) - timedelta(minutes=5)
        every = sf.webhooks.redeliver(sub_id, Redelivery(since=since))
        assert every.event_ids == tuple(e.id for e in sent)  # delivered ones too
        drain(dispatcher(sf), sf)
    assert sorted(r.event_id for r in hook.delivered()) == sorted(
        [sent[0].id] + [e.id for e in sent]
    )
    manual = [d for d in sf.webhooks.deliveries(sub_id) if d.manual]
    assert len(manual) == 4
    assert all(d.status is DeliveryStatus.DELIVERED for d in manual)


def test_a_paused_subscription_keeps_its_deliveries_until_resumed(sf: Stockflow) -> None:
    with receiver() as hook:
        made = sf.webhooks.subscribe(owner(sf), hook.url, ["*"])
        sub_id = made.subscription.id
        sf.webhooks.change(sub_id, Changes(status=SubscriptionStatus.PAUSED))
        sent = stream(sf, [Spec("order.captured", "order", "SO-1")])
        drain(dispatcher(sf), sf, until_idle=False)
        assert hook.received == []
        assert [d.status for d in sf.webhooks.deliveries(sub_id)] == [DeliveryStatus.PENDING]
        sf.webhooks.change(sub_id, Changes(status=SubscriptionStatus.ACTIVE))
        drain(dispatcher(sf), sf)
    assert [r.event_id for r in hook.delivered()] == [sent[0].id]


def test_after_a_rotation_both_secrets_sign_until_the_old_one_expires(
    sf: Stockflow,
) -> None:
    with receiver() as hook:
        made = sf.webhooks.subscribe(owner(sf), hook.url, ["*"])
        rotated = sf.webhooks.rotate_secret(made.subscription.id)
        assert rotated.secret != made.secret
        assert rotated.subscription.old_secret_until is not None
        stream(sf, [Spec("order.captured", "order", "SO-1")])
        drain(dispatcher(sf), sf)
        sf.webhooks.overlap = timedelta(0)  # a second rotation ends both earlier secrets at once
        third = sf.webhooks.rotate_secret(made.subscription.id)
        stream(sf, [Spec("order.captured", "order", "SO-1")])
        drain(dispatcher(sf), sf)
    during, after = hook.delivered()
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verified(made.secret, during)
    verified(rotated.secret, during)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    verified(third.secret, after)
    with pytest.raises(WebhookVerificationError):
        verified(rotated.secret, after)
    assert third.subscription.old_secret_until is None


def test_a_receiver_that_refuses_connections_is_tried_and_logged(sf: Stockflow) -> None:
    with receiver() as hook:
        url = hook.url
    made = sf.webhooks.subscribe(owner(sf), url, ["*"])  # nobody listens there any more
    stream(sf, [Spec("order.captured", "order", "SO-1")])
    drain(dispatcher(sf, schedule=[timedelta(0), timedelta(milliseconds=10)]), sf)
    (dead,) = sf.webhooks.deliveries(made.subscription.id)
    assert dead.status is DeliveryStatus.DEAD
    assert [t.http_status for t in dead.tries] == [None, None]
    assert all(t.error and "Connect" in t.error for t in dead.tries)


def test_an_aggregate_waits_behind_its_first_and_one_left_without_it_is_woken(
    sf: Stockflow,
) -> None:
    """Only an aggregate's first pending delivery has a try time; a stranded queue still goes."""
    with receiver() as hook:
        made = sf.webhooks.subscribe(owner(sf), hook.url, ["*"])
        sub_id = made.subscription.id
        specs = [Spec("order.captured", "order", "SO-1") for _ in range(3)]
        sent = stream(sf, [*specs, Spec("order.captured", "order", "SO-2")])
        queued = {d.event_id: d for d in sf.webhooks.deliveries(sub_id)}
        timed = {e for e, d in queued.items() if d.next_attempt_at is not None}
        assert timed == {sent[0].id, sent[3].id}  # the first of each order
        # The first of SO-1 finishes in a way that does not wake the next (as when a
        # redelivery is queued in another transaction at that moment).
        with sf.db.write() as conn:
            conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.event_id == sent[0].id)
                .values(status="delivered", finished_at=datetime.now(UTC))
            )
        drain(dispatcher(sf), sf)
    assert [r.event_id for r in hook.delivered()] in (
        [sent[1].id, sent[2].id, sent[3].id],
        [sent[3].id, sent[1].id, sent[2].id],
        [sent[1].id, sent[3].id, sent[2].id],
    )
    assert {d.status for d in sf.webhooks.deliveries(sub_id)} == {DeliveryStatus.DELIVERED}
