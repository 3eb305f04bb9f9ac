"""Nobody gets anything without signing in, and a dead credential is refused wherever it is sent.

Read from the OpenAPI document: every operation but the health check and
signing in answers an anonymous request 401 with ``WWW-Authenticate:
Bearer``, before any of its input is looked at, and changes nothing. The
OpenAPI document itself is public too. The public paths take no
credentials, but a request that sends one is held to it: an unknown,
malformed, expired or revoked token, a stopped user's token, or an ended
session gets the same 401 there as anywhere.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from helpers import bearer, problem, token_for
from operations import last_audit_id, operations, snapshot
from stockflow.access.front import Access
from stockflow.api.app import create_app
from stockflow.api.identity import CSRF_HEADER, PREFIX, SESSION_COOKIE
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import Role

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

OPEN_TO_ANYONE = {f"GET {PREFIX}/health", f"POST {PREFIX}/session"}
PASSWORD = "correct horse battery staple"


def refused(resp: Any) -> None:
    """A 401 problem document telling the client how to sign in."""
    problem(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer "), resp.headers


def test_every_operation_but_health_and_signing_in_wants_a_caller(sf: Stockflow) -> None:
    app = create_app(sf)
    client = TestClient(app)
    ops = operations(app.openapi())
    assert len(ops) > 80
    assert {str(op) for op in ops} >= OPEN_TO_ANYONE
    before, last = snapshot(sf), last_audit_id(sf)
    for op in ops:
        body = {} if op.method in ("POST", "PUT", "PATCH") else None
        resp = client.request(op.method, op.url(), json=body)
        if str(op) in OPEN_TO_ANYONE:
            assert resp.status_code in (200, 422), (str(op), resp.text)
        else:
            refused(resp)
    assert snapshot(sf) == before
    assert last_audit_id(sf) == last  # not even a refusal: nobody was there to record
    assert client.get(f"{PREFIX}/openapi.json").status_code == 200
    refused(client.get(f"{PREFIX}/no-such-thing"))  # an unknown path tells nobody it is unknown


def test_the_public_paths_hold_a_sent_credential_to_being_alive(sf: Stockflow) -> None:
    app = create_app(sf)
    client = TestClient(app)
    live = token_for(sf, "clerk", Role.SALES)
    sf.access.set_password("clerk", PASSWORD)
    dead_tokens = {
        "unknown": "sfk_" + "x" * 40,
        "malformed": "not-a-token",
        "expired": _expired_token(sf, "clerk"),
        "revoked": _revoked_token(sf, client, "clerk"),
        "of a stopped user": _stopped_users_token(sf),
    }
    session = client.post(f"{PREFIX}/session", json={"name": "clerk", "password": PASSWORD})
    assert session.status_code == 201, session.text
    ended = session.cookies[SESSION_COOKIE]
    client.cookies.clear()
    cookie = {"Cookie": f"{SESSION_COOKIE}={ended}"}
    assert client.get(f"{PREFIX}/session", headers=cookie).status_code == 200
    csrf = {CSRF_HEADER: session.json()["csrf_token"]}
    assert client.delete(f"{PREFIX}/session", headers=cookie | csrf).status_code == 204

    sign_in = {"name": "clerk", "password": PASSWORD}
    requests = [
        ("GET", f"{PREFIX}/health", None),
        ("GET", f"{PREFIX}/openapi.json", None),
        ("POST", f"{PREFIX}/session", sign_in),
        ("GET", f"{PREFIX}/skus", None),
    ]
    for method, url, body in requests:
        resp = client.request(method, url, json=body, headers=bearer(live))
        assert resp.status_code in (200, 201), (method, url, resp.text)
        client.cookies.clear()
        for why, token in dead_tokens.items():
            resp = client.request(method, url, json=body, headers=bearer(token))
            assert resp.status_code == 401, (method, url, why)
            refused(resp)
        basic = client.request(method, url, json=body, headers={"Authorization": "Basic eDp5"})
        refused(basic)
        assert "bearer" in problem(basic, 401)["detail"]
        cookie = {"Cookie": f"{SESSION_COOKIE}={ended}"}
        refused(client.request(method, url, json=body, headers=cookie))


def _expired_token(sf: Stockflow, user: str) -> str:
    """A token issued two days ago for one day."""
    past = sf.clock() - timedelta(days=2)
    return Access(sf.db, lambda: past).issue_token(user, "yesterday's", days=1).secret


def _revoked_token(sf: Stockflow, client: TestClient, user: str) -> str:
    """A token revoked after it was used (so the server had it in memory)."""
    issued = sf.access.issue_token(user, "to revoke")
    assert client.get(f"{PREFIX}/skus", headers=bearer(issued.secret)).status_code == 200
    sf.access.revoke_token(issued.token.id)
    return issued.secret


def _stopped_users_token(sf: Stockflow) -> str:
    token = token_for(sf, "leaver", Role.WAREHOUSE)
    sf.access.set_active("leaver", False)
    return token
