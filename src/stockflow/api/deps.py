"""Named FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from stockflow.api import guard
from stockflow.api.schemas import MAX_LINE_NO, MAX_ROW_ID
from stockflow.bootstrap import Stockflow


async def _stockflow(request: Request) -> Stockflow:
    app: Stockflow = request.app.state.stockflow
    return app


Sf = Annotated[Stockflow, Depends(_stockflow)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Send the same key again and the request takes effect only once",
    ),
]
# Who acts: the signed-in caller's name, under which its ledger moves are written.
Actor = Annotated[str, Depends(guard.actor)]
# Every numeric id or line number in a path: out of its column's range it is a 422, not a 500.
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
LineNoPath = Annotated[int, Path(ge=1, le=MAX_LINE_NO)]
