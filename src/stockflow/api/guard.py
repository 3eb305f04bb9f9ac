"""Every route names the permission it needs; the one table in ``stock.rules.access`` says who.

A route declares its permission as a dependency, ``dependencies=[may(ORDERS, READ)]``
(or ``SIGNED_IN`` for what any caller may do with its own account, or
``PUBLIC``). ``require_declarations`` refuses to start an application with a
route that declares none, or more than one. The check runs before the body
is read or validated: a caller without the permission learns nothing about
what a valid request would be.

The same dependency opens the audit record of a write: the principal, how it
signed in, from where, the route and its path parameters (``adapters.audit``).
Every 403 a signed-in caller gets (its role lacks the permission, it sent a
field it may not set, it named a place outside its scope) is recorded too, in
a transaction of its own, as ``denied`` (``install``). An object outside the
scope answers 404, as an unknown one does, and is not recorded.

Order capture and reservations are also limited in rate per caller (OWASP
API6: a flow that a script could drain). Each token, or each signed-in user,
has a bucket of twice ``rate`` requests refilled at ``rate`` a second; an empty
bucket answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute, APIRouter
from starlette.types import Scope

from stockflow.adapters import audit
from stockflow.api.identity import PREFIX, SAFE_METHODS, caller_of
from stockflow.api.problems import domain_problem
from stockflow.bootstrap import Stockflow
from stockflow.errors import Forbidden, NotSignedIn, TooManyRequests
from stockflow.stock.rules.access import Action, Permission, Principal, Resource

PERMISSION_KEY = "x-stockflow-permission"  # on every operation in the OpenAPI document
_LIMITED = "Over the caller's rate limit; Retry-After says when to try again"
_CHALLENGE = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "How to sign in"}}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
_ANY_SIGNED_IN = "signed-in"
_PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Needs:
    """A route's declared permission; as a dependency it checks the caller and opens the audit."""

    permission: Permission | None  # None: any signed-in caller (or anyone, when public)
    public: bool = False
    limited: bool = False  # counts against the caller's rate limit

    @property
    def label(self) -> str:
        """How the OpenAPI document names it."""
        if self.public:
            return _PUBLIC
        return str(self.permission) if self.permission is not None else _ANY_SIGNED_IN

    async def __call__(self, request: Request) -> Principal | None:
        who = caller_of(request.scope)
        if self.public:
            return who
        if who is None:
            raise NotSignedIn("sign in first")
        if self.permission is not None and not who.may(self.permission):
            raise Forbidden(
                f"the {who.role} role may not {self.permission.action} {self.permission.resource}"
            )
        if self.limited:
            limiter: RateLimiter = request.app.state.limiter
            limiter.take(who)
        if request.method not in SAFE_METHODS:
            audit.begin(acting(request, who))
        return who


def may(resource: Resource, action: Action, *, limited: bool = False) -> Any:
    """The dependency declaring that a route needs ``resource:action``."""
    return Depends(Needs(Permission(resource, action), limited=limited))


SIGNED_IN: Any = Depends(Needs(None))
PUBLIC: Any = Depends(Needs(None, public=True))


async def principal(request: Request) -> Principal:
    """The signed-in caller (a route's permission dependency has already let it in)."""
    who = caller_of(request.scope)
    if who is None:
        raise NotSignedIn("sign in first")
    return who


async def actor(request: Request) -> str:
    """The name the caller's ledger moves are written under: always the signed-in user's."""
    return (await principal(request)).name


Who = Annotated[Principal, Depends(principal)]


def acting(request: Request, who: Principal) -> audit.Acting:
    """The audit record of the request ``who`` is making."""
    route = request.scope.get("route")
    template = route.path_format if isinstance(route, APIRoute) else request.url.path
    if not template.startswith(PREFIX):  # a router's route, included under the prefix
        template = PREFIX + template
    target = {k: str(v) for k, v in request.path_params.items()}
    return acting_for(who, f"{request.method} {template}", request.scope, target)


def acting_for(
    who: Principal, command: str, scope: Scope, target: dict[str, str] | None = None
) -> audit.Acting:
    """The audit record of ``command`` made by ``who`` in the ASGI request ``scope``."""
    client = scope.get("client")
    return audit.Acting(
        actor=who.name,
        role=str(who.role),
        via=who.via,
        command=command,
        target=target or {},
        token_id=who.token_id,
        remote=client[0] if client else None,
    )


def install(app: FastAPI) -> None:
    """Answer every 403 of a route with its problem document, and record it as ``denied``."""

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        who = caller_of(request.scope)
        if who is not None:
            await _denied(request, who)
        return domain_problem(exc)


async def _denied(request: Request, who: Principal) -> None:
    sf: Stockflow = request.app.state.stockflow
    row = acting(request, who)

    def write() -> None:
        with sf.db.write() as conn:
            audit.write(conn, [row.row((), now=sf.clock(), outcome="denied")])

    await anyio.to_thread.run_sync(write)


class RateLimiter:
    """Token buckets: per caller, ``rate`` requests a second with bursts of twice that.

    ``spend`` also serves other limits keyed by anything hashable (sign-in
    attempts per user name). Buckets of callers long gone are dropped when
    there are too many to keep.
    """

    MAX_BUCKETS = 100_000

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: Principal) -> None:
        """Spend one request of ``who``'s allowance, or refuse with how long to wait."""
        rate = who.rate_limit or self.rate
        key = who.token_id if who.token_id is not None else ("user", who.user_id)
        self.spend(key, rate=rate, burst=2 * rate, limit=_PER_SECOND)

    def spend(self, key: object, *, rate: float, burst: float, limit: str) -> None:
        """Take one from ``key``'s bucket (``burst`` deep, refilled at ``rate`` a second).

        ``limit`` words the limit for the refusal; ``{rate}`` and ``{burst}`` are filled in.
        """
        now = time.monotonic()
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                if len(self._buckets) >= self.MAX_BUCKETS:
                    self._buckets.clear()
                level = burst
            else:
                level = min(burst, found[0] + (now - found[1]) * rate)
            if level >= 1:
                self._buckets[key] = (level - 1, now)
                return
            self._buckets[key] = (level, now)
        wait = max(1, math.ceil((1 - level) / rate))
        worded = limit.format(rate=f"{rate:g}", burst=f"{burst:g}")
        raise TooManyRequests(f"{worded}; try again in {wait} s", retry_after=wait)


_PER_SECOND = "at most {rate} of these a second (bursts of {burst})"


def declared(dependant: Dependant) -> Iterator[Needs]:
    """The permissions a route (or anything it depends on) declares."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Needs):
            yield dependency.call
        yield from declared(dependency)


def routes(app: FastAPI, routers: Iterable[APIRouter]) -> Iterator[tuple[str, APIRoute]]:
    """Every route of the application with its full path: its own, and its routers' under PREFIX."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route.path_format, route
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                yield PREFIX + route.path_format, route


def declaration(path: str, route: APIRoute) -> Needs:
    """The one permission a route declares; a RuntimeError naming it if it declares none or more."""
    found = list(declared(route.dependant))
    if len(found) != 1:
        methods = ",".join(sorted(route.methods or ()))
        raise RuntimeError(
            f"{methods} {path} declares {len(found)} permissions; "
            "every route declares exactly one (api.guard.may, SIGNED_IN or PUBLIC)"
        )
    return found[0]


def require_declarations(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Refuse to start unless every route declares exactly one permission."""
    for path, route in routes(app, routers):
        declaration(path, route)


def document(app: FastAPI, routers: Iterable[APIRouter], schema: dict[str, Any]) -> None:
    """Name each operation's permission, its security schemes, and its 401/403/429 answers."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["apiToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (sfk_...) from `stockflow tokens add` or POST /tokens",
    }
    schemes["session"] = {
        "type": "apiKey",
        "in": "cookie",
        "name": "stockflow_session",
        "description": "A browser session from POST /session; changes also need X-CSRF-Token",
    }
    for path, route in routes(app, routers):
        if not route.include_in_schema:
            continue
        needs = declaration(path, route)  # a route added after the start is checked here
        for method in route.methods or ():
            operation = schema["paths"][path][method.lower()]
            operation[PERMISSION_KEY] = needs.label
            responses = operation.setdefault("responses", {})
            if not needs.public:
                operation["security"] = [{"apiToken": []}, {"session": []}]
                responses.setdefault("401", _problem("Not signed in, or the credential is dead"))
                responses.setdefault(
                    "403",
                    _problem(
                        "The caller's role may not do this, it sent a field it may not set "
                        "or named a place outside its scope, or a session lacks its CSRF token"
                    ),
                )
            if needs.limited:
                responses.setdefault("429", _problem(_LIMITED))
            # Whoever lists them, a 401 says how to sign in and a 429 when to try again.
            for status, header in (("401", _CHALLENGE), ("429", _RETRY_AFTER)):
                if status in responses:
                    responses[status].setdefault("headers", {}).update(header)


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {"application/problem+json": {"schema": schema}}}
