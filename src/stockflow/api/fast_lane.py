"""The flash-sale endpoint, answered in front of the web framework.

In a flash sale one endpoint, ``POST /api/v1/reservations``, is called
thousands of times a second. The framework's work per request (matching every
route, solving dependencies, several middleware layers) then costs more than
the reservation itself. The application class (``api.app.Api``) therefore
hands that endpoint to this lane first: the same pydantic model validates the
body, the same desk reserves, and the same problem documents report refusals.

Any request the lane does not take at face value (not JSON, a header sent
twice, an empty or over-long key, no declared length, a body that
``api.screening.loads`` refuses or that fails validation, a caller
``api.identity`` refused) goes on to the application
with its body, and the application stays the one place that words input
errors and documents the endpoint in OpenAPI. A body declared longer than
the application's limit is refused before it is read, with the application's
own problem document.

Who is calling is established before the lane, by ``api.identity``, for
every request alike; the lane reads the caller from the request's scope and
never looks at the headers that name it. It then does what ``api.guard`` does
for a route: the caller's role must grant ``reservations:write`` (else the
application words the 403), the caller's rate limit is spent, and the
reservation's audit row names the caller. A caller limited by a scope goes
on to the application, whose route checks the lines against it. Anything else added later in front
of every route must be added here too, or this lane must step aside for it.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from stockflow.adapters import audit
from stockflow.api.guard import RateLimiter, acting_for
from stockflow.api.identity import caller_of
from stockflow.api.problems import (
    PROBLEM_JSON,
    domain_problem,
    domain_problem_body,
    too_large_problem,
    unexpected_problem,
)
from stockflow.api.reservations import reservation_out, reserve_command
from stockflow.api.schemas import ReservationIn
from stockflow.api.screening import loads, read_body, replay
from stockflow.bootstrap import Stockflow
from stockflow.errors import StockflowError, TooManyRequests
from stockflow.stock.rules.access import Action, Permission, Principal, Resource

log = logging.getLogger("stockflow.api")

PATH = "/api/v1/reservations"
_KEY_HEADER = b"idempotency-key"
_KEY_MAX = 128
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
_JSON = b"application/json"
_PROBLEM = PROBLEM_JSON.encode()
_PERMISSION = Permission(Resource.RESERVATIONS, Action.WRITE)
_COMMAND = f"POST {PATH}"


class FastLane:
    """Serves ``POST /api/v1/reservations`` itself; the application gets everything else."""

    def __init__(self, sf: Stockflow, *, max_body: int, limiter: RateLimiter) -> None:
        self.sf = sf
        self.max_body = max_body
        self.limiter = limiter

    @staticmethod
    def takes(scope: Scope) -> bool:
        """Whether this request is one the lane looks at."""
        return bool(scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        """Answer the request, or hand it (body included) to ``app``."""
        key, content_type, length, plain = None, None, None, True
        for name, value in scope["headers"]:
            if name == b"content-type":
                plain = plain and content_type is None
                content_type = value
            elif name == _KEY_HEADER:
                plain = plain and key is None
                key = value
            elif name == b"content-length":
                plain = plain and length is None
                length = value
        declared = _length(length) if plain else None
        if declared is None:  # streamed, or unclear: the application reads it within its limit
            await app(scope, receive, send)
            return
        if declared > self.max_body:
            await too_large_problem(self.max_body)(scope, receive, send)
            return
        caller = caller_of(scope)
        if caller is None or not caller.may(_PERMISSION) or not caller.scope.unlimited:
            # The application words the refusal (and records it), or applies the scope.
            await app(scope, receive, send)
            return
        body = await read_body(receive) or b""
        json_body = content_type is not None and content_type.lower() in _JSON_TYPES
        request = self._request(body, key) if plain and json_body else None
        if request is None:
            await app(scope, replay(body, receive), send)
            return
        await self._reserve(caller, *request, scope, receive, send)

    def _request(self, body: bytes, key: bytes | None) -> tuple[ReservationIn, str | None] | None:
        if key is not None and not (0 < len(key) <= _KEY_MAX and key.isascii()):
            return None
        try:
            # Parsed as every JSON body is (a key named twice or a NUL is refused),
            # then validated by the route's model.
            parsed = ReservationIn.model_validate(loads(body))
        except (ValueError, RecursionError):  # ValidationError and BodyRefused among them
            return None
        return parsed, key.decode() if key is not None else None

    async def _reserve(
        self,
        caller: Principal,
        body: ReservationIn,
        key: str | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        try:
            self.limiter.take(caller)
            # The desk takes the caller's audit record along with the command.
            audit.begin(acting_for(caller, _COMMAND, scope))
            view = await self.sf.reserve_async(reserve_command(body, key))
        except TooManyRequests as exc:  # with its Retry-After header
            await domain_problem(exc)(scope, receive, send)
            return
        except StockflowError as exc:
            await _respond(send, exc.status, _PROBLEM, domain_problem_body(exc))
            return
        except Exception:
            log.exception("unhandled error on POST %s for %r", PATH, caller.name)
            await unexpected_problem()(scope, receive, send)
            return
        answer = reservation_out(view).model_dump_json().encode()
        await _respond(send, 200 if view.replayed else 201, _JSON, answer)


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    """Send a whole response: the same two messages a framework response sends, built directly."""
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def declared_length(scope: Scope) -> int | None:
    """The body length a request declares (``Content-Length``), if it declares one clearly."""
    values = [value for name, value in scope["headers"] if name == b"content-length"]
    return _length(values[0]) if len(values) == 1 else None


def _length(value: bytes | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
