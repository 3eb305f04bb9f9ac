"""The FastAPI application, built around a running ``Stockflow``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Lifespan, Message, Receive, Scope, Send

from stockflow import __version__
from stockflow.api import (
    accounts,
    catalogue,
    counts,
    event_catalogue,
    events,
    exports,
    floor,
    guard,
    identity,
    orders,
    parties,
    problems,
    receiving,
    reservations,
    returns,
    screening,
    stock,
    transfers,
    webhooks,
)
from stockflow.api.fast_lane import FastLane, declared_length
from stockflow.api.identity import PREFIX
from stockflow.bootstrap import Stockflow
from stockflow.config import Settings
from stockflow.runtime import settle_heap

_ROUTERS = (
    accounts.router,
    catalogue.router,
    stock.router,
    reservations.router,
    parties.router,
    orders.router,
    receiving.router,
    floor.router,
    transfers.router,
    counts.router,
    returns.router,
    events.router,
    webhooks.router,
    exports.router,
)


def app_from_settings() -> Api:
    """An app on the configured database (``STOCKFLOW_*``); it closes its stockflow on shutdown."""
    settings = Settings()
    sf = Stockflow.open(
        settings.database_url,
        migrate_schema=False,
        reservation_workers=settings.reservation_workers,
        webhook_overlap=settings.webhook_overlap,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        settle_heap()
        yield
        sf.close()

    return create_app(
        sf,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        cookie_secure=settings.cookie_secure,
        rate_limit=settings.rate_limit,
    )


class Api(FastAPI):
    """The FastAPI application: who is calling is established first, then the fast lane.

    ``front`` is ``identity.IdentifyCaller`` around ``identified``, so every
    request, the ones the lane answers included, gets its caller in one place,
    and then has its path and query screened (``api.screening``) in one place.
    """

    lane: FastLane
    front: ASGIApp
    paths: tuple[re.Pattern[str], ...] = ()  # the routes' paths, to name a parameter at fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.front(scope, receive, send)

    async def identified(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request whose caller is known: screened, then the lane's or the framework's."""
        if scope["type"] == "http":
            refused = screening.url_refusal(scope, self.paths)
            if refused is not None:
                await refused(scope, receive, send)
                return
            if FastLane.takes(scope):
                await self.lane(scope, receive, send, self.framework)
                return
        await self.framework(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request for the framework: within the size limit and with its JSON body screened."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        limit = self.max_body_size
        declared = declared_length(scope)
        if declared is not None and limit is not None and declared > limit:
            # Refused before a byte of it is read, as a problem document like
            # every other error (the framework would answer in plain text).
            await problems.too_large_problem(limit)(scope, receive, send)
            return
        if screening.is_json(_header(scope, b"content-type")):
            body = await screening.read_body(receive, limit)
            if body is None:
                await problems.too_large_problem(limit or 0)(scope, receive, send)
                return
            refused = screening.body_refusal(body)
            if refused is not None:
                await refused(scope, receive, send)
                return
            receive = screening.replay(body, receive)
        await self.answered(scope, receive, send)

    async def answered(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The framework's answer; an error it answered (a 500) keeps the connection usable.

        The framework sends the 500 problem document and then raises the error
        again for the server, which drops the connection on it: a client that
        already sent its next request on the same connection would get no answer.
        Once the answer is complete there is nothing left to abort, so the error
        (already logged by ``problems.install``) ends here; an error in the
        middle of an answer still reaches the server, which cuts it off.
        """
        finished = False

        async def watched(message: Message) -> None:
            nonlocal finished
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True

        try:
            await super().__call__(scope, receive, watched)
        except Exception:
            if not finished:
                raise


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header, as the framework reads it."""
    return next((value for key, value in scope["headers"] if key == name), None)


def create_app(
    sf: Stockflow,
    *,
    lifespan: Lifespan[FastAPI] | None = None,
    max_body_bytes: int = Settings.model_fields["max_body_bytes"].default,
    cookie_secure: bool = Settings.model_fields["cookie_secure"].default,
    rate_limit: float = Settings.model_fields["rate_limit"].default,
) -> Api:
    """An app serving ``sf``; unless a ``lifespan`` says otherwise, the caller closes ``sf``.

    A request body longer than ``max_body_bytes`` is refused with 413. Session
    cookies are marked Secure unless ``cookie_secure`` is off; order capture and
    reservations are limited to ``rate_limit`` a second per token or user.
    """
    app = Api(
        lifespan=lifespan,
        max_body_size=max_body_bytes,
        title="stockflow",
        version=__version__,
        description="One live, trustworthy stock position for inventory and order management.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the bundled Swagger page would load scripts from a CDN
        redoc_url=None,
        responses=problems.error_responses(404),
        # No telemetry leaves the process (and looking for a collector on every
        # request costs more than answering some of them).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.stockflow = sf
    app.state.cookie_secure = cookie_secure
    app.state.limiter = limiter = guard.RateLimiter(rate_limit)
    app.lane = FastLane(sf, max_body=max_body_bytes, limiter=limiter)
    app.front = identity.IdentifyCaller(app.identified, sf.access.authenticator)
    problems.install(app)
    guard.install(app)
    for router in _ROUTERS:
        app.include_router(router, prefix=PREFIX)
    app.paths = screening.path_patterns(_ROUTERS, prefix=PREFIX)

    @app.get("/api/v1/health", tags=["ops"], dependencies=[guard.PUBLIC])
    def health() -> dict[str, str]:
        """Liveness: answers when the process and its database answer."""
        with sf.db.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "database": sf.db.dialect}

    guard.require_declarations(app, _ROUTERS)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        guard.document(app, _ROUTERS, schema)
        event_catalogue.document(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Last, so it sees every parameter and status the steps before it documented.
    app.openapi = problems.problem_openapi(app)  # type: ignore[method-assign]
    return app
