"""Input a careless or hostile client sends, through the real app on SQLite and PostgreSQL.

Each refusal is a 422 problem document naming the field at fault, and each
leaves the books as they were: no SKU, move, reservation or exception change.
"""

from __future__ import annotations

import json
import socket
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from helpers import api_client, problem, serving, stock_shop_over_http, token_for
from stockflow.adapters.tables import reservations
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.errors import InvalidInput
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
TOO_BIG_ID = 2**63  # one past the largest BIGINT
TOO_BIG_LINE = 2**31  # one past the largest INTEGER on PostgreSQL


@pytest.fixture
def client(sf: Stockflow) -> Iterator[TestClient]:
    """WH1 (bins MAIN, A-01) with 10 of SKU A and 4 of SKU B, through the API."""
    with api_client(create_app(sf)) as test_client:
        stock_shop_over_http(test_client, API)
        yield test_client


def books(client: TestClient, sf: Stockflow) -> tuple[Any, ...]:
    """Everything a refused request must leave alone."""
    with sf.db.read() as conn:
        held = conn.execute(select(func.count()).select_from(reservations)).scalar_one()
    return (
        client.get(f"{API}/skus").json(),
        client.get(f"{API}/locations").json(),
        client.get(f"{API}/moves").json(),
        client.get(f"{API}/exceptions").json(),
        client.get(f"{API}/channels").json(),
        client.get(f"{API}/suppliers").json(),
        held,
    )


def refused(resp: Any, field: str) -> dict[str, Any]:
    """The 422 problem document naming ``field``."""
    body = problem(resp, 422)
    assert body["field"] == field, body
    return body


def raw_post(client: TestClient, path: str, body: bytes, content_type: str) -> Any:
    return client.post(f"{API}{path}", content=body, headers={"Content-Type": content_type})


def test_a_nul_anywhere_is_refused_naming_the_field(client: TestClient, sf: Stockflow) -> None:
    """PostgreSQL text cannot hold a NUL: query, path and body alike get a 422, never a 500."""
    before = books(client, sf)
    refused(client.get(f"{API}/atp?sku=V%00"), "sku")
    refused(client.get(f"{API}/atp?sku=A&sku=%00"), "sku")
    refused(client.get(f"{API}/skus/A%00"), "code")
    refused(client.put(f"{API}/skus/A/buffers/WH%00", json={"qty": 1}), "location")
    refused(client.post(f"{API}/skus", json={"code": "N\u0000", "name": "n"}), "code")
    attributes = {"code": "N1", "name": "n", "attributes": {"colour": "re\u0000d"}}
    refused(client.post(f"{API}/skus", json=attributes), "attributes.colour")
    move = {"sku": "A", "qty": 1, "reason": "receipt", "to": {"location": "WH1", "bin": "\u0000"}}
    refused(client.post(f"{API}/moves", json=move), "to.bin")
    line = {"lines": [{"sku": "A", "qty": 1}, {"sku": "B\u0000", "qty": 1}]}
    for content_type in ("application/json", "application/merge-patch+json"):  # lane, route
        body = json.dumps(line).encode()
        refused(raw_post(client, "/reservations", body, content_type), "lines[1].sku")
    assert books(client, sf) == before


def test_a_key_named_twice_is_refused_at_any_depth(client: TestClient, sf: Stockflow) -> None:
    """The last key does not silently win: the body is refused, naming the key."""
    before = books(client, sf)
    body = b'{"code": "BAD CODE!", "code": "OK1", "name": "n"}'
    refused(raw_post(client, "/skus", body, "application/json"), "code")
    assert client.get(f"{API}/skus/OK1").status_code == 404
    nested = (
        b'{"sku": "A", "qty": 1, "reason": "receipt", "to": {"location": "WH1", "location": "X"}}'
    )
    refused(raw_post(client, "/moves", nested, "application/json"), "location")
    for content_type in ("application/json", "application/merge-patch+json"):  # lane, route
        twice = b'{"lines": [{"sku": "A", "qty": 1}], "lines": [{"sku": "A", "qty": 9}]}'
        refused(raw_post(client, "/reservations", twice, content_type), "lines")
        deep = b'{"lines": [{"sku": "A", "qty": 1, "qty": 9}]}'
        refused(raw_post(client, "/reservations", deep, content_type), "qty")
    assert books(client, sf) == before


@pytest.mark.parametrize("path", ["/skus", "/reservations"])  # a route, and the fast lane's
def test_a_body_nested_absurdly_deep_is_a_400_naming_the_body(
    client: TestClient, sf: Stockflow, path: str
) -> None:
    before = books(client, sf)
    for deep in (
        b"[" * 100_000 + b"]" * 100_000,
        b'{"lines":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ):
        body = problem(raw_post(client, path, deep, "application/json"), 400)
        assert (body["field"], body["title"]) == ("body", "Unreadable body")
    assert books(client, sf) == before


def test_an_id_beyond_its_column_is_refused(client: TestClient, sf: Stockflow) -> None:
    """Numbers that name rows are checked against the column's range before any query."""
    before = books(client, sf)
    for exception_id in (TOO_BIG_ID, 0):
        refused(client.post(f"{API}/exceptions/{exception_id}/acknowledge"), "exception_id")
        refused(client.post(f"{API}/exceptions/{exception_id}/resolve"), "exception_id")
    picked = client.post(f"{API}/pick-tasks/{TOO_BIG_ID}/confirm", json={"picked": 1})
    refused(picked, "task_id")
    approve = client.post(f"{API}/counts/C1/lines/{TOO_BIG_LINE}/approve")
    refused(approve, "line_no")
    cancel = {"reason": "typo", "line_no": TOO_BIG_LINE}
    refused(client.post(f"{API}/orders/X/cancel", json=cancel), "line_no")
    transfer = {"lines": [{"line_no": TOO_BIG_LINE, "received": 1}]}
    refused(client.post(f"{API}/transfers/T1/receive", json=transfer), "lines[0].line_no")
    assert books(client, sf) == before


def test_codes_hold_one_alphabet_and_are_found_as_created(
    client: TestClient, sf: Stockflow
) -> None:
    """A code no path could carry, or with spaces around it, is never created."""
    before = books(client, sf)
    for code in ("A/B", " C1", "C1 ", "-C1", "C 1", "C%1"):
        refused(client.post(f"{API}/skus", json={"code": code, "name": "n"}), "code")
        refused(client.post(f"{API}/locations", json={"code": code}), "code")
        refused(client.post(f"{API}/locations/WH1/bins", json={"code": code}), "code")
        refused(client.post(f"{API}/channels", json={"code": code}), "code")
        refused(client.post(f"{API}/customers", json={"code": code, "name": "n"}), "code")
        refused(client.post(f"{API}/suppliers", json={"code": code}), "code")
    assert books(client, sf) == before
    for code in ("C1", "c.1_x-2"):
        assert client.post(f"{API}/skus", json={"code": code, "name": "n"}).status_code == 201
        assert client.get(f"{API}/skus/{code}").json()["code"] == code
    assert client.get(f"{API}/skus/%20C1").status_code == 404


def test_the_library_refuses_a_slash_in_any_code() -> None:
    """The alphabet is the domain's: the CLI, imports and the library refuse what the API does."""
    for new in (NewSku("A/B", "n"), NewLocation("W/1", "n"), NewBin("WH1", "B/1")):
        with pytest.raises(InvalidInput) as caught:
            new.checked()
        assert caught.value.field == "code"


def exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP/1.1 request on an open connection and read its whole answer."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of an answer"
        body += chunk
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
def served(sf: Stockflow) -> Iterator[int]:
    """A real HTTP server on a free port around the app, in a thread; yields the port."""
    with serving(create_app(sf)) as port:
        yield port


def test_a_500_is_answered_and_the_connection_stays_usable(
    served: int, sf: Stockflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an error nobody foresaw, the same keep-alive connection answers the next request."""

    def broken(*_: object) -> None:
        raise RuntimeError("the ledger is gone")

    async def broken_async(*_: object) -> None:
        raise RuntimeError("the desk is gone")

    monkeypatch.setattr(sf, "verify", broken)
    monkeypatch.setattr(sf, "reserve_async", broken_async)
    reserve = json.dumps({"lines": [{"sku": "A", "qty": 1}]}).encode()
    auth = b"Authorization: Bearer %s\r\n" % token_for(sf).encode()
    requests = (
        b"GET /api/v1/verify HTTP/1.1\r\nHost: t\r\n%s\r\n" % auth,  # a framework route
        b"POST /api/v1/reservations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"%sContent-Length: %d\r\n\r\n%s" % (auth, len(reserve), reserve),  # the fast lane
    )
    with socket.create_connection(("127.0.0.1", served), timeout=30) as sock:
        for request in requests:
            status, headers, body = exchange(sock, request)
            assert (status, headers["content-type"]) == (500, "application/problem+json")
            assert json.loads(body)["title"] == "Internal error"
            health = exchange(sock, b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
            assert health[0] == 200
