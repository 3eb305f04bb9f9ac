"""Every operation of the OpenAPI, fuzzed in-process against the real app on a small shop.

For requests generated from the document itself, valid and invalid alike, the
server answers no 5xx, no status the operation does not list, and bodies that
match the schema listed for their status. Lookups can succeed: the database
holds a small shop (see ``_small_shop``).

One kind of input is left out (``SLASH_IN_PATH_VALUES`` below): a ``/`` in a
path value makes another URL, which another route (or none) answers; codes
never hold one, so nothing is lost by not sending it.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
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

from helpers import stock_shop_over_http
from stockflow.api.app import _ROUTERS as ROUTERS
from stockflow.api.app import PREFIX, create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    # The test client warns about its HTTP library at import time; nothing to act on here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
MAX_EXAMPLES = 8
CHECKS = [
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


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    """The app's own OpenAPI, bound to the app so requests never leave the process."""
    path = tmp_path_factory.mktemp("fuzz") / "stockflow.db"
    shutil.copyfile(sqlite_template, path)
    sf = Stockflow.open(f"sqlite:///{path}", migrate_schema=False)
    app = create_app(sf)
    with TestClient(app) as client:
        _small_shop(client)
    schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)

    @schema.hook
    def filter_path_parameters(_: Any, path_parameters: dict[str, Any] | None) -> bool:
        return all(_sendable(value) for value in (path_parameters or {}).values())

    yield schema
    sf.close()


def _sendable(value: object) -> bool:
    """Whether a path value stays one path segment."""
    return not (isinstance(value, str) and SLASH_IN_PATH_VALUES in value)


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) the app serves, read from its route table without a database."""
    found = [("GET", f"{API}/health")]
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                found += [(m, f"{PREFIX}{route.path}") for m in sorted(route.methods)]
    return found


OPERATIONS = _operations()


def test_the_fuzzed_operations_are_every_operation_of_the_document(api_schema: Any) -> None:
    documented = {
        (m.upper(), p) for p, item in api_schema.raw_schema["paths"].items() for m in item
    }
    assert set(OPERATIONS) == documented


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_answer_is_documented_and_matches_its_schema(
    api_schema: Any, method: str, path: str
) -> None:
    """The document's own examples, its boundary values, then random valid and invalid requests.

    One test per operation, parametrized here rather than by the generator's own
    pytest loader: that loader renames test nodes through an attribute the pinned
    pytest no longer has.
    """

    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

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
