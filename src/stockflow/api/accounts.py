"""Routes for signing in and out, one's API tokens, and the audit trail."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stockflow.access import rules
from stockflow.access.queries import TokenView, UserView
from stockflow.api.deps import IdPath, Sf
from stockflow.api.guard import PUBLIC, SIGNED_IN, RateLimiter, Who, may
from stockflow.api.identity import SESSION_COOKIE
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.errors import Forbidden
from stockflow.stock.rules.access import (
    PERMISSIONS,
    Action,
    Permission,
    Principal,
    Resource,
    Role,
    ScopeKind,
)

router = APIRouter(tags=["access"])
_USERS_WRITE = Permission(Resource.USERS, Action.WRITE)
_USERS_READ = Permission(Resource.USERS, Action.READ)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignIn(_Strict):
    """A name and password."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=rules.MAX_PASSWORD)


class ScopeOut(BaseModel):
    """What a caller is limited to; a missing side is no limit."""

    locations: list[str] | None = None
    channels: list[str] | None = None
    suppliers: list[str] | None = None


class Me(BaseModel):
    """Who the caller is and what it may do."""

    name: str
    role: str
    via: str = Field(description="token or session")
    scope: ScopeOut
    permissions: list[str] = Field(description="resource:action pairs the role grants")


class SessionOut(Me):
    """A new session: its CSRF token goes in X-CSRF-Token on every change made with it."""

    csrf_token: str
    expires_at: datetime


class TokenIn(_Strict):
    """A new API token for oneself."""

    name: str = Field(min_length=1, max_length=64, description="What it is for, e.g. 'web shop'")
    expires_in_days: int = Field(default=rules.DEFAULT_TOKEN_DAYS, ge=1, le=rules.MAX_TOKEN_DAYS)
    rate_limit: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Order captures and reservations a second; only a user administrator sets it",
    )


class TokenOut(BaseModel):
    """A token as listed: never its secret."""

    id: int
    user: str
    name: str
    prefix: str = Field(description="The token's first characters, to tell it apart")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    rate_limit: int | None


class IssuedTokenOut(TokenOut):
    """A new token: ``token`` is shown this once; only its hash is kept."""

    token: str


class UserIn(_Strict):
    """A new user. Partners are limited to their locations, channels or supplier."""

    name: str = Field(min_length=1, max_length=64)
    role: Role
    scope: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=500, description="Codes the user is limited to"
    )
    scope_kind: ScopeKind | None = Field(
        default=None, description="What scope limits; partner roles imply it"
    )
    password: str | None = Field(
        default=None,
        min_length=rules.MIN_PASSWORD,
        max_length=rules.MAX_PASSWORD,
        description="None: the user signs in with API tokens only",
    )


class UserOut(BaseModel):
    """A user (never its password)."""

    name: str
    role: Role
    scope_kind: ScopeKind | None
    scope: list[str]
    active: bool
    has_password: bool
    created_at: datetime


class AuditOut(BaseModel):
    """One audited write."""

    id: int
    at: datetime
    actor: str
    role: str
    via: str
    token_id: int | None
    remote: str | None
    command: str
    target: dict[str, Any]
    outcome: str


def _me(who: Principal) -> dict[str, Any]:
    scope = who.scope
    return {
        "name": who.name,
        "role": str(who.role),
        "via": who.via,
        "scope": ScopeOut(
            locations=sorted(scope.locations) if scope.locations is not None else None,
            channels=sorted(scope.channels) if scope.channels is not None else None,
            suppliers=sorted(scope.suppliers) if scope.suppliers is not None else None,
        ),
        "permissions": sorted(str(p) for p in PERMISSIONS[who.role]),
    }


def _token_out(view: TokenView) -> dict[str, Any]:
    return {
        "id": view.id, "user": view.user, "name": view.name, "prefix": view.prefix,
        "created_at": view.created_at, "expires_at": view.expires_at,
        "revoked_at": view.revoked_at, "last_used_at": view.last_used_at,
        "rate_limit": view.rate_limit,
    }  # fmt: skip


@router.post(
    "/session",
    status_code=status.HTTP_201_CREATED,
    dependencies=[PUBLIC],
    responses=error_responses(401, 429),
)
def sign_in(sf: Sf, body: SignIn, request: Request, response: Response) -> SessionOut:
    """Sign in with a name and password: sets the session cookie and answers its CSRF token.

    Ten attempts per user name, then one a minute (429 with Retry-After), so a
    password cannot be guessed at the server's speed.
    """
    limiter: RateLimiter = request.app.state.limiter
    limit = "ten sign-ins for one user name, then one a minute"
    limiter.spend(("sign-in", body.name.lower()), rate=1 / 60, burst=10, limit=limit)
    opened = sf.access.sign_in(body.name, body.password)
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        max_age=rules.SESSION_HOURS * 3600,
        path="/",
        secure=request.app.state.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return SessionOut(
        **_me(opened.signed.principal),
        csrf_token=opened.csrf,
        expires_at=opened.signed.expires_at,
    )


@router.get("/session", dependencies=[SIGNED_IN])
def whoami(who: Who) -> Me:
    """Who the caller is, its role's permissions and its scope."""
    return Me(**_me(who))


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, dependencies=[SIGNED_IN])
def sign_out(sf: Sf, request: Request, response: Response) -> None:
    """End the browser session this request was made with (a token caller has none)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        sf.access.sign_out(secret)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/tokens", dependencies=[SIGNED_IN])
def list_tokens(
    sf: Sf,
    who: Who,
    user: Annotated[str | None, Query(max_length=64, description="Another user's")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[TokenOut]:
    """The caller's own API tokens, newest first (a user administrator may ask for anyone's)."""
    if user is not None and user != who.name and not who.may(_USERS_READ):
        raise Forbidden("only a user administrator lists another user's tokens", field="user")
    page = sf.access.tokens(user or who.name, after=cursor, limit=limit)
    return page_of(Page[TokenOut], page, lambda t: TokenOut(**_token_out(t)))


@router.post("/tokens", status_code=status.HTTP_201_CREATED, dependencies=[SIGNED_IN])
def issue_token(sf: Sf, who: Who, body: TokenIn) -> IssuedTokenOut:
    """A new API token for the caller, with the caller's role and scope; shown this once."""
    if body.rate_limit is not None and not who.may(_USERS_WRITE):
        raise Forbidden("only a user administrator sets a token's rate limit", field="rate_limit")
    issued = sf.access.issue_token(
        who.name, body.name, days=body.expires_in_days, rate_limit=body.rate_limit
    )
    return IssuedTokenOut(**_token_out(issued.token), token=issued.secret)


@router.delete(
    "/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[SIGNED_IN]
)
def revoke_token(sf: Sf, who: Who, token_id: IdPath) -> None:
    """Revoke one of the caller's tokens (a user administrator: anyone's); it stops at once."""
    owner = None if who.may(_USERS_WRITE) else who.name
    sf.access.revoke_token(token_id, owner=owner)


def _user_out(view: UserView) -> UserOut:
    return UserOut(
        name=view.name, role=view.role, scope_kind=view.scope_kind, scope=list(view.scope),
        active=view.active, has_password=view.has_password, created_at=view.created_at,
    )  # fmt: skip


@router.get("/users", dependencies=[may(Resource.USERS, Action.READ)])
def list_users(sf: Sf, limit: Limit = 100, cursor: Cursor = None) -> Page[UserOut]:
    """Users by name, a page at a time."""
    return page_of(Page[UserOut], sf.access.users(after=cursor, limit=limit), _user_out)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    dependencies=[may(Resource.USERS, Action.WRITE)],
    responses=error_responses(409),
)
def add_user(sf: Sf, body: UserIn) -> UserOut:
    """Add a user; it signs in with its password, or with tokens issued to it."""
    view = sf.access.add_user(
        body.name, body.role, password=body.password, scope=body.scope,
        scope_kind=body.scope_kind,
    )  # fmt: skip
    return _user_out(view)


@router.post("/users/{name}/disable", dependencies=[may(Resource.USERS, Action.WRITE)])
def disable_user(sf: Sf, name: str) -> UserOut:
    """Stop a user: its sessions end and its tokens stop working, at once."""
    sf.access.set_active(name, False)
    return _user_out(sf.access.user(name))


@router.post("/users/{name}/enable", dependencies=[may(Resource.USERS, Action.WRITE)])
def enable_user(sf: Sf, name: str) -> UserOut:
    """Let a stopped user sign in again (with the tokens it still has)."""
    sf.access.set_active(name, True)
    return _user_out(sf.access.user(name))


@router.get("/audit", dependencies=[may(Resource.AUDIT, Action.READ)])
def audit_trail(
    sf: Sf,
    limit: Limit = 100,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    command: Annotated[
        str | None, Query(max_length=200, description="Part of it, e.g. 'orders' or 'POST'")
    ] = None,
    target: Annotated[
        str | None, Query(max_length=128, description="An id it touched, e.g. an order id")
    ] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Cursor = None,
) -> Page[AuditOut]:
    """Who changed what, newest first; filter by actor, command, object, time."""
    entries = sf.access.audit(
        actor=actor, command=command, target=target, since=since, until=until,
        after=cursor, limit=limit,
    )  # fmt: skip
    return page_of(Page[AuditOut], entries, lambda e: AuditOut(**asdict(e)))
