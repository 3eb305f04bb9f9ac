"""The one shape of every list the API answers: a page of items and the cursor of the next page.

Every GET that answers a list takes ``?limit=`` (``Limit``) and ``?cursor=``
(``Cursor``) and answers ``Page[ItemOut]``: ``{"items": [...], "next": ...}``.
``tests/api/test_pages.py`` walks the OpenAPI document and fails on a list
answered any other way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from stockflow.adapters import paging

T = TypeVar("T")
V = TypeVar("V")

MAX_PAGE = paging.MAX_PAGE
DEFAULT_PAGE = paging.DEFAULT_PAGE

Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PAGE,
        description=f"Page size: how many items at most (1 to {MAX_PAGE}; "
        f"{DEFAULT_PAGE} when left out)",
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2000,
        description="Where the page starts: the `next` of the page before, sent back as it came. "
        "Left out: the first page",
    ),
]

NEXT = (
    "The cursor of the next page: send it back as `cursor`, with the same filters. "
    "Null on the last page"
)


class Page(BaseModel, Generic[T]):
    """One page of a list, in the list's stable order.

    Send ``next`` back as ``cursor`` for the page after it; ``next`` is null
    on the last page. Cursors are opaque, belong to one list, and stay valid:
    rows added meanwhile never shift a page boundary.
    """

    items: list[T] = Field(description="This page's items, in the list's order")
    next: str | None = Field(description=NEXT)

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        (item,) = params
        name = getattr(item, "__name__", "Item")
        return f"{name.removesuffix('Out')}Page"


P = TypeVar("P", bound=Page[Any])


def page_of(model: type[P], page: paging.Page[V], convert: Callable[[V], Any]) -> P:
    """A page of the read side as ``model`` (``Page[ItemOut]``), each item converted."""
    return model(items=[convert(item) for item in page.items], next=page.next)
