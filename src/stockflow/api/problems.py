"""Errors as RFC 9457 problem+json documents that name the field at fault."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic_core import to_json
from starlette.exceptions import HTTPException

from stockflow.api.schemas import Problem
from stockflow.errors import NotSignedIn, StockflowError, TooManyRequests
from stockflow.stock.rules.access import Principal

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("stockflow.api")


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """A problem+json response."""
    return Response(problem_body(status, title, detail, **extra), status, media_type=PROBLEM_JSON)


def problem_body(status: int, title: str, detail: str, **extra: Any) -> bytes:
    """A problem document as JSON bytes; members that are None are left out."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return to_json(body)


def domain_problem(exc: StockflowError) -> Response:
    """The problem document for a refusal of the domain (unknown SKU, not enough stock...)."""
    response = Response(domain_problem_body(exc), exc.status, media_type=PROBLEM_JSON)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, NotSignedIn):
        response.headers["WWW-Authenticate"] = 'Bearer realm="stockflow"'
    return response


def domain_problem_body(exc: StockflowError) -> bytes:
    """``domain_problem``'s document alone, as JSON bytes."""
    return problem_body(
        exc.status, exc.title, exc.detail, field=exc.field, row=exc.row, **exc.extra()
    )


def too_large_problem(limit: int) -> Response:
    """The problem document for a request body over the size limit (nothing was read into use)."""
    return problem(
        413, "Content Too Large", f"the request body may be at most {limit:,} bytes", limit=limit
    )


def unexpected_problem() -> Response:
    """The problem document for an error nobody foresaw (it is logged, not shown)."""
    return problem(500, "Internal error", "something went wrong; nothing was changed")


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "lines", 0, "qty")`` -> ``lines[0].qty``."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for these error statuses, each a problem document."""
    return {code: {"model": Problem} for code in codes}


def field_error(error: Mapping[str, Any]) -> dict[str, str | None]:
    """One validation error as ``{field, message}``."""
    if error.get("type") == "json_invalid":
        # Its location is a character offset into the body, not a field.
        reason = error.get("ctx", {}).get("error")
        return {"field": None, "message": f"the body is not valid JSON ({reason or 'unreadable'})"}
    return {"field": field_path(error.get("loc", ())), "message": error.get("msg", "invalid")}


# Statuses every operation of a given shape can answer, whatever its decorator lists:
# what the body parser, the size limit, request validation and the last-resort
# handler send are decided here once, so a new route is documented without a word.
_BODY_STATUSES = {
    "400": "The body is not readable: not JSON, invalid UTF-8, or nested absurdly deep",
    "413": "The body is longer than the size limit (STOCKFLOW_MAX_BODY_BYTES)",
}
_INVALID = "Invalid input: every field at fault is named in ``errors``"
_UNEXPECTED = "An unforeseen error; it is logged, and the body gives no details"
_KEY_REUSED = "A clash with the current state, or the Idempotency-Key was used for another request"
_REPLAY = "The first answer again: the Idempotency-Key was used for this request before"


def problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` listing every status an operation can answer, errors as problem+json."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        # The framework's own 422 body is never sent: ours is a problem document.
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        for item in schema["paths"].values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                _drop_framework_422(responses)
                implied = implied_responses(operation)
                responses.update({k: v for k, v in implied.items() if k not in responses})
                for code, response in responses.items():
                    content = response.get("content", {})
                    if code[:1] in ("4", "5") and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
        return schema

    return openapi


def implied_responses(operation: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The responses an operation's shape implies: its body, its inputs, its idempotency key.

    An operation's own statuses win over these where both are listed.
    """
    implied: dict[str, dict[str, Any]] = {"500": _problem_response(_UNEXPECTED)}
    if "requestBody" in operation:
        implied.update({code: _problem_response(why) for code, why in _BODY_STATUSES.items()})
    if "requestBody" in operation or operation.get("parameters"):
        implied["422"] = _problem_response(_INVALID)
    responses = operation.get("responses", {})
    keyed = any(
        p.get("in") == "header" and p.get("name") == "Idempotency-Key"
        for p in operation.get("parameters", ())
    )
    if keyed:
        implied["409"] = _problem_response(_KEY_REUSED)
    if keyed and "201" in responses:
        implied["200"] = {**responses["201"], "description": _REPLAY}
    return implied


def _drop_framework_422(responses: dict[str, Any]) -> None:
    """Remove the 422 the framework adds by itself: it describes a body that is never sent."""
    content = responses.get("422", {}).get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    if ref.endswith("/HTTPValidationError"):
        del responses["422"]


def _problem_response(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json.

    OpenAPI learns of them through ``problem_openapi``, installed once every route
    and every other step that edits the document is in place.
    """

    @app.exception_handler(StockflowError)
    async def _domain(_: Request, exc: StockflowError) -> Response:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [field_error(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        detail = (
            f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
        )
        return problem(422, "Invalid input", detail, field=first["field"], errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        limit = app.max_body_size
        if exc.status_code == 413 and limit is not None:  # a streamed body ran over
            return too_large_problem(limit)
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        who = _described(request.scope.get("state", {}).get("caller"))
        log.exception("unhandled error on %s %s for %s", request.method, request.url.path, who)
        return unexpected_problem()


def _described(caller: object) -> str:
    """The caller in a few words for a log line, even for a request that never got one."""
    return repr(caller.name) if isinstance(caller, Principal) else "no caller"
