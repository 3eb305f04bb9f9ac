"""The reservation fast lane, end to end through the real app on SQLite and PostgreSQL.

Every reservation request is sent twice where it matters: once as
``application/json``, which the lane answers itself, and once as
``application/merge-patch+json``, which FastAPI parses as JSON but the lane
hands on, so the FastAPI route answers it. Both must give the same answer.
The app's lane is a ``FastLane`` that also notes, per request, whether it
answered or handed the request on, so each test knows who answered.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import ASGIApp, Receive, Scope, Send

from helpers import PROBLEM_JSON, api_client, created, problem, stock_shop_over_http
from stockflow.adapters.tables import reservations
from stockflow.api.app import Api, create_app
from stockflow.api.fast_lane import FastLane
from stockflow.api.guard import RateLimiter
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
PATH = f"{API}/reservations"
LANE_JSON = "application/json"  # answered by the lane
ROUTE_JSON = "application/merge-patch+json"  # parsed as JSON by FastAPI, not taken by the lane


class WatchedLane(FastLane):
    """The real lane, noting for each request it sees whether it answered or handed it on."""

    def __init__(self, sf: Stockflow, *, max_body: int, limiter: RateLimiter) -> None:
        super().__init__(sf, max_body=max_body, limiter=limiter)
        self.log: list[tuple[str, str, str]] = []  # (method, path, "lane" | "app")

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        handed_on = False

        async def framework(scope: Scope, receive: Receive, send: Send) -> None:
            nonlocal handed_on
            handed_on = True
            await app(scope, receive, send)

        await super().__call__(scope, receive, send, framework)
        self.log.append((scope["method"], scope["path"], "app" if handed_on else "lane"))

    def who(self) -> list[str]:
        """Who answered each request the lane saw, in order."""
        return [answered_by for _, _, answered_by in self.log]


LIMIT = 300_000  # bytes a request body may have in these tests


@pytest.fixture
def app(sf: Stockflow) -> Api:
    application = create_app(sf, max_body_bytes=LIMIT)
    application.lane = WatchedLane(sf, max_body=LIMIT, limiter=application.state.limiter)
    return application


@pytest.fixture
def lane(app: Api) -> WatchedLane:
    assert isinstance(app.lane, WatchedLane)
    return app.lane


@pytest.fixture
def client(app: Api) -> Iterator[TestClient]:
    with api_client(app) as test_client:
        yield test_client


@pytest.fixture
def stocked(client: TestClient) -> TestClient:
    """WH1 (bins MAIN, A-01) with 10 of SKU A and 4 of SKU B in MAIN."""
    stock_shop_over_http(client, API)
    return client


def post(
    client: TestClient,
    body: dict[str, Any] | bytes,
    content_type: str = LANE_JSON,
    headers: list[tuple[str, str]] | None = None,
) -> Any:
    """POST a reservation request with exactly this content type (and extra headers)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        PATH, content=content, headers=[("content-type", content_type), *(headers or [])]
    )


def key(value: str) -> list[tuple[str, str]]:
    return [("Idempotency-Key", value)]


def allocated(client: TestClient, sku: str) -> int:
    resp = client.get(f"{API}/atp/{sku}")
    assert resp.status_code == 200, resp.text
    units: int = resp.json()["allocated"]
    return units


def reservation_rows(sf: Stockflow) -> int:
    with sf.db.read() as conn:
        count: int = conn.execute(select(func.count()).select_from(reservations)).scalar_one()
    return count


def comparable(resp: Any) -> tuple[int, str, dict[str, Any]]:
    """Status, content type and body, without what differs between two reservations."""
    body = {k: v for k, v in resp.json().items() if k not in ("id", "created_at")}
    return resp.status_code, resp.headers["content-type"], body


# the lane answers as the route would -------------------------------------------------------


def test_a_reservation_made_by_the_lane_equals_one_made_by_the_route(
    stocked: TestClient, lane: WatchedLane
) -> None:
    """A well-formed request is answered by the lane with the route's 201 and body."""
    body = {"lines": [{"sku": "A", "qty": 4}, {"sku": "B", "qty": 2}], "owner_ref": "SO-1"}
    by_lane = created(post(stocked, body))
    assert lane.who() == ["lane"]
    by_route = created(post(stocked, body, ROUTE_JSON))
    assert lane.who() == ["lane", "app"]
    assert by_lane["id"] != by_route["id"]
    assert by_lane["created_at"]
    assert by_route["created_at"]
    assert (by_lane["status"], by_lane["open_qty"], by_lane["owner_ref"]) == ("open", 6, "SO-1")
    assert [(a["sku"], a["qty"], a["bin"], a["open"]) for a in by_lane["allocations"]] == [
        ("A", 4, "MAIN", 4),
        ("B", 2, "MAIN", 2),
    ]
    strip = ("id", "created_at")
    assert {k: v for k, v in by_lane.items() if k not in strip} == {
        k: v for k, v in by_route.items() if k not in strip
    }
    assert (allocated(stocked, "A"), allocated(stocked, "B")) == (8, 4)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_the_lane_takes_json_with_or_without_a_utf8_charset(
    stocked: TestClient, lane: WatchedLane, content_type: str
) -> None:
    """Plain JSON, with or without ``charset=utf-8`` and in any case, is answered by the lane."""
    view = created(post(stocked, {"lines": [{"sku": "A", "qty": 1}]}, content_type))
    assert lane.who() == ["lane"]
    assert stocked.get(f"{PATH}/{view['id']}").json() == view
    assert allocated(stocked, "A") == 1


@pytest.mark.parametrize(
    ("lines", "status", "expected"),
    [
        pytest.param(
            [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 5}],
            409,
            {
                "title": "Insufficient stock",
                "sku": "B",
                "requested": 5,
                "available": 4,
                "field": "lines[1].qty",
            },
            id="short-stock",
        ),
        pytest.param(
            [{"sku": "A", "qty": 1}, {"sku": "NOPE", "qty": 1}],
            404,
            {"field": "lines[1].sku"},
            id="unknown-sku",
        ),
    ],
)
def test_refusals_from_the_lane_equal_the_routes(
    stocked: TestClient,
    lane: WatchedLane,
    sf: Stockflow,
    lines: list[dict[str, Any]],
    status: int,
    expected: dict[str, Any],
) -> None:
    """Short stock (409) and an unknown SKU (404): the lane's problem document is the route's."""
    by_lane = post(stocked, {"lines": lines})
    by_route = post(stocked, {"lines": lines}, ROUTE_JSON)
    assert lane.who() == ["lane", "app"]
    body = problem(by_lane, status)
    assert {k: body.get(k) for k in expected} == expected
    assert (by_lane.status_code, by_lane.headers["content-type"], body) == (
        by_route.status_code,
        by_route.headers["content-type"],
        problem(by_route, status),
    )
    assert (allocated(stocked, "A"), allocated(stocked, "B")) == (0, 0)
    assert reservation_rows(sf) == 0


def test_a_reservation_pinned_to_a_location_matches_too(
    stocked: TestClient, lane: WatchedLane
) -> None:
    """Optional line fields (location) reach the desk from the lane as from the route."""
    body = {"lines": [{"sku": "A", "qty": 2, "location": "WH1"}]}
    assert comparable(post(stocked, body)) == comparable(post(stocked, body, ROUTE_JSON))
    assert lane.who() == ["lane", "app"]
    elsewhere = {"lines": [{"sku": "A", "qty": 2, "location": "WH9"}]}
    by_lane, by_route = post(stocked, elsewhere), post(stocked, elsewhere, ROUTE_JSON)
    assert problem(by_lane, 404)["title"] == "Unknown location"
    assert comparable(by_lane) == comparable(by_route)
    assert allocated(stocked, "A") == 4


# idempotency -----------------------------------------------------------------------------


def test_the_same_key_twice_through_the_lane_reserves_once(
    stocked: TestClient, lane: WatchedLane, sf: Stockflow
) -> None:
    """First 201, then 200 with the same reservation; the stock is allocated once."""
    body = {"lines": [{"sku": "A", "qty": 3}]}
    first = created(post(stocked, body, headers=key("cart-1")))
    again = post(stocked, body, headers=key("cart-1"))
    assert again.status_code == 200, again.text
    assert again.headers["content-type"] == "application/json"
    assert again.json() == first
    assert lane.who() == ["lane", "lane"]
    assert allocated(stocked, "A") == 3
    other = created(post(stocked, body, headers=key("cart-2")))
    assert other["id"] != first["id"]
    assert allocated(stocked, "A") == 6
    assert reservation_rows(sf) == 2


def test_a_key_used_in_the_lane_is_replayed_by_the_route_and_back(
    stocked: TestClient, lane: WatchedLane
) -> None:
    """Lane and route share one key space: a retry is a replay whichever of them answers it."""
    body = {"lines": [{"sku": "A", "qty": 2}]}
    first = created(post(stocked, body, headers=key("k-lane")))
    via_route = post(stocked, body, ROUTE_JSON, headers=key("k-lane"))
    assert (via_route.status_code, via_route.json()) == (200, first)
    second = created(post(stocked, body, ROUTE_JSON, headers=key("k-route")))
    via_lane = post(stocked, body, headers=key("k-route"))
    assert (via_lane.status_code, via_lane.json()) == (200, second)
    assert lane.who() == ["lane", "app", "app", "lane"]
    assert allocated(stocked, "A") == 4


def test_a_key_reused_for_other_lines_is_refused_as_the_route_refuses_it(
    stocked: TestClient, lane: WatchedLane
) -> None:
    """Same key, different lines: the lane's 409 equals the route's, and nothing more is held."""
    created(post(stocked, {"lines": [{"sku": "A", "qty": 2}]}, headers=key("cart-1")))
    changed = {"lines": [{"sku": "A", "qty": 3}]}
    by_lane = post(stocked, changed, headers=key("cart-1"))
    by_route = post(stocked, changed, ROUTE_JSON, headers=key("cart-1"))
    assert lane.who() == ["lane", "lane", "app"]
    body = problem(by_lane, 409)
    assert (body["title"], body["field"]) == ("Idempotency key reused", "Idempotency-Key")
    assert "cart-1" in body["detail"]
    assert body == problem(by_route, 409)
    assert allocated(stocked, "A") == 2


def test_a_key_of_128_characters_is_taken_by_the_lane(
    stocked: TestClient, lane: WatchedLane
) -> None:
    """The longest key the route accepts is also one the lane answers (and replays)."""
    longest = "k" * 128
    body = {"lines": [{"sku": "A", "qty": 1}]}
    first = created(post(stocked, body, headers=key(longest)))
    again = post(stocked, body, headers=key(longest))
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    assert lane.who() == ["lane", "lane"]
    assert allocated(stocked, "A") == 1


def test_a_request_with_two_keys_is_keyed_alike_by_the_lane_and_the_route(
    stocked: TestClient, lane: WatchedLane
) -> None:
    """Two Idempotency-Key headers: the lane steps aside, so one rule picks the key."""
    body = {"lines": [{"sku": "A", "qty": 1}]}
    two_keys = [("Idempotency-Key", "first"), ("Idempotency-Key", "second")]
    first = created(post(stocked, body, headers=two_keys))
    again = post(stocked, body, ROUTE_JSON, headers=two_keys)
    assert lane.who() == ["app", "app"]
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    assert allocated(stocked, "A") == 1


def test_an_empty_key_is_refused_and_reserves_nothing(
    stocked: TestClient, lane: WatchedLane, sf: Stockflow
) -> None:
    """An empty Idempotency-Key is a client's mistake: 422 naming the header, twice, no 500."""
    body = {"lines": [{"sku": "A", "qty": 1}]}
    for _ in range(2):
        refused = post(stocked, body, headers=key(""))
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith(PROBLEM_JSON)
        assert refused.json()["field"] == "Idempotency-Key"
    assert lane.who() == ["app", "app"]
    assert allocated(stocked, "A") == 0
    assert reservation_rows(sf) == 0


# bad input is handed on and worded by FastAPI -----------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "field"),
    [
        pytest.param({"lines": [{"sku": "A", "qty": 0}]}, [], "lines[0].qty", id="qty-0"),
        pytest.param({"lines": [{"sku": "A", "qty": "2"}]}, [], "lines[0].qty", id="qty-string"),
        pytest.param({}, [], "lines", id="no-lines"),
        pytest.param({"lines": []}, [], "lines", id="empty-lines"),
        pytest.param(
            {"lines": [{"sku": "A", "qty": 1}], "colour": "red"}, [], "colour", id="unknown-field"
        ),
        pytest.param(
            {"lines": [{"sku": "A", "qty": 1}]},
            key("k" * 129),
            "Idempotency-Key",
            id="key-129-chars",
        ),
    ],
)
def test_invalid_requests_are_handed_on_and_worded_by_fastapi(
    stocked: TestClient,
    lane: WatchedLane,
    sf: Stockflow,
    body: dict[str, Any],
    headers: list[tuple[str, str]],
    field: str,
) -> None:
    """Invalid input reaches FastAPI, whose 422 problem names the field; nothing is reserved."""
    got = problem(post(stocked, body, headers=headers), 422)
    assert lane.who() == ["app"]
    assert got["title"] == "Invalid input"
    assert got["field"] == field
    assert got["errors"][0]["field"] == field
    assert got["detail"].startswith(f"{field}: ")
    assert allocated(stocked, "A") == 0
    assert reservation_rows(sf) == 0


def test_a_body_that_is_not_json_is_handed_on_and_worded_by_fastapi(
    stocked: TestClient, lane: WatchedLane, sf: Stockflow
) -> None:
    """Malformed JSON: FastAPI's 422 says so without making up a field; nothing is reserved."""
    got = problem(post(stocked, b"{lines: ["), 422)
    assert lane.who() == ["app"]
    assert "field" not in got
    assert "not valid JSON" in got["detail"]
    assert reservation_rows(sf) == 0


def test_a_large_body_reaches_the_route_intact(stocked: TestClient, lane: WatchedLane) -> None:
    """A body the lane read and did not take is replayed to the route in full."""
    body = {"lines": [{"sku": "A", "qty": 1, "location": "WH1"}], "owner_ref": "x" * 128}
    padded = json.dumps(body).replace(":", ":" + " " * 200_000, 1).encode()
    view = created(post(stocked, padded, ROUTE_JSON))
    assert lane.who() == ["app"]
    assert (view["owner_ref"], view["open_qty"]) == ("x" * 128, 1)
    assert created(post(stocked, padded))["owner_ref"] == "x" * 128
    assert lane.who() == ["app", "lane"]
    assert allocated(stocked, "A") == 2


def test_a_json_body_sent_as_text_is_refused_by_fastapi(
    stocked: TestClient, lane: WatchedLane, sf: Stockflow
) -> None:
    """A valid reservation sent as text/plain is not taken by the lane and FastAPI refuses it."""
    problem(post(stocked, {"lines": [{"sku": "A", "qty": 1}]}, "text/plain"), 422)
    assert lane.who() == ["app"]
    assert allocated(stocked, "A") == 0
    assert reservation_rows(sf) == 0


# everything else is untouched ------------------------------------------------------------


def test_other_requests_never_reach_the_lane(stocked: TestClient, lane: WatchedLane) -> None:
    """Reading, releasing and other methods on the path go straight to the app."""
    view = created(post(stocked, {"lines": [{"sku": "A", "qty": 3}]}))
    assert lane.log == [("POST", PATH, "lane")]
    assert stocked.get(f"{PATH}/{view['id']}").json() == view
    released = stocked.post(f"{PATH}/{view['id']}/release", json={"lines": {"A": 1}})
    assert released.status_code == 200, released.text
    assert (released.json()["id"], released.json()["open_qty"]) == (view["id"], 2)
    problem(stocked.get(PATH), 405)
    problem(stocked.post(f"{PATH}/no-such-id/consume", json={}), 404)
    assert lane.log == [("POST", PATH, "lane")]
    assert allocated(stocked, "A") == 2


def test_openapi_still_documents_the_reservation_endpoint(client: TestClient) -> None:
    """The endpoint the lane answers is still in OpenAPI, with its 201, 409 and 422."""
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    post_op = doc["paths"][PATH]["post"]
    assert {"201", "409", "422"} <= set(post_op["responses"])
    created_schema = post_op["responses"]["201"]["content"]["application/json"]["schema"]
    assert created_schema == {"$ref": "#/components/schemas/ReservationOut"}
    conflict = post_op["responses"]["409"]["content"]
    assert list(conflict) == [PROBLEM_JSON]
    assert conflict[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
    request_schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert request_schema == {"$ref": "#/components/schemas/ReservationIn"}
    assert any(p["name"] == "Idempotency-Key" for p in post_op["parameters"])


def reservation_count(sf: Stockflow) -> int:
    with sf.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(reservations)).scalar_one())


def too_large(resp: Any) -> None:
    body = problem(resp, 413)
    assert body["limit"] == LIMIT
    assert f"at most {LIMIT:,} bytes" in body["detail"]


def padded(lines: list[dict[str, Any]], size: int) -> bytes:
    """A valid reservation body of at least ``size`` bytes (white space pads it)."""
    return json.dumps({"lines": lines}).replace(":", ":" + " " * size, 1).encode()


@pytest.mark.parametrize("content_type", [LANE_JSON, ROUTE_JSON])
def test_a_body_declared_over_the_limit_is_refused_unread_and_reserves_nothing(
    stocked: TestClient, lane: WatchedLane, sf: Stockflow, content_type: str
) -> None:
    body = padded([{"sku": "A", "qty": 1}], LIMIT)
    too_large(stocked.post(PATH, content=body, headers={"content-type": content_type}))
    assert reservation_count(sf) == 0
    # Every other endpoint is held to the same limit, with the same problem document.
    sku = json.dumps({"code": "C", "name": "Clip"}).replace(":", ":" + " " * LIMIT, 1).encode()
    too_large(stocked.post(f"{API}/skus", content=sku, headers={"content-type": LANE_JSON}))
    assert stocked.get(f"{API}/skus/C").status_code == 404
    # Just under the limit is fine.
    small = padded([{"sku": "A", "qty": 1}], LIMIT - 100)
    assert len(small) <= LIMIT
    created(stocked.post(PATH, content=small, headers={"content-type": LANE_JSON}))
    assert reservation_count(sf) == 1


def test_a_streamed_body_goes_to_the_framework_which_holds_it_to_the_limit(
    stocked: TestClient, lane: WatchedLane, sf: Stockflow
) -> None:
    def streamed(body: bytes) -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    headers = {"content-type": LANE_JSON}
    small = json.dumps({"lines": [{"sku": "A", "qty": 2}]}).encode()
    view = created(stocked.post(PATH, content=streamed(small), headers=headers))
    assert [a["qty"] for a in view["allocations"]] == [2]
    big = padded([{"sku": "A", "qty": 1}], LIMIT)
    too_large(stocked.post(PATH, content=streamed(big), headers=headers))
    assert lane.who() == ["app", "app"]
    assert reservation_count(sf) == 1
