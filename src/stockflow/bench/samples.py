"""Values to fill a route's parameters with: real keys from the database or from lists.

A parameter named like a table (``/orders/{order_id}``: the ``orders`` table;
``?sku=``: ``skus``) takes random keys of that table (its column of that name,
else ``code``, else ``id``), spread over the whole table rather than the
first rows. Otherwise it takes values from the items the lists answered: the
parent list's (``/webhooks/{subscription_id}``: ``id`` of ``/webhooks``), or
any list item with a field of the parameter's name (unless that name is as
general as ``code`` or ``id``).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from stockflow.adapters.database import Database
from stockflow.adapters.tables import metadata
from stockflow.bench.api_map import Param

KEEP = 200  # items kept per list, sampled evenly from every page read
DRAW = 50  # keys drawn per table
_GENERIC = frozenset({"code", "id", "key"})


class Samples:
    """Items seen in the lists' answers, and keys drawn from the database."""

    def __init__(self, db: Database, *, seed: int = 1) -> None:
        self._db = db
        self._rng = random.Random(seed)
        self._items: dict[str, list[dict[str, Any]]] = {}
        self._seen: dict[str, int] = {}

    def add(self, path: str, items: list[Any]) -> None:
        """Keep a fair sample of ``items`` answered by the list at ``path``."""
        kept = self._items.setdefault(path, [])
        for item in items:
            if not isinstance(item, dict):
                continue
            seen = self._seen[path] = self._seen.get(path, 0) + 1
            if len(kept) < KEEP:
                kept.append(item)
            elif (slot := self._rng.randrange(seen)) < KEEP:
                kept[slot] = item

    def values(self, name: str, parent: str | None = None) -> list[str]:
        """Candidate values for parameter ``name`` of a route under list ``parent``."""
        segment = parent.rstrip("/").rsplit("/", 1)[-1] if parent else None
        tables = [segment.replace("-", "_")] if segment else []
        tables += [f"{name}s", f"{name.removesuffix('_id')}s"]
        for table in tables:
            found = self._from_table(table, name)
            if found:
                return found
        if parent is not None:
            for field in (name, "id", "code", "key"):
                found = self._field(self._items.get(parent, []), field)
                if found:
                    return found
        if name in _GENERIC:  # a code of what? only the parent could say
            return []
        return self._field([i for items in self._items.values() for i in items], name)

    def fill(self, param: Param) -> str | None:
        """A value for a required query parameter, or None when there is none to give."""
        today = date.today()
        schema = param.schema
        if schema.get("format") == "date":
            start = param.name in ("start", "since", "from")
            return (today - timedelta(days=365) if start else today).isoformat()
        if schema.get("type") == "integer":
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
            return str(max(1, int(low)))
        found = self.values(param.name)
        return found[0] if found else None

    def _from_table(self, table: str, name: str) -> list[str]:
        t = metadata.tables.get(table)
        if t is None:
            return []
        column = next((t.c[c] for c in (name, "code", "id") if c in t.c), None)
        if column is None:
            return []
        with self._db.read() as conn:
            rows = conn.execute(select(column).order_by(func.random()).limit(DRAW)).scalars()
            return [str(v) for v in rows if v is not None]

    def _field(self, items: list[dict[str, Any]], field: str) -> list[str]:
        found = {str(i[field]) for i in items if isinstance(i.get(field), str | int)}
        return sorted(found)[:DRAW]
