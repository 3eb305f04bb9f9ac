"""Cost fields: shown only to roles that see costs, taken only from roles that set them.

What a unit costs us, or what a carrier charged for a parcel, is the
business's own figure. A role that may not see it reads ``null`` in its
place; a role that may not set it is refused when it sends one, by the
field's name, rather than having the figure silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel

from stockflow.errors import Forbidden
from stockflow.stock.rules.access import Principal

M = TypeVar("M", bound=BaseModel)


def refuse_costs(who: Principal, sent: Iterable[str]) -> None:
    """Refuse the first cost field in ``sent`` (field paths) unless ``who`` may set costs."""
    if who.sets_costs:
        return
    for field in sent:
        raise Forbidden(f"the {who.role} role may not set costs", field=field)


def without_costs(who: Principal, body: M, **blank: object) -> M:
    """``body`` as ``who`` may read it: the ``blank`` fields replaced unless it sees costs."""
    return body if who.sees_costs else body.model_copy(update=blank)
