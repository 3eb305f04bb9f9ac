"""Every operation of the OpenAPI, fuzzed in-process against the real app on a small shop.

For requests generated from the document itself, valid and invalid alike, the
server answers no 5xx, no status the operation does not list, and bodies that
match the schema listed for their status. Lookups can succeed: the database
holds a small shop (see ``_small_shop``).

Every request is signed in, so none is turned away at the door (a 401 fails
the run): once as an administrator, over every operation, and once as a
marketplace partner limited to the channel ``0``, over the operations its
role may call that need a caller, where what it sees is narrowed to its scope. Both tokens are
allowed far more requests a second than the fuzzer sends, so order capture
and reservations are fuzzed rather than rate-limited.

Two kinds of input are left out. A ``/`` in a path value
(``SLASH_IN_PATH_VALUES`` below) makes another URL, which another route (or
none) answers; codes never hold one, so nothing is lost by not sending it.
And a request to revoke a fuzzing token or stop a fuzzing user is not sent:
it would sign every later request out (any other token or user is fuzzed).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from pydantic import TypeAdapter, ValidationError
from schemathesis.checks import not_a_server_error
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.exceptions import StarletteDeprecationWarning

from helpers import bearer, stock_shop_over_http, token_for
from stockflow.api.app import _ROUTERS as ROUTERS
from stockflow.api.app import PREFIX, create_app
from stockflow.api.guard import declaration
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import PERMISSIONS, Role

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
MAX_EXAMPLES = 8
PARTNER = Role.MARKETPLACE
PARTNER_CHANNEL = "0"
UNLIMITED = 1_000_000  # requests a second for the fuzzing tokens
AN_ID = TypeAdapter(int)


SIGNING_IN = f"POST {API}/session"  # its own 401 is for a wrong name or password


def signed_in(_: Any, response: Any, case: Any) -> None:
    """The request got past the door: the fuzzer's credentials are always good."""
    if response.status_code == 401 and case.operation.label != SIGNING_IN:
        raise AssertionError(f"{case.operation.label} answered 401 to a signed-in request")


CHECKS = [
    signed_in,
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# A ``/`` inside a value sent as a path segment makes another URL; only path
# values holding one are left out.
SLASH_IN_PATH_VALUES = "/"


def _small_shop(client: TestClient) -> None:
    """WH1 (bins MAIN, A-01) with SKUs A and B, and everything again under the code ``0``.

    ``0`` is the simplest string the generator draws for a code, so requests
    naming it find a SKU with stock, a location, a channel, a customer and a
    supplier, and go on past the lookup into the rules behind it.
    """
    stock_shop_over_http(client, API)
    for path, body in (
        ("/skus", {"code": "0", "name": "Zero"}),
        ("/locations", {"code": "0", "name": "Zero"}),
        ("/locations/0/bins", {"code": "0", "sequence": 1}),
        ("/moves", {"sku": "0", "qty": 50, "reason": "receipt", "to": {"location": "0"}}),
        ("/channels", {"code": "0", "name": "Zero"}),
        ("/customers", {"code": "0", "name": "Zero"}),
        ("/suppliers", {"code": "0", "name": "Zero", "lead_time_days": 3}),
    ):
        resp = client.post(f"{API}{path}", json=body)
        assert resp.status_code == 201, resp.text


@dataclass(frozen=True, slots=True)
class Fuzzed:
    """The app's OpenAPI document, and a token of each role that fuzzes it."""

    schema: Any
    tokens: dict[Role, str]
    token_ids: frozenset[int]
    users: frozenset[str]  # lower case

    def signs_itself_out(self, case: Any) -> bool:
        """Whether ``case`` would revoke a fuzzing token or stop a fuzzing user."""
        values = case.path_parameters or {}
        user = values.get("name")
        if isinstance(user, str) and user.lower() in self.users:
            return True
        token = values.get("token_id")
        try:  # read as the route reads it: "01" and "1.0" are token 1
            return token is not None and AN_ID.validate_python(token) in self.token_ids
        except ValidationError:
            return False


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Fuzzed]:
    """The app's own OpenAPI, bound to the app so requests never leave the process."""
    path = tmp_path_factory.mktemp("fuzz") / "stockflow.db"
    shutil.copyfile(sqlite_template, path)
    sf = Stockflow.open(f"sqlite:///{path}", migrate_schema=False)
    app = create_app(sf)
    admin = token_for(sf, "admin", Role.ADMIN, rate_limit=UNLIMITED)
    with TestClient(app, headers=bearer(admin)) as client:
        _small_shop(client)
    partner = token_for(sf, "partner", PARTNER, [PARTNER_CHANNEL], rate_limit=UNLIMITED)
    schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)

    @schema.hook
    def filter_path_parameters(_: Any, path_parameters: dict[str, Any] | None) -> bool:
        return all(_sendable(value) for value in (path_parameters or {}).values())

    tokens = sf.access.tokens()
    yield Fuzzed(
        schema,
        {Role.ADMIN: admin, PARTNER: partner},
        token_ids=frozenset(t.id for t in tokens),
        users=frozenset(t.user.lower() for t in tokens),
    )
    sf.close()


def _sendable(value: object) -> bool:
    """Whether a path value stays one path segment."""
    return not (isinstance(value, str) and SLASH_IN_PATH_VALUES in value)


def _operations(role: Role, *, public: bool = True) -> list[tuple[str, str]]:
    """Every (method, path) ``role`` may call, from the app's route table (no database needed).

    Without ``public``, only those that need a caller: the rest answer anyone alike.
    """
    found = [("GET", f"{API}/health")] if public else []
    for router in ROUTERS:
        for route in router.routes:
            if not (isinstance(route, APIRoute) and route.include_in_schema):
                continue
            needs = declaration(route.path, route)
            if needs.public and not public:
                continue
            if needs.permission is None or needs.permission in PERMISSIONS[role]:
                found += [(m, f"{PREFIX}{route.path}") for m in sorted(route.methods)]
    return found


# The live stream answers for as long as the caller listens: a fuzzer's call would never
# return. Its errors and its frames are held to the document in tests/api/test_event_stream.py.
NEVER_ENDS = {("GET", f"{API}/events/stream")}
OPERATIONS = [op for op in _operations(Role.ADMIN) if op not in NEVER_ENDS]
PARTNER_OPERATIONS = [op for op in _operations(PARTNER, public=False) if op not in NEVER_ENDS]
RUNS = [(Role.ADMIN, *op) for op in OPERATIONS] + [(PARTNER, *op) for op in PARTNER_OPERATIONS]


def test_the_fuzzed_operations_are_every_operation_of_the_document(fuzzed: Fuzzed) -> None:
    paths = fuzzed.schema.raw_schema["paths"]
    documented = {(m.upper(), p) for p, item in paths.items() for m in item}
    assert set(OPERATIONS) | NEVER_ENDS == documented
    # The partner's run covers what its role may do, and its role's scoped paths among it.
    assert 20 < len(PARTNER_OPERATIONS) < len(OPERATIONS)
    assert {("GET", f"{API}/orders/{{order_id}}"), ("POST", f"{API}/orders")} <= set(
        PARTNER_OPERATIONS
    )


@pytest.mark.slow
@pytest.mark.parametrize(("role", "method", "path"), RUNS)
def test_every_answer_is_documented_and_matches_its_schema(
    fuzzed: Fuzzed, role: Role, method: str, path: str
) -> None:
    """The document's own examples, its boundary values, then random valid and invalid requests.

    One test per operation and role, parametrized here rather than by the
    generator's own pytest loader: that loader renames test nodes through an
    attribute the pinned pytest no longer has. The token goes in as a header of
    every call, over whatever credentials the generator drew from the
    document's security schemes.
    """
    signed = bearer(fuzzed.tokens[role])

    def answers_as_documented(case: Any) -> None:
        if not fuzzed.signs_itself_out(case):
            case.call_and_validate(headers=signed, checks=CHECKS)

    api_schema = fuzzed.schema
    config = HypothesisTestConfig(
        project=api_schema.config,
        modes=list(HypothesisTestMode),
        settings=settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
    operation = api_schema[path][method]
    create_test(operation=operation, test_func=answers_as_documented, config=config)()
