"""Webhook subscriptions over HTTP: made, read, changed, rotated, logged and resent, by owner.

A real receiver on 127.0.0.1 stands in for the subscriber's endpoint; events
are written to the outbox and fanned out as the relay does, and the
dispatcher sends them. What the API shows (secrets once, the delivery log
with its tries, dead letters, redeliveries) is checked against what the
receiver got.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from standardwebhooks import Webhook
from starlette.exceptions import StarletteDeprecationWarning

from helpers import bearer, created, problem, token_for
from stockflow.adapters.tables import outbox
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import Role
from webhook_kit import Answer, Spec, dispatcher, drain, receiver, stream

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1/webhooks"


@pytest.fixture
def http(sf: Stockflow) -> Iterator[TestClient]:
    with TestClient(create_app(sf)) as client:
        yield client


def as_user(sf: Stockflow, name: str, role: Role = Role.SALES) -> dict[str, str]:
    return bearer(token_for(sf, name, role))


def subscribe(
    http: TestClient, who: dict[str, str], url: str, **extra: object
) -> dict[str, object]:
    body = {"url": url, "event_types": ["order.*"], **extra}
    return created(http.post(API, json=body, headers=who))


def test_a_subscription_is_made_with_its_secret_shown_once(sf: Stockflow, http: TestClient) -> None:
    me = as_user(sf, "sam")
    made = subscribe(http, me, "https://shop.example/hooks", description="order feed")
    secret = made["secret"]
    assert isinstance(secret, str)
    assert secret.startswith("whsec_")
    Webhook(secret)  # the reference library takes it as a secret
    assert made["owner"] == "sam"
    assert made["status"] == "active"
    one = http.get(f"{API}/{made['id']}", headers=me)
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert one.json()["description"] == "order feed"
    listed = http.get(API, headers=me).json()["items"]
    assert [s["id"] for s in listed] == [made["id"]]
    assert all("secret" not in s for s in listed)


def test_bad_event_types_and_urls_are_refused_naming_the_field(
    sf: Stockflow, http: TestClient
) -> None:
    me = as_user(sf, "sam")
    bad = http.post(
        API, json={"url": "https://x.example", "event_types": ["order.*", "nope"]}, headers=me
    )
    assert problem(bad, 422)["field"] == "event_types[1]"
    family = http.post(
        API, json={"url": "https://x.example", "event_types": ["nope.*"]}, headers=me
    )
    assert problem(family, 422)["field"] == "event_types[0]"
    for url in ("ftp://x.example/hook", "not a url", "https://"):
        refused = http.post(API, json={"url": url, "event_types": ["*"]}, headers=me)
        assert problem(refused, 422)["field"] == "url"
    none = http.post(API, json={"url": "https://x.example", "event_types": []}, headers=me)
    assert problem(none, 422)["errors"][0]["field"] == "event_types"
    assert http.get(API, headers=me).json()["items"] == []  # nothing was made
    made = subscribe(http, me, "https://x.example")
    patched = http.patch(
        f"{API}/{made['id']}", json={"event_types": ["*", "stock.nope"]}, headers=me
    )
    assert problem(patched, 422)["field"] == "event_types[1]"
    assert http.get(f"{API}/{made['id']}", headers=me).json()["event_types"] == ["order.*"]


def test_each_caller_sees_its_own_and_a_manager_sees_all(sf: Stockflow, http: TestClient) -> None:
    sam, kim = as_user(sf, "sam"), as_user(sf, "kim", Role.WAREHOUSE)
    boss = as_user(sf, "boss", Role.MANAGER)
    sams = subscribe(http, sam, "https://sam.example/hook")
    kims = subscribe(http, kim, "https://kim.example/hook", event_types=["stock.*"])
    assert [s["id"] for s in http.get(API, headers=sam).json()["items"]] == [sams["id"]]
    assert [s["id"] for s in http.get(API, headers=boss).json()["items"]] == [
        sams["id"],
        kims["id"],
    ]
    only_kim = http.get(API, params={"owner": "kim"}, headers=boss).json()["items"]
    assert [s["id"] for s in only_kim] == [kims["id"]]
    assert problem(http.get(API, params={"owner": "kim"}, headers=sam), 403)["field"] == "owner"
    # Another's subscription is unknown to sam, for reading and for changing.
    for resp in (
        http.get(f"{API}/{kims['id']}", headers=sam),
        http.patch(f"{API}/{kims['id']}", json={"status": "paused"}, headers=sam),
        http.delete(f"{API}/{kims['id']}", headers=sam),
        http.post(f"{API}/{kims['id']}/rotate-secret", headers=sam),
        http.get(f"{API}/{kims['id']}/deliveries", headers=sam),
        http.post(f"{API}/{kims['id']}/redeliver", json={"event_id": 1}, headers=sam),
    ):
        assert str(kims["id"]) in problem(resp, 404)["detail"]
    assert http.get(f"{API}/{kims['id']}", headers=kim).json()["status"] == "active"
    # The manager may stop it.
    paused = http.patch(f"{API}/{kims['id']}", json={"status": "paused"}, headers=boss)
    assert paused.json()["status"] == "paused"
    assert (
        problem(http.patch(f"{API}/{kims['id']}", json={"status": "disabled"}, headers=boss), 422)[
            "errors"
        ][0]["field"]
        == "status"
    )


def test_a_read_only_user_may_not_subscribe(sf: Stockflow, http: TestClient) -> None:
    viewer = as_user(sf, "ro", Role.READ_ONLY)
    refused = http.post(
        API, json={"url": "https://x.example", "event_types": ["*"]}, headers=viewer
    )
    problem(refused, 403)
    assert http.get(API, headers=viewer).json()["items"] == []


def test_change_pause_resume_and_remove(sf: Stockflow, http: TestClient) -> None:
    me = as_user(sf, "sam")
    made = subscribe(http, me, "https://a.example/hook", description="first")
    path = f"{API}/{made['id']}"
    changed = http.patch(
        path, json={"url": "http://b.example/hook", "event_types": ["order.captured"]}, headers=me
    ).json()
    assert (changed["url"], changed["event_types"], changed["description"]) == (
        "http://b.example/hook",
        ["order.captured"],
        "first",  # left out: left as it was
    )
    cleared = http.patch(path, json={"description": None}, headers=me).json()
    assert cleared["description"] is None
    assert http.patch(path, json={"status": "paused"}, headers=me).json()["status"] == "paused"
    assert http.patch(path, json={"status": "active"}, headers=me).json()["status"] == "active"
    assert http.delete(path, headers=me).status_code == 204
    problem(http.get(path, headers=me), 404)


def test_a_rotated_secret_is_shown_once_and_both_sign_meanwhile(
    sf: Stockflow, http: TestClient
) -> None:
    me = as_user(sf, "sam")
    with receiver() as hook:
        made = subscribe(http, me, hook.url)
        rotated = http.post(f"{API}/{made['id']}/rotate-secret", headers=me)
        assert rotated.status_code == 200
        new = rotated.json()
        assert new["secret"] != made["secret"]
        assert new["secret"].startswith("whsec_")
        until = datetime.fromisoformat(new["old_secret_until"])
        assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
        stream(sf, [Spec("order.captured", "order", "SO-1")])
        drain(dispatcher(sf), sf)
    (got,) = hook.delivered()
    for secret in (made["secret"], new["secret"]):
        assert Webhook(str(secret)).verify(got.body, got.headers)["type"] == "order.captured"


def test_the_delivery_log_shows_dead_letters_with_their_tries_and_resends_them(
    sf: Stockflow, http: TestClient
) -> None:
    me = as_user(sf, "sam")
    up = False

    def flaky(event_id: int, nth: int) -> Answer:
        return Answer(200) if up else Answer(500)

    with receiver(flaky) as hook:
        made = subscribe(http, me, hook.url)
        log = f"{API}/{made['id']}/deliveries"
        sent = stream(sf, [Spec("order.captured", "order", f"SO-{n}") for n in range(3)])
        drain(dispatcher(sf, schedule=[timedelta(0), timedelta(milliseconds=20)]), sf)
        dead = http.get(log, params={"status": "dead"}, headers=me).json()
        assert sorted(d["event_id"] for d in dead["items"]) == [e.id for e in sent]
        first = dead["items"][0]
        assert first["topic"] == "order.captured"
        assert first["attempts"] == 2
        assert [t["http_status"] for t in first["tries"]] == [500, 500]
        assert all(t["duration_ms"] >= 0 for t in first["tries"])
        # Cursor paging: two pages of 2 and 1, newest first, nothing twice.
        page1 = http.get(log, params={"limit": 2}, headers=me).json()
        page2 = http.get(log, params={"limit": 2, "cursor": page1["next"]}, headers=me).json()
        ids = [d["id"] for d in page1["items"] + page2["items"]]
        assert len(ids) == len(set(ids)) == 3
        assert ids == sorted(ids, reverse=True)
        assert page2["next"] is None

        up = True
        one = http.post(f"{API}/{made['id']}/redeliver", json={"event_id": sent[1].id}, headers=me)
        assert one.status_code == 202
        assert one.json()["event_ids"] == [sent[1].id]
        drain(dispatcher(sf), sf)
        assert [r.event_id for r in hook.delivered()] == [sent[1].id]
        since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        every = http.post(f"{API}/{made['id']}/redeliver", json={"since": since}, headers=me)
        assert every.json()["event_ids"] == [e.id for e in sent]
        drain(dispatcher(sf), sf)
    assert sorted(r.event_id for r in hook.delivered()) == sorted(
        [sent[1].id] + [e.id for e in sent]
    )
    assert http.get(log, params={"status": "dead"}, headers=me).json()["items"] != []
    resent = http.get(log, params={"status": "delivered"}, headers=me).json()["items"]
    assert len(resent) == 4
    assert all(d["manual"] for d in resent)


def test_redelivering_events_no_longer_kept_is_refused_naming_them(
    sf: Stockflow, http: TestClient
) -> None:
    me = as_user(sf, "sam")
    made = subscribe(http, me, "http://127.0.0.1:9/hook")
    sent = stream(sf, [Spec("order.captured", "order", f"SO-{n}") for n in range(2)])
    with sf.db.write() as conn:
        conn.execute(delete(outbox).where(outbox.c.id == sent[0].id))  # pruned after retention
    path = f"{API}/{made['id']}/redeliver"
    gone = problem(http.post(path, json={"event_id": sent[0].id}, headers=me), 409)
    assert str(sent[0].id) in gone["detail"]
    assert gone["field"] == "event_id"
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    ranged = problem(http.post(path, json={"since": since}, headers=me), 409)
    assert str(sent[0].id) in ranged["detail"]
    assert str(sent[1].id) not in ranged["detail"]
    never = problem(http.post(path, json={"event_id": 999999}, headers=me), 404)
    assert never["field"] == "event_id"
    both = problem(http.post(path, json={"event_id": 1, "since": since}, headers=me), 422)
    assert both["field"] == "event_id"
    log = http.get(f"{API}/{made['id']}/deliveries", headers=me).json()["items"]
    assert not any(d["manual"] for d in log)  # nothing was queued by the refusals
