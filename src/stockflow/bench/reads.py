"""Every list (first page and a deep page) and every lookup, under concurrent clients over HTTP.

The routes come from the server's own OpenAPI document (``bench.api_map``).
For each list the bench first walks it: the first page, then page after page
at the largest page size, following the ``next`` pointers until the end or
until ``deep_seconds`` have passed. The deep page measured is a page of the
default size from the deepest pointers reached (the JSON says how many rows
lie before it). A list that does not page answers everything on its "first
page"; it is measured as it is, with fewer requests if it is slow, and has
no deep page. A list with a ``location`` filter is measured filtered too; a
list with a ``sku`` filter, filtered by one SKU, counts as a lookup (the
stock or ATP of one SKU).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from stockflow.bench.api_map import ApiMap, Endpoint
from stockflow.bench.load import hammer_get
from stockflow.bench.progress import Steps
from stockflow.bench.samples import Samples

DEEP_POINTERS = 8  # the deepest pointers of a walk, taken in turn by the clients
TRIED = 50  # candidate values tried against a route, at most
KEPT = 20  # values that answered 200 kept for the load


@dataclass(frozen=True, slots=True)
class ReadConfig:
    """How hard and how long to read."""

    clients: int = 8
    requests: int = 400  # per measurement
    budget_s: float = 20.0  # a measurement takes no new request after this long
    deep_s: float = 20.0  # walking a list to find a deep page stops after this long


@dataclass
class Walk:
    """What walking a list found."""

    rows: int = 0
    pages: int = 0
    seconds: float = 0.0
    to_end: bool = False
    pointers: list[tuple[int, str]] = field(default_factory=list)  # (rows before, pointer)
    refused: str | None = None  # why the list could not be read, if it could not


class Reader:
    """Measures the reads of one running server."""

    def __init__(
        self, base_url: str, token: str, api: ApiMap, samples: Samples, config: ReadConfig
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.api = api
        self.samples = samples
        self.c = config
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        )
        self.skipped: dict[str, str] = dict(api.ignored)

    def close(self) -> None:
        self.http.close()

    def run(self, bars: Steps) -> tuple[dict[str, Any], dict[str, Any]]:
        """Walk and measure every list and lookup: (lists, lookups)."""
        plain = [e for e in self.api.lists if not e.path_params]
        walks: dict[str, Walk] = {}
        with bars.step("walk lists", len(plain)) as walked:
            for n, ep in enumerate(plain, start=1):
                query = self._required(ep)
                if query is not None:
                    walk = self.walk(ep, ep.path, query)
                    if walk.refused is not None and not walk.pages:
                        self.skipped[ep.path] = walk.refused
                    else:
                        walks[ep.path] = walk
                walked(n, len(plain))
        plans = self._plans(walks)
        lists: dict[str, Any] = {}
        lookups: dict[str, Any] = {}
        with bars.step("measure reads", len(plans)) as measured:
            for n, plan in enumerate(plans, start=1):
                entry = (lookups if plan.lookup else lists).setdefault(plan.name, {})
                entry.update(plan.run(self))
                measured(n, len(plans))
        return lists, lookups

    # walking -----------------------------------------------------------------
    def walk(self, ep: Endpoint, path: str, query: dict[str, str]) -> Walk:
        """Read ``path`` page by page at the largest page size, sampling its items.

        A list that fits in one such page but not in one of the default size is
        walked again at the default size, so that it has a page after the first.
        """
        walk = self._walk(ep, path, query, ep.limit_max, sample=True)
        small = ep.limit_default
        if walk.to_end and not walk.pointers and small and walk.rows > small:
            walk = self._walk(ep, path, query, small, sample=False)
        return walk

    def _walk(
        self, ep: Endpoint, path: str, query: dict[str, str], size: int | None, *, sample: bool
    ) -> Walk:
        walk = Walk()
        q = dict(query)
        if size is not None and ep.cursor_param is not None:
            q["limit"] = str(size)
        started = time.perf_counter()
        while True:
            answer = self.http.get(path, params=q)
            if answer.status_code != 200:
                walk.refused = f"answered {answer.status_code}: {_title(answer)}"
                break
            body = answer.json()
            items = ep.items(body)
            if sample:
                self.samples.add(ep.path, items)
            walk.rows += len(items)
            walk.pages += 1
            pointer = ep.next_of(body)
            if not items and walk.pointers:
                walk.pointers.pop()  # it led to an empty page: not a page to measure
            if pointer is None or not items or pointer == q.get(ep.cursor_param or ""):
                walk.to_end = True
                break
            walk.pointers.append((walk.rows, pointer))
            if time.perf_counter() - started > self.c.deep_s:
                break
            q[ep.cursor_param or "cursor"] = pointer
        walk.seconds = time.perf_counter() - started
        return walk

    # planning ----------------------------------------------------------------
    def _required(self, ep: Endpoint) -> dict[str, str] | None:
        """The route's required query parameters filled in, or None (and why) if they cannot be.

        A list whose pointer is a number (``after``: a place in a stream) is read
        from the start of the stream, not from "now".
        """
        query: dict[str, str] = {}
        pointer = ep.query(ep.cursor_param or "")
        if pointer is not None and pointer.schema.get("type") == "integer":
            query[pointer.name] = str(pointer.schema.get("minimum", 0))
        for param in ep.required_query():
            value = self.samples.fill(param)
            if value is None:
                self.skipped[ep.path] = f"no value for its required parameter {param.name}"
                return None
            query[param.name] = value
        return query

    def _plans(self, walks: dict[str, Walk]) -> list[_Plan]:
        plans: list[_Plan] = []
        for ep in self.api.lists:
            if ep.path_params:
                plans += self._path_list(ep)
                continue
            if ep.path not in walks:
                continue
            query = self._required(ep) or {}
            plans += _list_plans(ep, ep.path, query, walks[ep.path], [ep.path])
            if ep.query("location") is not None and "location" not in query:
                located = self._valid(ep, ep.path, "location", self.samples.values("location"))
                if located:
                    name = f"{ep.path}?location={{location}}"
                    paths = [f"{ep.path}?{urlencode({**query, 'location': v})}" for v in located]
                    walk = self.walk(ep, ep.path, {**query, "location": located[0]})
                    plans += _list_plans(ep, name, query, walk, paths)
            if ep.query("sku") is not None:
                skus = self._valid(ep, ep.path, "sku", self.samples.values("sku"))
                if skus:
                    paths = [f"{ep.path}?{urlencode({**query, 'sku': v})}" for v in skus]
                    plans.append(_Plan(f"{ep.path}?sku={{sku}}", paths, lookup=True))
        for ep in self.api.lookups:
            paths = self._paths(ep)
            if paths:
                plans.append(_Plan(ep.path, paths, lookup=True))
        return plans

    def _path_list(self, ep: Endpoint) -> list[_Plan]:
        paths = self._paths(ep)
        query = self._required(ep)
        if not paths or query is None:
            return []
        walk = self.walk(ep, paths[0].partition("?")[0], query)
        if walk.refused is not None and not walk.pages:
            self.skipped[ep.path] = walk.refused
            return []
        return _list_plans(ep, ep.path, query, walk, paths)

    def _paths(self, ep: Endpoint) -> list[str]:
        """Concrete paths of a route with path parameters that answer 200 (at most ``KEPT``)."""
        if len(ep.path_params) != 1:
            self.skipped[ep.path] = "more than one path parameter"
            return []
        [name] = ep.path_params
        parent = ep.path.split(f"/{{{name}}}", 1)[0]
        query = self._required(ep)
        if query is None:
            return []
        suffix = f"?{urlencode(query)}" if query else ""
        candidates = [
            ep.path.replace(f"{{{name}}}", quote(v, safe="")) + suffix
            for v in self.samples.values(name, parent)[:TRIED]
        ]
        good: list[str] = []
        for path in candidates:
            if self.http.get(path).status_code == 200:
                good.append(path)
            if len(good) == KEPT:
                break
        if not good:
            self.skipped[ep.path] = (
                "nothing to look up in the data set" if not candidates
                else f"none of {len(candidates)} values tried answered 200"
            )  # fmt: skip
        return good

    def _valid(self, ep: Endpoint, path: str, name: str, values: list[str]) -> list[str]:
        good = []
        for v in values[:TRIED]:
            params = {name: v, "limit": "1"} if ep.limit_max else {name: v}
            answer = self.http.get(path, params=params)
            if answer.status_code == 200 and ep.items(answer.json()):
                good.append(v)
            if len(good) == KEPT:
                break
        return good

    # measuring ---------------------------------------------------------------
    def measure(self, path_for: Callable[[int], str]) -> dict[str, Any]:
        """``requests`` GETs over ``clients`` connections, after one warm-up request each."""
        c = self.c
        hammer_get(self.base_url, path_for, clients=c.clients, attempts=c.clients,
                   token=self.token, budget_s=c.budget_s)  # fmt: skip
        tally = hammer_get(
            self.base_url, lambda n: path_for(n + c.clients), clients=c.clients,
            attempts=c.requests, token=self.token, budget_s=c.budget_s,
        )  # fmt: skip
        done = len(tally.latencies_ms)
        return {
            "requests": done,
            "ok": tally.accepted,
            "not_found": tally.rejected,
            "errors": tally.errors,
            "p50_ms": round(tally.percentile(50), 2),
            "p99_ms": round(tally.percentile(99), 2),
            "per_s": round(done / tally.seconds, 1) if tally.seconds else 0.0,
            "bytes_per_answer": round(tally.body_bytes / done) if done else 0,
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    """One entry of the report: a name, the concrete paths its clients take in turn, and what
    it adds to the entry (``part``: ``first_page``, ``deep_page``, or none for a lookup)."""

    name: str
    paths: list[str]
    lookup: bool = False
    part: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None  # why this part is not measured

    def run(self, reader: Reader) -> dict[str, Any]:
        if self.skip is not None:
            return {self.part or "": None, f"{self.part}_skipped": self.skip}
        figures = reader.measure(lambda n: self.paths[n % len(self.paths)])
        if self.lookup:
            return {"values": len(self.paths), **figures}
        if self.part == "first_page":
            return {"first_page": figures, **self.extra}
        return {self.part or "": {**figures, **self.extra}}


def _list_plans(
    ep: Endpoint, name: str, query: dict[str, str], walk: Walk, paths: list[str]
) -> list[_Plan]:
    """The first page (no pointer) and, when the walk found one, a deep page of a list."""
    first = [p if "?" in p or not query else f"{p}?{urlencode(query)}" for p in paths]
    summary: dict[str, Any] = {
        "paged": ep.cursor_param is not None,
        "rows_walked": walk.rows,
        "pages_walked": walk.pages,
        "walked_to_end": walk.to_end,
        "walk_seconds": round(walk.seconds, 2),
    }
    if walk.refused is not None:
        summary["walk_stopped"] = walk.refused
    plans = [_Plan(name, first, part="first_page", extra=summary)]
    if ep.cursor_param is None:
        why = "the list does not page: its first answer is the whole list"
        return [*plans, _Plan(name, first, part="deep_page", skip=why)]
    if not walk.pointers:
        return [*plans, _Plan(name, first, part="deep_page", skip=f"one page ({walk.rows} rows)")]
    deepest = walk.pointers[-DEEP_POINTERS:]
    path, _, query_text = first[0].partition("?")
    fixed = [(k, v) for k, v in parse_qsl(query_text) if k != ep.cursor_param]
    deep = [f"{path}?{urlencode([*fixed, (ep.cursor_param, p)])}" for _, p in deepest]
    return [*plans, _Plan(name, deep, part="deep_page", extra={"rows_before": deepest[0][0]})]


def _title(answer: httpx.Response) -> str:
    """A refusal's problem title, or its status text."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    title = body.get("title") if isinstance(body, dict) else None
    return str(title or answer.reason_phrase)
