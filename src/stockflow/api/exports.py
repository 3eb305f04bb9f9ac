"""Routes of exports: ``GET /exports/{what}``, every row of a list streamed as CSV or NDJSON.

One route per entry of the registry (``bootstrap.export_table``), each
declaring the permission of the list it exports, so the permission table,
the OpenAPI document and the permission matrix see each export as they see
its list. The rows are what the caller's scope sees, read in chunks as the
answer is sent: server memory does not grow with the table.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from stockflow.api.deps import Sf
from stockflow.api.guard import Who, may
from stockflow.bootstrap import export_table
from stockflow.stock.exports import Export
from stockflow.stock.rules.access import Action

router = APIRouter(tags=["exports"])

Format = Annotated[
    Literal["csv", "ndjson"],
    Query(
        alias="format",
        description="csv: RFC 4180 with a header line, UTF-8; ndjson: one JSON object per line",
    ),
]


def _responses(export: Export) -> dict[int | str, dict[str, Any]]:
    text = {"schema": {"type": "string"}}
    return {
        200: {
            "description": f"{export.description}; columns: {', '.join(export.columns)}",
            "content": {"text/csv": text, "application/x-ndjson": text},
        }
    }


def _add(export: Export) -> None:
    def download(sf: Sf, who: Who, fmt: Format = "csv") -> StreamingResponse:
        media_type, body = sf.export(export.name, who, fmt=fmt)
        disposition = f'attachment; filename="{export.name}.{fmt}"'
        return StreamingResponse(
            body, media_type=media_type, headers={"Content-Disposition": disposition}
        )

    download.__doc__ = f"{export.description}, streamed (scoped and priced as its list)."
    router.add_api_route(
        f"/exports/{export.name}",
        download,
        methods=["GET"],
        name=f"export_{export.name}",
        operation_id=f"export_{export.name}",
        dependencies=[may(export.resource, Action.READ)],
        response_class=StreamingResponse,
        responses=_responses(export),
    )


for _export in export_table():
    _add(_export)
