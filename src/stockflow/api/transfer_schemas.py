"""Request and response bodies for transfers between locations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from stockflow.api.schemas import Body, Code, LineNo, LotCode, Out, Qty, Units


class TransferLineIn(Body):
    sku: Code
    qty: Qty
    lot: LotCode | None = Field(
        default=None, description="Only this lot; without one, first-expiring lots go first"
    )


class TransferIn(Body):
    from_location: Code = Field(alias="from", description="Location the units leave")
    to_location: Code = Field(alias="to", description="Location they are sent to")
    expected_on: date = Field(description="When the destination may count on them")
    lines: Annotated[list[TransferLineIn], Field(min_length=1, max_length=500)]


class ReceiveLineIn(Body):
    line_no: LineNo
    received: Units = Field(description="Every unit that arrived, damaged ones included")
    damaged: Units = Field(default=0, description="Of those received, how many are damaged")


class ReceiveIn(Body):
    lines: Annotated[list[ReceiveLineIn], Field(min_length=1, max_length=500)]


class TransferLineOut(Out):
    line_no: int
    sku: str
    lot: str | None
    shipped: int
    received: int
    damaged: int
    lost: int
    over: int


class TransferOut(Out):
    id: str
    from_location: str = Field(serialization_alias="from")
    to_location: str = Field(serialization_alias="to")
    status: str
    expected_on: date
    created_by: str
    created_at: datetime
    updated_at: datetime
    received_at: datetime | None
    lines: list[TransferLineOut]
