"""Who is calling: established once per request, in front of everything else.

Every request, the reservation fast lane's included, passes through
``IdentifyCaller`` before anything else looks at it, and that is the only code
that reads what a request says about who sent it. What it finds goes into the
request's scope as a ``Caller``, or as a ``CallerRefused`` saying why none
could be taken; routes read it through the ``Actor`` dependency
(``api.deps``) and the fast lane with ``caller_of``. Checking credentials
(sessions, API tokens) belongs here too, so that no path can skip it.

Today the caller is whoever the ``X-Actor`` header names, ``api`` when it is
missing. A refusal is not answered here: a request that records no actor (a
read, a reservation) is served as if the header had not been sent, and a
route that records one answers 422 with the problem document it always gave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import StringConstraints, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = "X-Actor"
DEFAULT_ACTOR = "api"
MAX_ACTOR = 64
_HEADER = HEADER.lower().encode()  # ASGI servers hand header names over in lower case
_STATE_KEY = "caller"
_ACTOR_NAME: TypeAdapter[str] = TypeAdapter(Annotated[str, StringConstraints(max_length=MAX_ACTOR)])


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request acts for; ``actor`` is the name its ledger moves are written under."""

    actor: str


@dataclass(frozen=True, slots=True)
class CallerRefused:
    """A request whose caller could not be taken, and why (as the framework's validation errors)."""

    errors: tuple[dict[str, Any], ...]


_UNNAMED = Caller(DEFAULT_ACTOR)


def establish(headers: Iterable[tuple[bytes, bytes]]) -> Caller | CallerRefused:
    """The caller a request's headers name; the first ``X-Actor`` counts, as it always has."""
    for name, value in headers:
        if name == _HEADER:
            # Decoded as the framework decodes every header value.
            return _named(value.decode("latin-1"))
    return _UNNAMED


def _named(actor: str) -> Caller | CallerRefused:
    try:
        return Caller(_ACTOR_NAME.validate_python(actor))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        return CallerRefused(tuple({**e, "loc": ("header", HEADER)} for e in errors))


class IdentifyCaller:
    """ASGI middleware: puts the caller of each HTTP or WebSocket request into its scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Establish the caller (replacing whatever a scope already claimed), then pass on."""
        if scope["type"] in ("http", "websocket"):
            state = scope.get("state")
            if state is None:
                state = scope["state"] = {}
            state[_STATE_KEY] = establish(scope["headers"])
        await self.app(scope, receive, send)


def caller_of(scope: Scope) -> Caller | CallerRefused:
    """The caller ``IdentifyCaller`` established; a request that bypassed it fails loudly."""
    found: Caller | CallerRefused = scope["state"][_STATE_KEY]
    return found


def described(scope: Scope) -> str:
    """The caller in a few words for a log line, even for a request that never got one."""
    found = scope.get("state", {}).get(_STATE_KEY)
    if isinstance(found, Caller):
        return repr(found.actor)
    return "a refused caller" if isinstance(found, CallerRefused) else "no caller"


async def actor(request: Request) -> str:
    """The acting name of the caller; a refused caller gets the 422 the header check always gave."""
    found = caller_of(request.scope)
    if isinstance(found, CallerRefused):
        raise RequestValidationError(list(found.errors))
    return found.actor


def document_caller(app: FastAPI, routers: Iterable[APIRouter], *, prefix: str) -> None:
    """List the ``X-Actor`` header on every operation that records an actor, as OpenAPI did.

    ``routers`` are the ones ``app`` includes under ``prefix``; a route asks for
    the actor through a dependency that reads the scope, so the framework cannot
    see the header by itself.
    """
    build = app.openapi
    acting = [
        (prefix + route.path_format, route.methods or set())
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema and _acts(route.dependant)
    ]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, methods in acting:
            for method in methods:
                operation = schema["paths"][path][method.lower()]
                operation.setdefault("parameters", []).append(_parameter())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _acts(dependant: Dependant) -> bool:
    """Whether a route, or anything it depends on, asks for the actor."""
    return any(d.call is actor or _acts(d) for d in dependant.dependencies)


def _parameter() -> dict[str, Any]:
    description = "Who does this"
    schema = {
        "type": "string",
        "maxLength": MAX_ACTOR,
        "description": description,
        "default": DEFAULT_ACTOR,
        "title": HEADER,
    }
    return {
        "name": HEADER,
        "in": "header",
        "required": False,
        "schema": schema,
        "description": description,
    }
