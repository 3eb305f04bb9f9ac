"""The outbox as the event tests read it: what was told, and what the positions say now."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from stockflow.adapters.tables import locations, outbox, positions, skus
from stockflow.bootstrap import Stockflow


@dataclass(frozen=True)
class Told:
    """One outbox row."""

    id: int
    topic: str
    version: int
    aggregate: str | None
    key: str | None
    scope: dict[str, list[str]] | None
    payload: dict[str, Any]


def told(sf: Stockflow, *, after: int = 0, topic: str | None = None) -> list[Told]:
    """Outbox rows after id ``after`` (of one topic), oldest first."""
    query = select(outbox).where(outbox.c.id > after).order_by(outbox.c.id)
    if topic is not None:
        query = query.where(outbox.c.topic == topic)
    with sf.db.read() as conn:
        return [
            Told(r.id, r.topic, r.version, r.aggregate, r.key, r.scope, r.payload)
            for r in conn.execute(query)
        ]


class Log:
    """Reads the outbox step by step: each ``new()`` answers what came since the last."""

    def __init__(self, sf: Stockflow) -> None:
        self.sf = sf
        self.seen = 0

    def new(self, *, stock: bool = False) -> list[Told]:
        """Rows since the last call; ``stock.changed`` left out unless ``stock``."""
        rows = told(self.sf, after=self.seen)
        if rows:
            self.seen = rows[-1].id
        return [r for r in rows if stock or r.topic != "stock.changed"]

    def one(self, topic: str, rows: list[Told]) -> Told:
        """The one row of ``topic`` among ``rows``."""
        found = [r for r in rows if r.topic == topic]
        assert len(found) == 1, [(r.topic, r.key) for r in rows]
        return found[0]


def last_stock_changed(sf: Stockflow) -> dict[str, dict[str, Any]]:
    """The payload of the latest ``stock.changed`` row per key ("SKU@LOCATION")."""
    latest: dict[str, dict[str, Any]] = {}
    for row in told(sf, topic="stock.changed"):
        assert row.key is not None
        latest[row.key] = row.payload
    return latest


def totals(sf: Stockflow) -> dict[str, dict[str, Any]]:
    """What the positions hold now per "SKU@LOCATION", shaped as a ``stock.changed`` payload."""
    query = (
        select(
            skus.c.code,
            locations.c.code,
            func.sum(positions.c.on_hand),
            func.sum(positions.c.allocated),
        )
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(locations, locations.c.id == positions.c.location_id)
        .group_by(skus.c.code, locations.c.code)
    )
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    with sf.db.read() as conn:
        for sku, location, on_hand, allocated in conn.execute(query):
            on_hand, allocated = int(on_hand), int(allocated)
            out[f"{sku}@{location}"] = {
                "sku": sku,
                "location": location,
                "on_hand": on_hand,
                "allocated": allocated,
                "available": on_hand - allocated,
            }
    return dict(out)


def assert_last_told_is_now(sf: Stockflow, *, after: str = "") -> None:
    """For every SKU and location, the latest ``stock.changed`` says what the positions hold.

    A position never changed since it was made empty has no event, and needs none.
    ``after`` says what was done last, for the message.
    """
    latest, now = last_stock_changed(sf), totals(sf)
    for key, held in now.items():
        if key not in latest:
            assert (held["on_hand"], held["allocated"]) == (0, 0), (after, key)
            continue
        assert latest[key] == held, (after, key)
    assert set(latest) <= set(now), after
