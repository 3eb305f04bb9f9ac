"""OpenAPI lists every status an operation can answer, derived from the operation's shape.

A body can be unreadable (400), too long (413) or invalid (422); inputs can be
invalid (422); anything can fail unexpectedly (500); an ``Idempotency-Key`` can
be reused for another request (409), and a POST that creates under one answers
201 the first time and 200 for a replay. Every operation but the public ones
can refuse a caller who is not signed in (401, with ``WWW-Authenticate``) or
whose role may not (403); order capture, reservations and signing in can
answer 429 with ``Retry-After``. Every error is a problem document. A route
added later gets the same without a word, once it names its permission.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from helpers import PROBLEM_JSON
from stockflow.api import guard
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import Action, Resource

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = {"get", "post", "put", "patch", "delete"}
PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/session")}
RATE_LIMITED = {("POST", "/api/v1/orders"), ("POST", "/api/v1/reservations")}
SIGNING_IN = ("POST", "/api/v1/session")  # limited per user name, not per caller


@pytest.fixture
def sf_on_sqlite(tmp_path: Path, sqlite_template: Path) -> Iterator[Stockflow]:
    """OpenAPI does not depend on the database; one backend is enough."""
    path = tmp_path / "stockflow.db"
    shutil.copyfile(sqlite_template, path)
    running = Stockflow.open(f"sqlite:///{path}", migrate_schema=False)
    yield running
    running.close()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def implied(operation: dict[str, Any]) -> set[str]:
    """The statuses an operation's shape says it can answer."""
    statuses = {"500"}
    params = operation.get("parameters", [])
    if "requestBody" in operation:
        statuses |= {"400", "413", "422"}
    if params:
        statuses.add("422")
    keyed = any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in params)
    if keyed:
        statuses.add("409")  # the key reused for another request
    if operation["method"] == "POST" and keyed and "201" in operation["responses"]:
        statuses |= {"200", "201"}
    return statuses


def missing_statuses(doc: dict[str, Any]) -> list[str]:
    found = []
    for method, path, operation in operations(doc):
        wanted = implied({**operation, "method": method})
        if lacking := sorted(wanted - set(operation["responses"])):
            found.append(f"{method} {path}: {lacking}")
    return found


def test_every_operation_lists_the_statuses_its_shape_implies(sf_on_sqlite: Stockflow) -> None:
    doc = create_app(sf_on_sqlite).openapi()
    assert missing_statuses(doc) == []
    ops = {(m, p): op for m, p, op in operations(doc)}
    assert len(ops) > 80
    # The shapes the rule is about really occur, so the walk above tests something.
    moves = ops[("POST", "/api/v1/moves")]["responses"]
    assert {"200", "201", "400", "413", "422", "500"} <= set(moves)
    assert moves["200"]["content"] == moves["201"]["content"]
    health = ops[("GET", "/api/v1/health")]["responses"]
    assert "500" in health
    assert "422" not in health  # nothing in it can be invalid


def test_every_error_response_is_a_problem_document(sf_on_sqlite: Stockflow) -> None:
    doc = create_app(sf_on_sqlite).openapi()
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for method, path, operation in operations(doc):
        for code, response in operation["responses"].items():
            if code[0] in "45":
                assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, (
                    method,
                    path,
                    code,
                )


def test_every_operation_lists_the_refusals_of_its_permission(sf_on_sqlite: Stockflow) -> None:
    doc = create_app(sf_on_sqlite).openapi()
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"apiToken", "session"}
    ops = {(m, p): op for m, p, op in operations(doc)}
    assert set(ops) >= PUBLIC | RATE_LIMITED
    for (method, path), operation in ops.items():
        responses = operation["responses"]
        if (method, path) in PUBLIC:
            assert operation[guard.PERMISSION_KEY] == "public"
            assert "security" not in operation
            assert "403" not in responses, (method, path)
        else:
            assert operation["security"] == [{"apiToken": []}, {"session": []}]
            assert {"401", "403"} <= set(responses), (method, path)
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], (method, path)
        if "429" in responses:
            assert "Retry-After" in responses["429"]["headers"], (method, path)
    limited = {op for op, operation in ops.items() if "429" in operation["responses"]}
    assert limited == RATE_LIMITED | {SIGNING_IN}


class _Thing(BaseModel):
    name: str


def test_a_route_added_later_is_documented_the_same_way(sf_on_sqlite: Stockflow) -> None:
    app = create_app(sf_on_sqlite)

    @app.post(
        "/api/v1/things",
        status_code=201,
        dependencies=[guard.may(Resource.CATALOGUE, Action.WRITE)],
    )
    def add_thing(thing: _Thing) -> _Thing:
        return thing

    operation = app.openapi()["paths"]["/api/v1/things"]["post"]
    responses = operation["responses"]
    assert {"201", "400", "401", "403", "413", "422", "500"} <= set(responses)
    assert responses["422"]["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    assert responses["403"]["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    assert operation[guard.PERMISSION_KEY] == "catalogue:write"


def test_a_route_added_later_without_a_permission_is_not_documented(
    sf_on_sqlite: Stockflow,
) -> None:
    app = create_app(sf_on_sqlite)

    @app.get("/api/v1/things")
    def things() -> list[str]:
        return []

    with pytest.raises(RuntimeError, match="GET /api/v1/things declares 0 permissions"):
        app.openapi()
