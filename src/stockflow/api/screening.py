"""Input no route can take at face value, refused once in front of every route.

Two kinds of input are well-formed to a parser yet mean nothing sound here:

- a NUL character in any text: PostgreSQL text cannot hold one, so it would
  fail deep inside a write instead of being refused as input;
- a JSON object that names a key twice: parsers keep the last one, so a
  client checking the first one and a server storing the last would disagree.

``Api`` (``api/app.py``) asks ``url_refusal`` about the path and the query of
every request before the fast lane or a route sees it, and reads JSON bodies
with ``loads`` (the fast lane with the same function) before the framework
parses them again. A refusal is a 422 problem document naming the field, in the
shape the framework's own validation errors have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute, APIRouter
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Message, Receive, Scope

from stockflow.api.problems import problem

NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"  # the only way a NUL can stand in valid JSON text
_NUL_MESSAGE = "must not contain a NUL character"


class BodyRefused(ValueError):
    """A JSON body that parses but cannot be taken: a key named twice, or a NUL in its text."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def loads(body: bytes) -> Any:
    """A JSON body as Python values; ``BodyRefused`` for a duplicate key or a NUL anywhere.

    Raises another ``ValueError`` for a body that is not JSON at all.
    """
    # JSON over HTTP is UTF-8; a body that is not fails to decode and counts as not JSON.
    value = _DECODER.decode(body.decode())
    if _ESCAPED_NUL in body:  # a byte search first: bodies without one are not walked
        field = _nul_at(value, "")
        if field is not None:
            raise BodyRefused(field or "body", _NUL_MESSAGE)
    return value


def body_refusal(body: bytes) -> Response | None:
    """The 422 for a JSON body with a key named twice or a NUL; None lets the framework judge."""
    if not body:
        return None
    try:
        loads(body)
    except BodyRefused as exc:
        return refusal(exc.field, exc.message)
    except RecursionError:  # arrays or objects nested hundreds deep: no request of ours is
        return problem(
            400, "Unreadable body", "the JSON body nests arrays or objects too deeply", field="body"
        )
    except ValueError:  # not JSON: the framework words it
        return None
    return None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BodyRefused(key, "appears more than once in the same object")
            seen.add(key)
    return obj


# One decoder for every body: building one per call (as ``json.loads`` with a hook
# does) costs more than the parse of a typical body.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique)


def _nul_at(value: Any, path: str) -> str | None:
    """The field path of the first text holding a NUL (``lines[0].sku``), or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            if NUL in key:
                return inner
            found = _nul_at(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def path_patterns(routers: Iterable[APIRouter], *, prefix: str) -> tuple[re.Pattern[str], ...]:
    """The path of every route of ``routers`` as a pattern whose groups are its parameters."""
    return tuple(
        compile_path(prefix + route.path)[0]
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    )


def url_refusal(scope: Scope, paths: Iterable[re.Pattern[str]]) -> Response | None:
    """The 422 for a NUL in the path or the query of this request, or None when there is none."""
    if NUL in scope["path"]:
        return refusal(_path_field(scope["path"], paths), _NUL_MESSAGE)
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        # Decoded as the framework decodes a query string.
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if NUL in name or NUL in value:
                return refusal(name, _NUL_MESSAGE)
    return None


def _path_field(path: str, paths: Iterable[re.Pattern[str]]) -> str:
    """The path parameter holding the NUL, named as its route names it; ``path`` if none does."""
    for pattern in paths:
        match = pattern.match(path)
        if match is not None:
            for name, value in match.groupdict().items():
                if NUL in value:
                    return name
    return "path"


def refusal(field: str, message: str) -> Response:
    """The 422 problem document for one field, as request validation words it."""
    field = field.replace(NUL, "\\0")
    errors = [{"field": field, "message": message}]
    return problem(422, "Invalid input", f"{field}: {message}", field=field, errors=errors)


def is_json(content_type: bytes | None) -> bool:
    """Whether the framework reads a body of this type as JSON (``application/json``, ``+json``)."""
    if content_type is None:
        return False
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind.startswith(b"application/") and (
        kind == b"application/json" or kind.endswith(b"+json")
    )


async def read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    """The whole request body; None once it runs over ``limit`` bytes (the rest is left unread)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A ``receive`` that hands the next layer the body already read."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
