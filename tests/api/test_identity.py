"""Who is calling: established once per request, the same for the fast lane and every route.

The reservation lane is a ``FastLane`` that notes the caller of each request
it answers itself; a route that records an actor shows the caller in what it
writes (a ledger move's ``actor``).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import Receive, Scope, Send

from helpers import created, problem, stock_shop_over_http
from stockflow.api import identity
from stockflow.api.app import Api, create_app
from stockflow.api.fast_lane import FastLane
from stockflow.api.identity import Caller, CallerRefused
from stockflow.api.schemas import ReservationIn
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
LANE_JSON = "application/json"  # answered by the lane
ROUTE_JSON = "application/merge-patch+json"  # parsed as JSON by FastAPI, not taken by the lane


class ListeningLane(FastLane):
    """The real lane, noting the caller of every reservation it makes itself."""

    def __init__(self, sf: Stockflow, *, max_body: int) -> None:
        super().__init__(sf, max_body=max_body)
        self.callers: list[Caller] = []

    async def _reserve(
        self,
        caller: Caller,
        body: ReservationIn,
        key: str | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        self.callers.append(caller)
        await super()._reserve(caller, body, key, scope, receive, send)


@pytest.fixture
def app(sf: Stockflow) -> Api:
    application = create_app(sf)
    application.lane = ListeningLane(sf, max_body=application.lane.max_body)
    return application


@pytest.fixture
def lane(app: Api) -> ListeningLane:
    assert isinstance(app.lane, ListeningLane)
    return app.lane


@pytest.fixture
def client(app: Api) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        stock_shop_over_http(test_client, API)
        yield test_client


def reserve(
    client: TestClient, headers: list[tuple[str, str]], content_type: str = LANE_JSON
) -> Any:
    """POST a one-unit reservation of SKU A with exactly these extra headers."""
    body = json.dumps({"lines": [{"sku": "A", "qty": 1}]}).encode()
    return client.post(
        f"{API}/reservations", content=body, headers=[("content-type", content_type), *headers]
    )


def receipt(client: TestClient, headers: list[tuple[str, str]]) -> Any:
    """POST a one-unit receipt of SKU A, a route that records who did it."""
    body = {"sku": "A", "qty": 1, "reason": "receipt", "to": {"location": "WH1"}}
    return client.post(f"{API}/moves", json=body, headers=headers)


@pytest.mark.parametrize(
    ("headers", "actor"),
    [
        pytest.param([], "api", id="no-header"),
        pytest.param([("X-Actor", "dana")], "dana", id="named"),
        pytest.param([("x-actor", "dana")], "dana", id="lower-case-name"),
        pytest.param([("X-Actor", "")], "", id="empty"),
        pytest.param([("X-Actor", "d" * 64)], "d" * 64, id="64-characters"),
        pytest.param([("X-Actor", "one"), ("X-Actor", "two")], "one", id="sent-twice"),
        pytest.param([("X-Actor", "one"), ("X-Actor", "t" * 65)], "one", id="second-too-long"),
    ],
)
def test_the_lane_and_a_route_see_the_same_caller(
    client: TestClient, lane: ListeningLane, headers: list[tuple[str, str]], actor: str
) -> None:
    """For the same headers the lane reserves for, and a route writes moves as, the same caller."""
    created(reserve(client, headers))
    assert lane.callers == [Caller(actor)]
    assert created(receipt(client, headers))["actor"] == actor


def test_a_request_without_the_header_acts_as_api(client: TestClient, lane: ListeningLane) -> None:
    """No header: the lane answers as before and routes write their moves as ``api``."""
    reservation = created(reserve(client, []))
    assert lane.callers == [Caller("api")]
    consumed = client.post(f"{API}/reservations/{reservation['id']}/consume", json={})
    assert consumed.status_code == 200, consumed.text
    moves = client.get(f"{API}/moves", params={"sku": "A"}).json()["items"]
    assert [(m["reason"], m["qty"], m["actor"]) for m in moves][:1] == [("ship", 1, "api")]


def test_an_over_long_name_is_refused_only_where_an_actor_is_recorded(
    client: TestClient, lane: ListeningLane
) -> None:
    """65 characters: routes that record an actor answer 422 naming the header, as they did;
    reads and reservations, which record none, are served; the lane leaves it to the route."""
    too_long = [("X-Actor", "x" * 65)]
    refused = problem(receipt(client, too_long), 422)
    assert refused == {
        "type": "about:blank",
        "title": "Invalid input",
        "status": 422,
        "detail": "X-Actor: String should have at most 64 characters",
        "field": "X-Actor",
        "errors": [{"field": "X-Actor", "message": "String should have at most 64 characters"}],
    }
    assert created(reserve(client, too_long))["open_qty"] == 1
    assert lane.callers == []  # handed on to the route, which takes no caller
    assert client.get(f"{API}/skus/A", headers=too_long).status_code == 200
    assert client.get(f"{API}/atp/A").json()["on_hand"] == 10


def test_the_caller_is_established_once_per_request(
    client: TestClient, lane: ListeningLane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lane, framework route, refused caller, read, unknown path: one establishment each."""
    seen: list[Caller | CallerRefused] = []
    establish = identity.establish

    def counted(headers: Any) -> Caller | CallerRefused:
        found = establish(headers)
        seen.append(found)
        return found

    monkeypatch.setattr(identity, "establish", counted)
    named = [("X-Actor", "dana")]
    created(reserve(client, named))
    created(reserve(client, named, ROUTE_JSON))
    created(receipt(client, named))
    problem(receipt(client, [("X-Actor", "x" * 65)]), 422)
    assert client.get(f"{API}/skus/A").status_code == 200
    problem(client.get(f"{API}/nowhere"), 404)
    assert [c if isinstance(c, Caller) else "refused" for c in seen] == [
        Caller("dana"),
        Caller("dana"),
        Caller("dana"),
        "refused",
        Caller("api"),
        Caller("api"),
    ]
    assert lane.callers == [Caller("dana")]


def test_an_unexpected_error_is_logged_with_the_same_caller_by_lane_and_route(
    app: Api, lane: ListeningLane, sf: Stockflow, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """The lane and the framework name the same caller when something nobody foresaw fails."""

    async def broken(*_: object) -> None:
        raise RuntimeError("the desk is gone")

    monkeypatch.setattr(sf, "reserve_async", broken)
    named = [("X-Actor", "dana")]
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="stockflow.api"),
    ):
        problem(reserve(client, named), 500)
        problem(reserve(client, named, ROUTE_JSON), 500)
    assert lane.callers == [Caller("dana")]  # the first one only: the lane answered it
    assert [r.getMessage() for r in caplog.records] == [
        "unhandled error on POST /api/v1/reservations for 'dana'",
        "unhandled error on POST /api/v1/reservations for 'dana'",
    ]


def test_openapi_documents_the_header_where_an_actor_is_recorded(client: TestClient) -> None:
    """The header is listed on operations that record an actor, and only there."""
    paths = client.get(f"{API}/openapi.json").json()["paths"]

    def header(path: str, method: str) -> list[dict[str, Any]]:
        params = paths[f"{API}{path}"][method].get("parameters", [])
        return [p for p in params if p["name"] == "X-Actor"]

    assert header("/moves", "post") == [
        {
            "name": "X-Actor",
            "in": "header",
            "required": False,
            "schema": {
                "type": "string",
                "maxLength": 64,
                "description": "Who does this",
                "default": "api",
                "title": "X-Actor",
            },
            "description": "Who does this",
        }
    ]
    assert header("/waves", "post")
    assert header("/reservations/{reservation_id}/release", "post")
    assert not header("/reservations", "post")
    assert not header("/skus", "get")
