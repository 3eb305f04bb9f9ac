"""Small builders shared by tests: a few places and SKUs, stock on hand."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from stockflow.adapters.paging import MAX_PAGE, every
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import Role
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku
from stockflow.stock.rules.commands import Place, PostMove


def setup_places(sf: Stockflow, *locations: str) -> None:
    """Warehouses with the given codes, each with bins A-01 and A-02."""
    codes = locations or ("WH1",)
    sf.add_locations([NewLocation(code, f"Warehouse {code}") for code in codes])
    sf.add_bins(
        [NewBin(code, b, "A", n) for code in codes for n, b in enumerate(("A-01", "A-02"), 1)]
    )


def add_sku(sf: Stockflow, code: str, *, lot_tracked: bool = False) -> None:
    """One SKU."""
    sf.add_skus([NewSku(code, f"Item {code}", lot_tracked=lot_tracked)])


def receive(
    sf: Stockflow,
    sku: str,
    qty: int,
    location: str = "WH1",
    *,
    bin: str | None = None,
    lot: str | None = None,
    expires_on: date | None = None,
) -> None:
    """Receive ``qty`` units into a place."""
    sf.post_move(
        PostMove(sku, qty, "receipt", target=Place(location, bin, lot), lot_expires_on=expires_on)
    )


def write_sheet(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    """Write rows to a .csv (UTF-8) or an .xlsx file (typed cells), by the path's suffix."""
    if path.suffix == ".xlsx":
        book = Workbook()
        sheet = book.worksheets[0]
        for row in rows:
            sheet.append(list(row))
        book.save(path)
        return path
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(["" if cell is None else cell for cell in row] for row in rows)
    return path


JOIN_TIMEOUT = 60.0  # a thread still running after this is stuck: a deadlock or a lost wake-up


def run_in_threads(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(n)`` on ``count`` threads at once; re-raise the first error any of them hit."""
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {JOIN_TIMEOUT}s: {stuck}"
    if errors:
        raise errors[0]


PROBLEM_JSON = "application/problem+json"


def created(resp: Any) -> dict[str, Any]:
    """The JSON body of a 201 answer."""
    assert resp.status_code == 201, resp.text
    assert resp.headers["content-type"] == "application/json"
    body: dict[str, Any] = resp.json()
    return body


def items(resp: Any) -> list[Any]:
    """The items of a 200 answer that holds a whole (short) list on its one page."""
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["next"] is None, "the list goes on past this page"
    found: list[Any] = body["items"]
    return found


def problem(resp: Any, status: int) -> dict[str, Any]:
    """The problem document of an error response, checked against RFC 9457's shape."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["detail"]
    return body


def stock_shop_over_http(client: Any, api: str = "/api/v1") -> None:
    """Through the API: WH1 (bins MAIN, A-01) with 10 of SKU A and 4 of SKU B in MAIN."""
    created(client.post(f"{api}/skus", json={"code": "A", "name": "Bolt"}))
    created(client.post(f"{api}/skus", json={"code": "B", "name": "Nut"}))
    created(client.post(f"{api}/locations", json={"code": "WH1", "name": "Main"}))
    created(client.post(f"{api}/locations/WH1/bins", json={"code": "A-01", "sequence": 1}))
    for sku, qty in (("A", 10), ("B", 4)):
        created(
            client.post(
                f"{api}/moves",
                json={"sku": sku, "qty": qty, "reason": "receipt", "to": {"location": "WH1"}},
            )
        )


def token_for(
    sf: Stockflow,
    name: str = "admin",
    role: Role = Role.ADMIN,
    scope: Sequence[str] = (),
    *,
    rate_limit: int | None = None,
) -> str:
    """A fresh API token of user ``name``, made with ``role`` and ``scope`` on first use."""
    known = {u.name for u in every(lambda after: sf.access.users(after=after, limit=MAX_PAGE))}
    if name not in known:
        sf.access.add_user(name, role, scope=scope)
    return sf.access.issue_token(name, "tests", rate_limit=rate_limit).secret


def bearer(token: str) -> dict[str, str]:
    """The header that signs a request in with ``token``."""
    return {"Authorization": f"Bearer {token}"}


def signed_in(
    client: Any, name: str, role: Role = Role.MANAGER, scope: Sequence[str] = ()
) -> dict[str, str]:
    """Headers signing a request of ``client`` in as user ``name`` (made on first use)."""
    return bearer(token_for(client.app.state.stockflow, name, role, scope))


def api_client(
    app: Any, name: str = "admin", role: Role = Role.ADMIN, scope: Sequence[str] = ()
) -> Any:
    """A test client for ``app`` whose requests are signed in as ``name`` (an admin by default)."""
    from fastapi.testclient import TestClient

    token = token_for(app.state.stockflow, name, role, scope)
    return TestClient(app, headers=bearer(token))


@contextmanager
def serving(app: Any) -> Iterator[int]:
    """A real HTTP server around ``app`` on a free port, in a thread; yields the port."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
