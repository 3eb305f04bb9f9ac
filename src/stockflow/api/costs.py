"""Cost fields are taken only from roles that set them.

What a unit costs us, or what a carrier charged for a parcel, is the
business's own figure. A role that may not set it is refused when it sends
one, by the field's name, rather than having the figure silently dropped;
a role that may not see it reads ``null`` in its place (each body's
``seen_by``).
"""

from __future__ import annotations

from collections.abc import Iterable

from stockflow.errors import Forbidden
from stockflow.stock.rules.access import Principal


def refuse_costs(who: Principal, sent: Iterable[str]) -> None:
    """Refuse the first cost field in ``sent`` (field paths) unless ``who`` may set costs."""
    if who.sets_costs:
        return
    for field in sent:
        raise Forbidden(f"the {who.role} role may not set {field}", field=field)
