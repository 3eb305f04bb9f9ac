"""The operations of the app's own OpenAPI document as test data: how to call each, what it needs.

The permission and scope matrices walk these rather than a list written out,
so a route added later is in them without a word. Path values are made up
(of the type the document gives them) unless a test names real ones, and a
body is the smallest one the document accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from helpers import bearer
from stockflow.adapters.tables import audit_log, metadata
from stockflow.api.guard import PERMISSION_KEY
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import PERMISSIONS, Action, Permission, Resource, Role

METHODS = ("get", "post", "put", "patch", "delete")
PUBLIC, SIGNED_IN = "public", "signed-in"
MADE_UP = {"integer": "987654", "string": "NOSUCH"}  # path values nothing in the database has
# Operations that answer for as long as the caller listens, asked to end at once.
ENDS_WHEN_ASKED = {"/api/v1/events/stream": "?max_seconds=0.05"}


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the document: how to call it, and what its label says it needs."""

    method: str
    path: str
    label: str  # x-stockflow-permission: "orders:read", "signed-in" or "public"
    path_types: dict[str, str]  # parameter -> its JSON type
    body: Any = field(default=None)  # the smallest body it accepts; None: it takes none

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def changes(self) -> bool:
        """Whether it is a write (anything but a GET)."""
        return self.method != "GET"

    def url(self, values: Mapping[str, str] | None = None) -> str:
        """The path with ``values`` filled in, every other parameter made up."""
        url = self.path
        for name, kind in self.path_types.items():
            url = url.replace(f"{{{name}}}", (values or {}).get(name, MADE_UP[kind]))
        return url

    def allows(self, role: Role) -> bool:
        """Whether the permission table lets ``role`` call it."""
        if self.label in (PUBLIC, SIGNED_IN):
            return True
        resource, _, action = self.label.partition(":")
        return Permission(Resource(resource), Action(action)) in PERMISSIONS[role]

    def call(
        self, client: Any, token: str, values: Mapping[str, str] | None = None, *, fit: bool = False
    ) -> Any:
        """The request, signed in with ``token``; a write sends an empty JSON object, or with
        ``fit`` the smallest body the document accepts."""
        body = None
        if self.method in ("POST", "PUT", "PATCH"):
            body = self.body if fit else {}
        url = self.url(values) + ENDS_WHEN_ASKED.get(self.path, "")
        return client.request(self.method, url, json=body, headers=bearer(token))


def operations(doc: dict[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document."""
    found = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            types = {
                p["name"]: p["schema"]["type"]
                for p in operation.get("parameters", ())
                if p["in"] == "path"
            }
            content = operation.get("requestBody", {}).get("content", {})
            body = (
                smallest(content["application/json"]["schema"], doc)
                if "application/json" in content
                else None
            )
            label = operation.get(PERMISSION_KEY, "")
            found.append(Operation(method.upper(), path, label, types, body))
    return found


def smallest(schema: Mapping[str, Any], doc: Mapping[str, Any]) -> Any:
    """The smallest value ``schema`` accepts: required members only, minimal numbers and strings."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return smallest(doc["components"]["schemas"][name], doc)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return smallest(options[0], doc)
    kind = schema.get("type")
    if kind == "object":
        members = schema.get("properties", {})
        return {name: smallest(members[name], doc) for name in schema.get("required", ())}
    if kind == "array":
        return [smallest(schema["items"], doc) for _ in range(max(1, schema.get("minItems", 0)))]
    if kind in ("integer", "number"):
        if "minimum" in schema:
            return max(int(schema["minimum"]), 1)
        return int(schema.get("exclusiveMinimum", 0)) + 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2030-01-01"
    if schema.get("format") == "date-time":
        return "2030-01-01T00:00:00Z"
    return "X" * max(1, schema.get("minLength", 1))


def snapshot(sf: Stockflow) -> dict[str, list[str]]:
    """Every row of every table but the audit trail; when a token was last used aside."""
    found = {}
    with sf.db.read() as conn:
        for table in metadata.sorted_tables:
            if table is audit_log:
                continue
            columns = [c for c in table.columns if c.name != "last_used_at"]
            found[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(*columns)))
    return found


def last_audit_id(sf: Stockflow) -> int:
    """The id of the newest audit row (0 for none)."""
    with sf.db.read() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).scalar_one())


def audit_since(sf: Stockflow, last: int) -> list[tuple[str, str, str, str]]:
    """(actor, role, command, outcome) of every audit row written after row ``last``."""
    columns = (audit_log.c.actor, audit_log.c.role, audit_log.c.command, audit_log.c.outcome)
    with sf.db.read() as conn:
        rows = conn.execute(select(*columns).where(audit_log.c.id > last).order_by(audit_log.c.id))
        return [(r.actor, r.role, r.command, r.outcome) for r in rows]
