"""Every list the API answers is paged one way, found from the app's own OpenAPI document.

A GET whose 200 answer is a list (a JSON array, or an object with an array
``items``) must take ``limit`` (with the one maximum) and ``cursor`` and
answer the page schema ``{items, next}``; a limit over the maximum is a 422
naming ``limit``. Then every list is walked end to end, one item a page, by
callers with and without a scope, on SQLite and PostgreSQL: the walk finds
exactly what one big page holds, in the same order, each item once, and a
scoped caller's pages hold only its own rows. A route added later is in all
of this without a word.
"""

from __future__ import annotations

import asyncio
import base64
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from helpers import bearer, problem
from scope_shop import capture, open_sites, purchase, returning
from stockflow.adapters.paging import DEFAULT_PAGE, MAX_PAGE
from stockflow.api.app import create_app
from stockflow.api.guard import PERMISSION_KEY
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.events.relay import Relay
from stockflow.events.webhooks import fan_out
from stockflow.floor.picking import WaveRequest
from stockflow.orders.rules.parties import NewCustomer
from stockflow.stock.imports import import_skus
from stockflow.stock.rules.access import PERMISSIONS, Action, Permission, Resource, Role
from stockflow.transfers.rules import TransferLineIn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
# Reads of one thing whose `items` are that thing's own parts, not a list of things.
PARTS_OF_ONE = {f"{API}/shipments/{{key}}": "a shipment's items are the units it carries"}
FEEDS = {f"{API}/events"}  # a feed has no last page: an empty page means "nothing new yet"
CALLERS = ("boss", "tpl-ham", "sales-shop", "acme", "buyer-acme", "mkt-web")


# -- the shape, from the document ---------------------------------------------------------


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _answer(operation: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    return _resolve(content.get("application/json", {}).get("schema", {}), doc)


def _is_list(schema: dict[str, Any], doc: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    listed = schema.get("properties", {}).get("items")
    return listed is not None and _resolve(listed, doc).get("type") == "array"


def lists(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every GET whose 200 answer is a list, with its operation."""
    for path, item in doc["paths"].items():
        get = item.get("get")
        if get is not None and _is_list(_answer(get, doc), doc):
            yield path, get


def unpaged(doc: dict[str, Any]) -> list[str]:
    """What is wrong with each list that is not paged the one way (empty: all are)."""
    wrong = []
    for path, get in lists(doc):
        if path in PARTS_OF_ONE:
            continue
        query = {p["name"]: p for p in get.get("parameters", ()) if p["in"] == "query"}
        limit, cursor = query.get("limit"), query.get("cursor")
        if limit is None or cursor is None:
            wrong.append(f"GET {path}: no limit and cursor")
            continue
        bounds = (limit["schema"].get("minimum"), limit["schema"].get("maximum"))
        if bounds != (1, MAX_PAGE) or limit["schema"].get("default") != DEFAULT_PAGE:
            wrong.append(f"GET {path}: limit is not 1..{MAX_PAGE}, default {DEFAULT_PAGE}")
        if not limit.get("description") or not cursor.get("description"):
            wrong.append(f"GET {path}: limit or cursor undescribed")
        answer = _answer(get, doc)
        members = answer.get("properties", {})
        nullable = {s.get("type") for s in members.get("next", {}).get("anyOf", ())}
        if (
            set(members) != {"items", "next"}
            or set(answer.get("required", ())) != {"items", "next"}
            or nullable != {"string", "null"}
            or not members["next"].get("description")
        ):
            wrong.append(f"GET {path}: answers no page {{items, next}}")
    return wrong


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The OpenAPI document (it does not depend on the database)."""
    path = tmp_path_factory.mktemp("doc") / "stockflow.db"
    sf = Stockflow.open(f"sqlite:///{path}")
    try:
        yield create_app(sf).openapi()
    finally:
        sf.close()


def test_every_list_takes_limit_and_cursor_and_answers_a_page(doc: dict[str, Any]) -> None:
    assert unpaged(doc) == []
    found = dict(lists(doc))
    assert set(PARTS_OF_ONE) <= set(found)  # each exception is still needed
    assert len(found) >= 24  # 23 lists and a shipment


def test_the_walk_catches_a_list_that_is_not_paged() -> None:
    app = FastAPI()

    @app.get("/api/v1/everything")
    def everything() -> list[int]:
        return []

    assert unpaged(app.openapi()) == ["GET /api/v1/everything: no limit and cursor"]


# -- a world where every list has a few rows -----------------------------------------------


@dataclass(frozen=True)
class World:
    client: TestClient
    sf: Stockflow
    headers: dict[str, dict[str, str]]
    values: dict[str, str]  # path parameter -> a real value

    def get(self, caller: str, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers[caller])


def _world(sf: Stockflow) -> dict[str, str]:
    """Two of everything at both sites: orders, waves, short picks, POs, transfers, counts..."""
    # Subscribed first, so that what happens next is delivered to them.
    subscription = sf.webhooks.subscribe("boss", "https://boss.example/hook", ["*"])
    sf.webhooks.subscribe("boss", "https://boss.example/other", ["order.*"])
    sf.orders.add_customer(NewCustomer("C1", "Customer one"))
    sf.orders.add_customer(NewCustomer("C2", "Customer two"))
    for site in ("HAM", "CGN"):
        returning(sf, site)
        purchase(sf, site)
        week = sf.clock().date() + timedelta(days=7)
        sku = "A" if site == "HAM" else "B"
        sf.transfers.ship(
            from_location=site, to_location="MUC", lines=[TransferLineIn(sku, 1)], expected_on=week
        )
        count = sf.counts.create(location=site, scope=CountScope("bins", bins=("S-01",)))
        for line in count.lines:
            sf.counts.submit(count.id, line.line_no, 1, actor="counter")
        wave = sf.floor.build_wave(WaveRequest(site, order_ids=(capture(sf, site),)))
        assert wave is not None
        task = wave.tasks[0]
        sf.floor.confirm_pick(task.id, task.qty - 1, left_in_bin=20)  # a short pick
    for n in range(2):
        sf.access.issue_token("boss", f"spare {n}")
    relay = Relay(sf.db, sf.clock, fan_out=[fan_out])  # in the stream, and queued for the hooks
    assert relay.lease.acquire()
    try:
        asyncio.run(relay.drain())
    finally:
        relay.lease.release()
    return {"code": "HAM", "subscription_id": str(subscription.subscription.id)}


@pytest.fixture
def world(sf: Stockflow, tmp_path: Path) -> Iterator[World]:
    for n in (1, 2):  # two files imported, so the record of imports has rows to page
        sheet = tmp_path / f"skus-{n}.csv"
        sheet.write_text(f"code,name\nIMP-{n},Imported {n}\n")
        import_skus(sf, sheet)
    headers = open_sites(sf)
    sf.access.add_user("mkt-web", Role.MARKETPLACE, scope=["WEB"])
    headers["mkt-web"] = bearer(sf.access.issue_token("mkt-web", "tests").secret)
    values = _world(sf)
    with TestClient(create_app(sf)) as client:
        for sku in ("C", "D"):  # written over HTTP, so the audit trail has rows
            made = {"code": sku, "name": sku}
            client.post(f"{API}/skus", json=made, headers=headers["boss"]).raise_for_status()
        yield World(client, sf, headers, values)


def _url(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    return path


def _required(get: dict[str, Any], sf: Stockflow) -> dict[str, Any]:
    """Values for the query parameters a list requires (a date range: today)."""
    today = sf.clock().date().isoformat()
    return {
        p["name"]: today
        for p in get.get("parameters", ())
        if p.get("required") and p["in"] == "query"
    }


def _allowed(role: Role, get: dict[str, Any]) -> bool:
    label = get[PERMISSION_KEY]
    if label in ("public", "signed-in"):
        return True
    resource, _, action = label.partition(":")
    return Permission(Resource(resource), Action(action)) in PERMISSIONS[role]


def _walk(world: World, caller: str, url: str, params: dict[str, Any], *, feed: bool) -> list[Any]:
    """Every item, one a page, following ``next``."""
    found: list[Any] = []
    cursor = None
    for _ in range(500):
        sent = {**params, "limit": 1} | ({"cursor": cursor} if cursor else {})
        if cursor and feed:
            sent.pop("after", None)
        page = world.get(caller, url, **sent)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 1
        found.extend(body["items"])
        if feed and not body["items"]:
            return found
        if body["next"] is None:
            return found
        assert body["items"], f"{url}: an empty page that says more follow"
        cursor = body["next"]
    raise AssertionError(f"{url}: walked 500 pages")


def test_every_list_walked_a_row_a_page_holds_what_one_page_holds(world: World) -> None:
    doc = world.client.app.openapi()  # type: ignore[attr-defined]
    roles = {name: world.sf.access.principal(name).role for name in CALLERS}
    walked: dict[str, int] = {}
    for path, get in lists(doc):
        if path in PARTS_OF_ONE:
            continue
        url = _url(path, world.values)
        params = _required(get, world.sf) | ({"after": 0} if path in FEEDS else {})
        for caller in CALLERS:
            if not _allowed(roles[caller], get):
                continue
            whole = world.get(caller, url, **params, limit=MAX_PAGE)
            if whole.status_code in (403, 404):  # a ledger closed to partners; another's hook
                continue
            assert whole.status_code == 200, f"{caller} {url}: {whole.text}"
            one_page = whole.json()
            assert path in FEEDS or one_page["next"] is None
            items = _walk(world, caller, url, params, feed=path in FEEDS)
            assert items == one_page["items"], f"{caller} {url}"
            if caller == "boss":
                walked[path] = len(items)
    thin = sorted(p for p, n in walked.items() if n < 2)
    assert thin == [], f"lists the world leaves with fewer than two rows: {thin}"


# What each list's items say about where they are, for a caller limited to HAM.
SITES_OF: dict[str, Callable[[dict[str, Any]], set[str]]] = {
    "/positions": lambda p: {p["location"]},
    "/locations": lambda x: {x["code"]},
    "/atp": lambda a: {loc["location"] for loc in a["locations"]},
    "/moves": lambda m: {e["location"] for e in (m["from"], m["to"]) if e} & {"HAM", "CGN"},
    "/waves": lambda w: {w["location"]},
    "/counts": lambda c: {c["location"]},
    "/counts/accuracy": lambda a: {a["location"]},
    "/transfers": lambda t: {t["from"], t["to"]} & {"HAM", "CGN"},
    "/purchase-orders": lambda p: {p["location"]},
    "/returns": lambda r: {r["location"]},
}


def _every(world: World, caller: str, path: str, **params: Any) -> list[Any]:
    return _walk(world, caller, f"{API}{path}", params, feed=False)


def test_a_scoped_caller_pages_through_its_own_rows_only(world: World) -> None:
    today = world.sf.clock().date().isoformat()
    for path, sites in SITES_OF.items():
        params = {"start": today, "end": today} if path == "/counts/accuracy" else {}
        mine = _every(world, "tpl-ham", path, **params)
        assert mine, path
        assert set().union(*(sites(x) for x in mine)) == {"HAM"}, path
        everyone = _every(world, "boss", path, **params)
        assert len(everyone) > len(mine), path
    assert {o["channel"] for o in _every(world, "sales-shop", "/orders")} == {"SHOP"}
    assert [c["code"] for c in _every(world, "mkt-web", "/channels")] == ["WEB"]
    assert [s["code"] for s in _every(world, "acme", "/suppliers")] == ["ACME"]
    assert {p["supplier"] for p in _every(world, "acme", "/purchase-orders")} == {"ACME"}


def test_a_limit_over_the_maximum_is_refused_naming_limit(world: World) -> None:
    doc = world.client.app.openapi()  # type: ignore[attr-defined]
    checked = 0
    for path, get in lists(doc):
        if path in PARTS_OF_ONE:
            continue
        url = _url(path, world.values)
        for limit in (MAX_PAGE + 1, 0):
            found = problem(world.get("boss", url, **_required(get, world.sf), limit=limit), 422)
            assert found["field"] == "limit", url
            assert [e["field"] for e in found["errors"]] == ["limit"]
        checked += 1
    assert checked >= 23


def _cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def test_a_cursor_not_given_out_by_the_list_is_refused_naming_cursor(world: World) -> None:
    orders = world.get("boss", f"{API}/orders", limit=1).json()
    skus = world.get("boss", f"{API}/skus", limit=1).json()
    for cursor in ("nope", "bm9wZQ", skus["next"], _cursor(["orders", "yesterday", "O-1"])):
        found = problem(world.get("boss", f"{API}/orders", cursor=cursor), 422)
        assert found["field"] == "cursor"
    for text in (r"\u0000", r"\ud800"):  # no database could hold these: refused, never a 500
        raw = '["skus","' + text + '"]'
        cursor = base64.urlsafe_b64encode(raw.encode()).decode()
        assert problem(world.get("boss", f"{API}/skus", cursor=cursor), 422)["field"] == "cursor"
    # A cursor keeps working as the list grows: the next page starts after the last row seen.
    second = world.get("boss", f"{API}/orders", limit=1, cursor=orders["next"]).json()
    capture(world.sf, "HAM")
    again = world.get("boss", f"{API}/orders", limit=1, cursor=orders["next"]).json()
    assert again["items"] == second["items"]
