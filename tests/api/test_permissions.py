"""Every operation of the OpenAPI, called by every role: allowed or refused as the table says.

The matrix is generated, not written out: the operations come from the
application's own OpenAPI document, each with the permission its
``x-stockflow-permission`` label names, and what each role may do comes from
``PERMISSIONS``. A route added later is in the matrix without a word, and a
route that names no permission keeps the application from starting at all.

Each request is signed in with an API token of its role and carries made-up
path values and an empty JSON body: a role the table refuses gets a 403
problem document, nothing in the database changes and the audit trail
records the refusal; a role the table allows gets past the check (the answer
is then whatever a made-up request deserves, such as a 404 or a 422, but
never a 401, a 403 or a 5xx).

What a partner may not see of another partner's objects is
``test_scopes_matrix``'s.

The whole matrix runs on SQLite and on PostgreSQL, one application per backend.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client, problem, token_for
from operations import (
    PUBLIC,
    SIGNED_IN,
    audit_since,
    last_audit_id,
    operations,
    snapshot,
)
from stockflow.api import app as api_app
from stockflow.api import guard
from stockflow.api.app import create_app
from stockflow.api.identity import PREFIX
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import (
    PARTNER_SCOPE,
    Action,
    Permission,
    Resource,
    Role,
    ScopeKind,
)

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

# Each partner's own objects, made in the fixture, so its user can be created.
OWN_SCOPE = {ScopeKind.LOCATIONS: "P3L", ScopeKind.CHANNELS: "PMKT", ScopeKind.SUPPLIER: "PSUP"}


def user_of(role: Role) -> str:
    return f"{role}-user"


@pytest.fixture
def shop(sf: Stockflow) -> Iterator[tuple[TestClient, dict[Role, str]]]:
    """An admin client of the app and a token of every role; partners limited to their own."""
    app = create_app(sf)
    with api_client(app) as admin:
        for path, code in (
            ("/locations", OWN_SCOPE[ScopeKind.LOCATIONS]),
            ("/channels", OWN_SCOPE[ScopeKind.CHANNELS]),
            ("/suppliers", OWN_SCOPE[ScopeKind.SUPPLIER]),
        ):
            body = {"code": code, "name": f"Partner {code}"}
            if path == "/suppliers":
                body["lead_time_days"] = 3
            assert admin.post(f"{PREFIX}{path}", json=body).status_code == 201
        tokens = {role: token_for(sf, user_of(role), role, _own(role)) for role in Role}
        yield admin, tokens


def _own(role: Role) -> list[str]:
    kind = PARTNER_SCOPE.get(role)
    return [OWN_SCOPE[kind]] if kind is not None else []


def test_every_operation_names_a_permission_that_exists(sf: Stockflow) -> None:
    ops = operations(create_app(sf).openapi())
    assert len(ops) > 80
    unlabelled = [str(op) for op in ops if not op.label]
    assert unlabelled == []
    labels = {op.label for op in ops}
    assert {PUBLIC, SIGNED_IN} <= labels
    for label in labels - {PUBLIC, SIGNED_IN}:
        resource, _, action = label.partition(":")
        Permission(Resource(resource), Action(action))  # raises for a name the table lacks
    public = sorted(str(op) for op in ops if op.label == PUBLIC)
    assert public == [f"GET {PREFIX}/health", f"POST {PREFIX}/session"]


def test_every_role_is_allowed_exactly_what_the_table_grants(
    sf: Stockflow, shop: tuple[TestClient, dict[Role, str]]
) -> None:
    client, tokens = shop
    ops = operations(client.app.openapi())  # type: ignore[attr-defined]
    wrong: list[str] = []
    for op in ops:
        refused = [role for role in Role if not op.allows(role)]
        before, last = snapshot(sf) if op.changes else None, last_audit_id(sf)
        for role in refused:
            resp = op.call(client, tokens[role])
            if resp.status_code != 403 or f"the {role} role may not" not in resp.text:
                wrong.append(f"{op} as {role}: {resp.status_code}, the table refuses it")
                continue
            problem(resp, 403)
        if op.changes and snapshot(sf) != before:
            wrong.append(f"{op}: a refused request changed the database")
        expected = [(user_of(r), str(r), str(op), "denied") for r in refused]
        if (found := audit_since(sf, last)) != expected:
            wrong.append(f"{op}: the audit trail says {found}, not one refusal for each role")
        for role in set(Role) - set(refused):
            resp = op.call(client, tokens[role])
            if resp.status_code in (401, 403) or resp.status_code >= 500:
                wrong.append(f"{op} as {role}: {resp.status_code} {resp.text[:200]}")
    assert not wrong, "\n".join(wrong)
    # Both halves above ran: every role but an administrator is refused something.
    refusals = {role: sum(not op.allows(role) for op in ops) for role in Role}
    assert refusals.pop(Role.ADMIN) == 0
    assert min(refusals.values()) > 0, refusals


def _undeclared_router() -> APIRouter:
    router = APIRouter()

    @router.get("/things/{code}")
    def thing(code: str) -> dict[str, str]:
        return {"code": code}

    return router


def test_a_route_without_a_permission_keeps_the_app_from_starting(
    sf: Stockflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = _undeclared_router()
    monkeypatch.setattr(api_app, "_ROUTERS", (*api_app._ROUTERS, router))
    with pytest.raises(RuntimeError, match=f"GET {PREFIX}/things/{{code}} declares 0 permissions"):
        create_app(sf)


def test_a_route_declaring_two_permissions_is_refused_too() -> None:
    router = APIRouter()
    reads = guard.may(Resource.ORDERS, Action.READ)

    @router.get("/things", dependencies=[reads, guard.SIGNED_IN])
    def things() -> list[str]:
        return []

    app = FastAPI()
    app.include_router(router, prefix=PREFIX)
    with pytest.raises(RuntimeError, match=f"GET {PREFIX}/things declares 2 permissions"):
        guard.require_declarations(app, [router])
    declared = APIRouter()
    declared.get("/things", dependencies=[reads])(things)
    guard.require_declarations(FastAPI(), [declared])  # one permission: accepted
