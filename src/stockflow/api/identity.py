"""Who is calling: authenticated once per request, in front of everything else.

Every request, the reservation fast lane's included, passes through
``IdentifyCaller`` first, and that is the only code that reads credentials.
A request carries either an API token (``Authorization: Bearer sfk_...``) or
a browser session cookie; a state-changing request made with a session must
also send the session's CSRF token in ``X-CSRF-Token`` (a form another site
makes the browser submit cannot know it). What is found goes into the
request's scope as a ``Principal``: the routes read it with ``principal_of``
(through ``api.guard``), the fast lane with ``caller_of``.

A request without credentials is answered 401 here unless its path is one of
the few that anyone may call (health, signing in, the OpenAPI document), so no
route can forget to ask. Unknown, expired and revoked credentials get the same
401, whatever the path: a client should learn its token is dead, not be
served as an anonymous caller.

Checking a credential costs a dictionary lookup: ``access.Authenticator``
keeps recent answers in memory and asks the database (on a worker thread, so
the event loop never waits on it) only for a secret it has not seen lately.
"""

from __future__ import annotations

import hmac

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from stockflow.access import rules
from stockflow.access.authenticator import Authenticator, Kind
from stockflow.access.queries import Signed
from stockflow.adapters import audit
from stockflow.api.problems import domain_problem
from stockflow.errors import Forbidden, NotSignedIn
from stockflow.stock.rules.access import Principal

PREFIX = "/api/v1"  # every route's path starts with it
SESSION_COOKIE = "stockflow_session"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_PATHS = frozenset({f"{PREFIX}/health", f"{PREFIX}/openapi.json", f"{PREFIX}/session"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATE_KEY = "caller"
_BEARER = b"bearer "
_CSRF = CSRF_HEADER.lower().encode()


class IdentifyCaller:
    """ASGI middleware: authenticates each HTTP or WebSocket request, puts its caller in scope."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Establish the caller (replacing whatever a scope already claimed), then pass on."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        try:
            state[_STATE_KEY] = await self._establish(scope)
        except (NotSignedIn, Forbidden) as exc:
            if scope["type"] == "http":
                await domain_problem(exc)(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        nobody = audit.start(None)  # each request starts with nobody acting
        try:
            await self.app(scope, receive, send)
        finally:
            audit.end(nobody)

    async def _establish(self, scope: Scope) -> Principal | None:
        token, cookie, csrf = _credentials(scope["headers"])
        if token is not None:
            return (await self._signed(Kind.TOKEN, token)).principal
        if cookie is not None:
            signed = await self._signed(Kind.SESSION, cookie)
            if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
                _check_csrf(signed, csrf)
            return signed.principal
        if scope["path"] in PUBLIC_PATHS:
            return None
        raise NotSignedIn(
            "sign in first: send an API token as 'Authorization: Bearer sfk_...' "
            "or a session cookie from POST /api/v1/session"
        )

    async def _signed(self, kind: Kind, secret: str) -> Signed:
        found = self.authenticator.cached(kind, secret)
        if found is False:
            found = await anyio.to_thread.run_sync(self.authenticator.refresh, kind, secret)
        if not isinstance(found, Signed):
            what = "API token" if kind is Kind.TOKEN else "session"
            raise NotSignedIn(f"this {what} is unknown, expired or revoked")
        return found


def _credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None, str | None]:
    """The bearer token, the session cookie and the CSRF header a request sends, if any."""
    token = cookie = csrf = None
    for name, value in headers:
        if name == b"authorization":
            if value[:7].lower() != _BEARER:
                raise NotSignedIn(
                    "only bearer tokens are accepted: 'Authorization: Bearer sfk_...'"
                )
            token = value[7:].strip().decode("latin-1")
        elif name == b"cookie" and cookie is None:
            cookie = _cookie(value.decode("latin-1"))
        elif name == _CSRF:
            csrf = value.decode("latin-1")
    return token, cookie, csrf


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == SESSION_COOKIE and value:
            return value
    return None


def _check_csrf(signed: Signed, sent: str | None) -> None:
    expected = signed.csrf_hash or ""
    if sent is None or not hmac.compare_digest(rules.hashed(sent), expected):
        raise Forbidden(
            f"a change made with a browser session needs the session's {CSRF_HEADER} header",
            field=CSRF_HEADER,
        )


def caller_of(scope: Scope) -> Principal | None:
    """The caller ``IdentifyCaller`` established (None on a public path without credentials)."""
    found: Principal | None = scope["state"][_STATE_KEY]
    return found
