"""Who is calling: API tokens, browser sessions with CSRF, revocation, the audit trail, rate limits.

Every request is authenticated once, in front of the routes and the
reservation fast lane alike; the ledger and the audit trail name the signed-in
user, whatever headers the client sends about itself.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client, bearer, created, problem, stock_shop_over_http, token_for
from stockflow.access.front import Access
from stockflow.adapters.tables import api_tokens, reservations, stock_moves, users
from stockflow.api.app import Api, create_app
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import Role

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(sf: Stockflow) -> Api:
    return create_app(sf)


@pytest.fixture
def admin(app: Api) -> Iterator[TestClient]:
    """A shop (WH1 with 10 of A and 4 of B) and a client signed in as its admin."""
    with api_client(app) as client:
        stock_shop_over_http(client, API)
        yield client


@pytest.fixture
def browser(app: Api) -> Iterator[TestClient]:
    """A client with no token, as a browser is, over HTTPS (the session cookie is Secure)."""
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def ledger_actors(sf: Stockflow) -> list[str]:
    with sf.db.read() as conn:
        return list(conn.execute(select(stock_moves.c.actor).order_by(stock_moves.c.id)).scalars())


def count(sf: Stockflow, table: Any) -> int:
    with sf.db.read() as conn:
        found: int = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return found


def move(client: TestClient, headers: dict[str, str] | None = None) -> Any:
    body = {"sku": "A", "qty": 1, "reason": "move", "from": {"location": "WH1"},
            "to": {"location": "WH1", "bin": "A-01"}}  # fmt: skip
    return client.post(f"{API}/moves", json=body, headers=headers or {})


# tokens --------------------------------------------------------------------------------------


def test_the_ledger_names_the_signed_in_user_whatever_the_request_claims(
    admin: TestClient, sf: Stockflow
) -> None:
    dana = bearer(token_for(sf, "dana", Role.WAREHOUSE))
    created(move(admin, {**dana, "X-Actor": "warehouse-manager"}))
    assert ledger_actors(sf)[-1] == "dana"
    trail = admin.get(f"{API}/audit", params={"actor": "dana"}).json()["items"]
    assert [(e["actor"], e["role"], e["via"], e["command"], e["outcome"]) for e in trail] == [
        ("dana", "warehouse", "token", "POST /api/v1/moves", "done")
    ]
    assert trail[0]["token_id"] is not None


def test_a_token_is_shown_once_listed_by_prefix_and_notes_its_last_use(
    admin: TestClient, sf: Stockflow
) -> None:
    issued = created(admin.post(f"{API}/tokens", json={"name": "web shop", "expires_in_days": 30}))
    secret = issued["token"]
    assert secret.startswith("sfk_")
    assert len(secret) == 47
    assert issued["prefix"] == secret[:12]
    assert (issued["name"], issued["user"], issued["last_used_at"]) == ("web shop", "admin", None)
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert admin.get(f"{API}/session", headers=bearer(secret)).json()["via"] == "token"
    listed = {t["id"]: t for t in admin.get(f"{API}/tokens").json()["items"]}
    assert "token" not in listed[issued["id"]]
    assert listed[issued["id"]]["last_used_at"] is not None
    assert secret not in json.dumps(admin.get(f"{API}/tokens").json())


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param("Bearer sfk_" + "x" * 43, id="unknown"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("Basic YWRtaW46YWRtaW4=", id="not-bearer"),
    ],
)
def test_a_bad_credential_is_401_even_on_a_public_path(admin: TestClient, credential: str) -> None:
    for path in ("/skus", "/health"):
        answer = admin.get(f"{API}{path}", headers={"Authorization": credential})
        body = problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "token" in body["detail"]


def test_a_revoked_token_stops_at_once_and_only_its_owner_or_an_admin_revokes_it(
    admin: TestClient, sf: Stockflow
) -> None:
    ola = bearer(token_for(sf, "ola", Role.SALES))
    eve = bearer(token_for(sf, "eve", Role.SALES))
    ola_token = admin.get(f"{API}/tokens", params={"user": "ola"}).json()["items"][0]
    assert admin.get(f"{API}/skus", headers=ola).status_code == 200  # now cached as good
    problem(admin.delete(f"{API}/tokens/{ola_token['id']}", headers=eve), 404)
    assert admin.get(f"{API}/skus", headers=ola).status_code == 200
    problem(admin.get(f"{API}/tokens", params={"user": "ola"}, headers=eve), 403)
    assert admin.delete(f"{API}/tokens/{ola_token['id']}", headers=ola).status_code == 204
    problem(admin.get(f"{API}/skus", headers=ola), 401)
    revoked = admin.get(f"{API}/tokens", params={"user": "ola"}).json()["items"][0]
    assert revoked["revoked_at"] is not None


def test_revocation_in_another_process_takes_effect_when_the_cache_rechecks(
    admin: TestClient, sf: Stockflow, app: Api
) -> None:
    sf.access.authenticator.recheck_after = 1.0  # ten seconds in service; one is enough here
    ola = token_for(sf, "ola", Role.SALES)
    assert admin.get(f"{API}/skus", headers=bearer(ola)).status_code == 200
    elsewhere = Access(sf.db, sf.clock)  # as the command line would, in a process of its own
    elsewhere.revoke_token(elsewhere.tokens("ola")[0].id)
    assert admin.get(f"{API}/skus", headers=bearer(ola)).status_code == 200  # still remembered
    time.sleep(1.1)  # the recheck period has passed
    problem(admin.get(f"{API}/skus", headers=bearer(ola)), 401)


def test_a_known_token_is_checked_without_a_database_round_trip(
    admin: TestClient, sf: Stockflow
) -> None:
    statements: list[str] = []

    def noted(*args: Any) -> None:
        statements.append(args[2])

    ola = bearer(token_for(sf, "ola", Role.SALES))
    engines = {sf.db.engine, sf.db.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", noted)
    try:
        anonymous = TestClient(admin.app)
        for _ in range(3):
            assert anonymous.get(f"{API}/health").status_code == 200
        own = statements.copy()  # the health check's own statements
        statements.clear()
        admin.get(f"{API}/health", headers=ola)  # first sight: looked up, last use noted
        assert len(statements) > len(own) / 3
        statements.clear()
        for _ in range(3):
            assert admin.get(f"{API}/health", headers=ola).status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", noted)
    assert statements == own


def test_an_expired_token_and_a_stopped_user_are_refused(db_url: str) -> None:
    now = [datetime(2031, 3, 3, 9, 0, tzinfo=UTC)]
    sf = Stockflow.open(db_url, migrate_schema=False, clock=lambda: now[0])
    # This clock jumps a day while the monotonic one the memory keeps time by does
    # not: ask the database every time.
    sf.access.authenticator.recheck_after = 0
    try:
        with TestClient(create_app(sf)) as client:
            sf.access.add_user("ola", Role.SALES)
            brief = bearer(sf.access.issue_token("ola", "one day", days=1).secret)
            long = bearer(sf.access.issue_token("ola", "a month", days=30).secret)
            assert client.get(f"{API}/skus", headers=brief).status_code == 200
            now[0] += timedelta(days=1, seconds=1)
            assert "expired" in problem(client.get(f"{API}/skus", headers=brief), 401)["detail"]
            assert client.get(f"{API}/skus", headers=long).status_code == 200
            sf.access.set_active("ola", False)
            problem(client.get(f"{API}/skus", headers=long), 401)
            sf.access.set_active("ola", True)
            assert client.get(f"{API}/skus", headers=long).status_code == 200
    finally:
        sf.close()


def test_a_token_remembered_as_good_is_not_served_past_its_expiry(
    admin: TestClient, sf: Stockflow
) -> None:
    ola = token_for(sf, "ola", Role.SALES)
    with sf.db.write() as conn:
        conn.execute(update(api_tokens).values(expires_at=datetime.now(UTC) + timedelta(seconds=1)))
    assert admin.get(f"{API}/skus", headers=bearer(ola)).status_code == 200  # remembered now
    time.sleep(1.1)
    problem(admin.get(f"{API}/skus", headers=bearer(ola)), 401)


def test_only_a_user_administrator_sets_a_tokens_rate_limit(
    admin: TestClient, sf: Stockflow
) -> None:
    ola = bearer(token_for(sf, "ola", Role.MANAGER))
    body = {"name": "fast", "rate_limit": 500}
    assert (
        problem(admin.post(f"{API}/tokens", json=body, headers=ola), 403)["field"] == "rate_limit"
    )
    assert created(admin.post(f"{API}/tokens", json=body))["rate_limit"] == 500


# sessions ------------------------------------------------------------------------------------


def test_a_browser_session_needs_its_csrf_token_for_every_change(
    browser: TestClient, sf: Stockflow
) -> None:
    sf.access.add_user("ada", Role.MANAGER, password=PASSWORD)
    problem(browser.get(f"{API}/skus"), 401)
    signed = browser.post(f"{API}/session", json={"name": "ada", "password": PASSWORD})
    session = created(signed)
    cookie = signed.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert (session["name"], session["role"], session["via"]) == ("ada", "manager", "session")
    assert "orders:write" in session["permissions"]
    assert browser.get(f"{API}/session").json()["name"] == "ada"

    sku = {"code": "S1", "name": "Sock"}
    refused = problem(browser.post(f"{API}/skus", json=sku), 403)
    assert refused["field"] == "X-CSRF-Token"
    problem(browser.post(f"{API}/skus", json=sku, headers={"X-CSRF-Token": "guess"}), 403)
    assert browser.get(f"{API}/skus/S1").status_code == 404  # nothing was made
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    created(browser.post(f"{API}/skus", json=sku, headers=csrf))
    trail = sf.access.audit(actor="ada")
    assert [(e.via, e.command) for e in trail] == [("session", "POST /api/v1/skus")]

    problem(browser.delete(f"{API}/session"), 403)  # signing out is a change too
    assert browser.delete(f"{API}/session", headers=csrf).status_code == 204
    problem(browser.get(f"{API}/skus"), 401)


def test_signing_in_fails_alike_for_a_wrong_password_and_an_unknown_user(
    browser: TestClient, sf: Stockflow
) -> None:
    sf.access.add_user("ada", Role.MANAGER, password=PASSWORD)
    sf.access.add_user("bot", Role.SALES)  # tokens only: no password to sign in with
    wrong = problem(browser.post(f"{API}/session", json={"name": "ada", "password": "x" * 20}), 401)
    nobody = problem(
        browser.post(f"{API}/session", json={"name": "zed", "password": "x" * 20}), 401
    )
    bot = problem(browser.post(f"{API}/session", json={"name": "bot", "password": "x" * 20}), 401)
    assert wrong["detail"] == nobody["detail"] == bot["detail"] == "wrong user name or password"
    assert (
        "set-cookie"
        not in browser.post(f"{API}/session", json={"name": "ada", "password": "x" * 20}).headers
    )


def test_a_new_password_ends_the_users_sessions(browser: TestClient, sf: Stockflow) -> None:
    sf.access.add_user("ada", Role.MANAGER, password=PASSWORD)
    created(browser.post(f"{API}/session", json={"name": "ada", "password": PASSWORD}))
    assert browser.get(f"{API}/session").status_code == 200
    sf.access.set_password("ada", "another long passphrase")
    problem(browser.get(f"{API}/session"), 401)


def test_passwords_are_kept_as_argon2id_hashes_at_owasp_strength_or_more(sf: Stockflow) -> None:
    sf.access.add_user("ada", Role.MANAGER, password=PASSWORD)
    with sf.db.read() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert PASSWORD not in stored
    variant, version, params, *_ = stored.lstrip("$").split("$")
    settings = dict(p.split("=") for p in params.split(","))
    assert (variant, version) == ("argon2id", "v=19")
    assert int(settings["m"]) >= 19_456  # KiB
    assert int(settings["t"]) >= 2
    assert int(settings["p"]) >= 1


# the fast lane and rate limits ---------------------------------------------------------------


def test_the_fast_lane_authenticates_checks_the_role_and_audits(
    admin: TestClient, sf: Stockflow
) -> None:
    body = {"lines": [{"sku": "A", "qty": 1}]}
    anonymous = TestClient(admin.app)
    problem(anonymous.post(f"{API}/reservations", json=body), 401)
    viewer = bearer(token_for(sf, "vic", Role.READ_ONLY))
    problem(admin.post(f"{API}/reservations", json=body, headers=viewer), 403)
    assert count(sf, reservations) == 0
    seller = bearer(token_for(sf, "sam", Role.SALES))
    created(admin.post(f"{API}/reservations", json=body, headers=seller))
    trail = sf.access.audit(command="reservations")
    assert [(e.actor, e.outcome, e.via) for e in trail] == [
        ("sam", "done", "token"),
        ("vic", "denied", "token"),
    ]


def test_order_capture_and_reservations_are_limited_per_token_with_retry_after(
    admin: TestClient, sf: Stockflow
) -> None:
    admin.post(f"{API}/channels", json={"code": "WEB", "name": "Web", "ship_from": ["WH1"]})
    slow = bearer(token_for(sf, "script", Role.SALES, rate_limit=1))
    other = bearer(sf.access.issue_token("script", "another", rate_limit=1).secret)
    order = {"channel": "WEB", "ship_to": "1 Dock Rd", "lines": [{"sku": "B", "qty": 1}]}
    answers = [admin.post(f"{API}/orders", json=order, headers=slow) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    limited = problem(answers[2], 429)
    assert int(answers[2].headers["retry-after"]) >= 1
    assert limited["retry_after"] == int(answers[2].headers["retry-after"])
    reserve = {"lines": [{"sku": "A", "qty": 1}]}
    lane = [admin.post(f"{API}/reservations", json=reserve, headers=slow) for _ in range(1)]
    assert lane[0].status_code == 429
    assert int(lane[0].headers["retry-after"]) >= 1
    assert admin.post(f"{API}/orders", json=order, headers=other).status_code == 201
    assert admin.get(f"{API}/orders", headers=slow).status_code == 200  # reads are not limited


# users ---------------------------------------------------------------------------------------


def test_an_administrator_adds_and_stops_users_over_http(admin: TestClient, sf: Stockflow) -> None:
    admin.post(f"{API}/channels", json={"code": "MKT", "name": "Marketplace", "ship_from": ["WH1"]})
    partner = {"name": "mkt", "role": "marketplace"}
    assert problem(admin.post(f"{API}/users", json=partner), 422)["field"] == "scope"
    unknown = problem(admin.post(f"{API}/users", json={**partner, "scope": ["NOPE"]}), 404)
    assert unknown["field"] == "scope[0]"
    short = {**partner, "scope": ["MKT"], "password": "short"}
    assert problem(admin.post(f"{API}/users", json=short), 422)["field"] == "password"
    assert [u["name"] for u in admin.get(f"{API}/users").json()["items"]] == ["admin"]

    made = created(admin.post(f"{API}/users", json={**partner, "scope": ["MKT"]}))
    assert (made["role"], made["scope_kind"], made["scope"], made["has_password"]) == (
        "marketplace", "channels", ["MKT"], False,
    )  # fmt: skip
    problem(admin.post(f"{API}/users", json={**partner, "scope": ["MKT"]}), 409)
    manager = bearer(token_for(sf, "meg", Role.MANAGER))
    assert [u["name"] for u in admin.get(f"{API}/users", headers=manager).json()["items"]] == [
        "admin", "meg", "mkt",
    ]  # fmt: skip
    problem(admin.post(f"{API}/users/mkt/disable", headers=manager), 403)

    mkt = bearer(sf.access.issue_token("mkt", "shop").secret)
    assert admin.get(f"{API}/session", headers=mkt).json()["scope"]["channels"] == ["MKT"]
    assert admin.post(f"{API}/users/mkt/disable").json()["active"] is False
    problem(admin.get(f"{API}/session", headers=mkt), 401)
    assert admin.post(f"{API}/users/mkt/enable").json()["active"] is True
    assert admin.get(f"{API}/session", headers=mkt).status_code == 200
    problem(admin.post(f"{API}/users/nobody/disable"), 404)


def test_guessing_a_password_is_slowed_to_one_try_a_minute(
    browser: TestClient, sf: Stockflow
) -> None:
    sf.access.add_user("ada", Role.MANAGER, password=PASSWORD)
    guesses = [
        browser.post(f"{API}/session", json={"name": "ada", "password": f"guess number {n}"})
        for n in range(11)
    ]
    assert [g.status_code for g in guesses] == [401] * 10 + [429]
    assert 1 <= int(guesses[-1].headers["retry-after"]) <= 60
    late = browser.post(f"{API}/session", json={"name": "ADA", "password": PASSWORD})
    assert problem(late, 429)["detail"].startswith("ten sign-ins for one user name")
