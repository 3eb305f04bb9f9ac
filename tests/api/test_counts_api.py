"""Cycle counts over HTTP and from the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from helpers import api_client, signed_in
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app as cli

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from test_orders_api import API, created, ok, problem, verified

ZONE_A = {"kind": "zone", "zone": "A"}


def today() -> date:
    """Today as the app's clock sees it (UTC)."""
    return datetime.now(UTC).date()


@pytest.fixture
def client(sf: Stockflow) -> Iterator[TestClient]:
    with api_client(create_app(sf)) as test_client:
        yield test_client


@pytest.fixture
def aisle(client: TestClient) -> TestClient:
    """WH1 with bins A-01, A-02 (zone A): 100 BOLT in A-01, 10 NUT in A-02."""
    for sku in ("BOLT", "NUT"):
        created(client.post(f"{API}/skus", json={"code": sku, "name": sku.title()}))
    created(client.post(f"{API}/locations", json={"code": "WH1", "name": "Main"}))
    for n, code in enumerate(("A-01", "A-02"), start=1):
        created(
            client.post(
                f"{API}/locations/WH1/bins", json={"code": code, "zone": "A", "sequence": n}
            )
        )
    for sku, qty, bin_code in (("BOLT", 100, "A-01"), ("NUT", 10, "A-02")):
        created(
            client.post(
                f"{API}/moves",
                json={
                    "sku": sku,
                    "qty": qty,
                    "reason": "receipt",
                    "to": {"location": "WH1", "bin": bin_code},
                },
            )
        )
    return client


def open_count(client: TestClient, **extra: Any) -> dict[str, Any]:
    body = {"location": "WH1", "scope": ZONE_A, "tolerance_pct": "5", **extra}
    return created(client.post(f"{API}/counts", json=body, headers=signed_in(client, "sup")))


def count_line(client: TestClient, count_id: str, line_no: int, counted: int, actor: str) -> Any:
    return client.post(
        f"{API}/counts/{count_id}/lines/{line_no}/count",
        json={"counted": counted},
        headers=signed_in(client, actor),
    )


def test_a_count_over_http_blind_sheet_counting_approval_and_accuracy(aisle: TestClient) -> None:
    client = aisle
    count = open_count(client)
    assert [(ln["line_no"], ln["bin"], ln["sku"], ln["expected"]) for ln in count["lines"]] == [
        (1, "A-01", "BOLT", None),
        (2, "A-02", "NUT", None),
    ]
    sheet = ok(client.get(f"{API}/counts/{count['id']}/sheet"))
    for line in sheet["lines"]:
        assert set(line) == {"line_no", "bin", "zone", "sku", "sku_name", "lot", "counted", "done"}
    counted = ok(count_line(client, count["id"], 1, 98, "ola"))
    assert "expected" not in counted
    assert (counted["counted"], counted["done"]) == (98, True)
    ok(count_line(client, count["id"], 2, 7, "ola"))  # 30 % off: waits
    problem(count_line(client, count["id"], 2, 7, "ola"), 409, "line_no")

    view = ok(client.get(f"{API}/counts/{count['id']}"))
    assert view["status"] == "pending_approval"
    assert [(ln["status"], ln["expected"], ln["variance"]) for ln in view["lines"]] == [
        ("adjusted", 100, -2),
        ("pending_approval", 10, -3),
    ]
    approve = f"{API}/counts/{count['id']}/lines/2/approve"
    problem(client.post(approve, headers=signed_in(client, "ola")), 409, "actor")
    keyed = {**signed_in(client, "sup"), "Idempotency-Key": "ap-1"}
    line = ok(client.post(approve, headers=keyed))
    assert (line["status"], line["decided_by"]) == ("approved", "sup")
    again = ok(
        client.post(approve, headers={**signed_in(client, "sup"), "Idempotency-Key": "ap-1"})
    )
    assert again == line
    assert ok(client.get(f"{API}/counts/{count['id']}"))["status"] == "closed"
    assert ok(client.get(f"{API}/atp/NUT"))["on_hand"] == 7

    day = today().isoformat()
    [kpi] = ok(client.get(f"{API}/counts/accuracy", params={"start": day, "end": day}))["items"]
    assert (kpi["location"], kpi["counted"], kpi["exact"], kpi["within_tolerance"]) == (
        "WH1", 2, 0, 1,
    )  # fmt: skip
    assert (kpi["accuracy_pct"], kpi["within_tolerance_pct"]) == ("0.00", "50.00")
    page = ok(client.get(f"{API}/counts", params={"location": "WH1", "status": "closed"}))
    assert [c["id"] for c in page["items"]] == [count["id"]]
    verified(client)


def test_found_stock_reject_cancel_and_idempotent_creation_over_http(aisle: TestClient) -> None:
    client = aisle
    headers = {"Idempotency-Key": "cc-9", **signed_in(client, "sup")}
    body = {"location": "WH1", "scope": {"kind": "bins", "bins": ["A-01"]}}
    first = created(client.post(f"{API}/counts", json=body, headers=headers))
    replay = client.post(f"{API}/counts", json=body, headers=headers)
    assert (replay.status_code, replay.json()["id"]) == (200, first["id"])
    reused = {"location": "WH1", "scope": ZONE_A}
    problem(client.post(f"{API}/counts", json=reused, headers=headers), 409, "Idempotency-Key")

    keyed = {**signed_in(client, "ola"), "Idempotency-Key": "found-1"}
    find = {"bin": "A-01", "sku": "NUT", "counted": 2}
    found = client.post(f"{API}/counts/{first['id']}/found", json=find, headers=keyed)
    assert found.status_code == 201, found.text
    assert (found.json()["line_no"], found.json()["sku"]) == (2, "NUT")
    again = client.post(f"{API}/counts/{first['id']}/found", json=find, headers=keyed)
    assert (again.status_code, again.json()) == (200, found.json())
    problem(client.post(f"{API}/counts/{first['id']}/cancel"), 409, "count_id")
    rejected = ok(
        client.post(f"{API}/counts/{first['id']}/lines/2/reject", headers=signed_in(client, "sup"))
    )
    assert rejected["status"] == "rejected"
    assert ok(client.post(f"{API}/counts/{first['id']}/cancel"))["status"] == "cancelled"
    problem(count_line(client, first["id"], 1, 100, "ola"), 409, "count_id")
    verified(client)


def test_count_errors_are_problem_documents(aisle: TestClient) -> None:
    client = aisle
    post = f"{API}/counts"
    problem(client.post(post, json={"location": "WH1", "scope": {"kind": "aisle"}}), 422)
    problem(client.post(post, json={"location": "WH9", "scope": ZONE_A}), 404, "location")
    problem(
        client.post(post, json={"location": "WH1", "scope": ZONE_A, "tolerance_pct": "120"}), 422
    )
    problem(
        client.post(post, json={"location": "WH1", "scope": {"kind": "zone", "zone": "Q"}}),
        422,
        "scope",
    )
    problem(client.get(f"{API}/counts/CC-NOPE"), 404, "count_id")
    problem(client.get(f"{API}/counts/CC-NOPE/sheet"), 404, "count_id")
    count = open_count(client)
    problem(count_line(client, count["id"], 9, 1, "ola"), 404, "line_no")
    problem(count_line(client, count["id"], 1, -1, "ola"), 422)
    tomorrow = (today() + timedelta(days=1)).isoformat()
    yesterday = (today() - timedelta(days=1)).isoformat()
    problem(
        client.get(f"{API}/counts/accuracy", params={"start": tomorrow, "end": yesterday}),
        422,
        "end",
    )
    problem(client.get(f"{API}/counts", params={"status": "lost"}), 422, "status")


def test_the_cli_prints_a_blind_sheet_and_the_accuracy(aisle: TestClient, db_url: str) -> None:
    count = open_count(aisle)
    runner = CliRunner()
    sheet = runner.invoke(cli, ["counts", "sheet", count["id"], "--db", db_url])
    assert sheet.exit_code == 0, sheet.output
    assert "A-01" in sheet.output
    assert "BOLT" in sheet.output
    assert not re.search(r"\b100\b", sheet.output)  # the books' quantity is not on the sheet
    ok(count_line(aisle, count["id"], 1, 100, "ola"))
    day = today().isoformat()
    report = runner.invoke(cli, ["counts", "accuracy", "--from", day, "--to", day, "--db", db_url])
    assert report.exit_code == 0, report.output
    assert "100.00" in report.output
    made = runner.invoke(
        cli, ["counts", "create", "--location", "WH1", "--bins", "A-02", "--db", db_url]
    )
    assert made.exit_code == 0, made.output
    assert "1 line(s)" in made.output
