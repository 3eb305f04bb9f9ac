"""Which GET routes are lists and which are lookups, read from the app's OpenAPI document.

A **list** answers a JSON array, or a page: an object with an array of items
and a ``next…`` value (``next`` goes back as ``cursor``, ``next_after`` as
``after``), or any array-bearing object from a route that takes ``limit``. A
**lookup** takes path parameters and answers one JSON object. Everything else
(streams, PDFs, health, the caller's session) is neither, and the bench says
why it leaves each alone. So a list or lookup added to the API is measured
without touching the bench, whether it pages yet or still answers everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a route."""

    name: str
    where: str  # "path" or "query"
    required: bool
    schema: Json


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A GET route the bench measures."""

    path: str
    params: tuple[Param, ...]
    is_list: bool
    items_key: str | None = None  # None: the answer is the array itself
    next_key: str | None = None  # the page's pointer to the next one, if it pages
    limit_default: int | None = None
    limit_max: int | None = None

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.where == "path")

    @property
    def cursor_param(self) -> str | None:
        """The query parameter the next page's pointer goes back in."""
        if self.next_key is None:
            return None
        return "cursor" if self.next_key == "next" else self.next_key.removeprefix("next_")

    def query(self, name: str) -> Param | None:
        return next((p for p in self.params if p.where == "query" and p.name == name), None)

    def required_query(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.where == "query" and p.required)

    def items(self, body: object) -> list[Any]:
        """The items of an answer (empty when it is not what the document says)."""
        if self.items_key is None:
            return body if isinstance(body, list) else []
        found = body.get(self.items_key) if isinstance(body, dict) else None
        return found if isinstance(found, list) else []

    def next_of(self, body: object) -> str | None:
        """The pointer to the next page, as text; None on the last page."""
        if self.next_key is None or not isinstance(body, dict):
            return None
        found = body.get(self.next_key)
        return None if found is None else str(found)


@dataclass(frozen=True, slots=True)
class ApiMap:
    lists: tuple[Endpoint, ...]
    lookups: tuple[Endpoint, ...]
    ignored: dict[str, str]  # path: why it is not measured


def read_map(spec: Json) -> ApiMap:
    """The lists and lookups of an OpenAPI document."""
    lists: list[Endpoint] = []
    lookups: list[Endpoint] = []
    ignored: dict[str, str] = {}
    for path, operations in spec.get("paths", {}).items():
        op = operations.get("get")
        if op is None:
            continue
        params = tuple(
            Param(p["name"], p["in"], bool(p.get("required")), _resolve(spec, p.get("schema", {})))
            for p in op.get("parameters", [])
            if p.get("in") in ("path", "query")
        )
        answer = op.get("responses", {}).get("200", {}).get("content", {})
        schema = answer.get("application/json", {}).get("schema")
        if schema is None:
            ignored[path] = "answers no JSON"
            continue
        endpoint = _endpoint(spec, path, params, _resolve(spec, schema))
        if endpoint.is_list:
            lists.append(endpoint)
        elif endpoint.path_params:
            lookups.append(endpoint)
        else:
            ignored[path] = "neither a list nor a lookup by path parameter"
    return ApiMap(tuple(lists), tuple(lookups), ignored)


def _endpoint(spec: Json, path: str, params: tuple[Param, ...], schema: Json) -> Endpoint:
    limit = next((p for p in params if p.where == "query" and p.name == "limit"), None)
    default = _int(limit.schema.get("default")) if limit else None
    maximum = _int(limit.schema.get("maximum")) if limit else None
    if schema.get("type") == "array":
        return Endpoint(path, params, True, limit_default=default, limit_max=maximum)
    properties: Json = schema.get("properties", {})
    arrays = [k for k, v in properties.items() if _resolve(spec, v).get("type") == "array"]
    nexts = [k for k in properties if k == "next" or k.startswith("next_")]
    if arrays and (nexts or limit is not None):
        items = "items" if "items" in arrays else arrays[0]
        pointer = nexts[0] if nexts else None
        return Endpoint(path, params, True, items, pointer, default, maximum)
    return Endpoint(path, params, False)


def _resolve(spec: Json, schema: Json) -> Json:
    """``schema`` with a ``$ref`` followed, and a nullable ``anyOf`` reduced to its type."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = spec
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return _resolve(spec, node) if isinstance(node, dict) else {}
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        return {**_resolve(spec, options[0]), **{k: v for k, v in schema.items() if k != "anyOf"}}
    return schema


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
