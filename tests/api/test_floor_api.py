"""The warehouse floor over HTTP, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader
from starlette.exceptions import StarletteDeprecationWarning
from test_orders_api import created, ok, problem

from helpers import api_client
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"


@pytest.fixture
def floor(sf: Stockflow) -> Iterator[TestClient]:
    """WH1 with bins S-01 (sequence 1) and S-02 (2): 3 A in S-02, 2 B in S-01; channel WEB."""
    with api_client(create_app(sf)) as client:
        for code in ("A", "B"):
            created(client.post(f"{API}/skus", json={"code": code, "name": f"Item {code}"}))
        created(client.post(f"{API}/locations", json={"code": "WH1", "name": "Main"}))
        for code, seq in (("S-01", 1), ("S-02", 2)):
            created(
                client.post(
                    f"{API}/locations/WH1/bins", json={"code": code, "zone": "S", "sequence": seq}
                )
            )
        for sku, qty, bin_code in (("A", 3, "S-02"), ("B", 2, "S-01")):
            created(
                client.post(
                    f"{API}/moves",
                    json={
                        "sku": sku, "qty": qty, "reason": "receipt",
                        "to": {"location": "WH1", "bin": bin_code},
                    },
                )
            )  # fmt: skip
        created(client.post(f"{API}/channels", json={"code": "WEB", "name": "Web shop"}))
        yield client


def capture(client: TestClient, *lines: tuple[str, int]) -> str:
    body = {
        "channel": "WEB",
        "ship_to": "1 Dam Square, Amsterdam",
        "lines": [{"sku": s, "qty": q} for s, q in lines],
    }
    order_id: str = created(client.post(f"{API}/orders", json=body))["id"]
    return order_id


def pdf_text(resp: Any) -> str:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.content)).pages)


def test_release_wave_pick_pack_ship_and_track_over_http(floor: TestClient) -> None:
    order_id = capture(floor, ("A", 2), ("B", 1))
    assert ok(floor.post(f"{API}/orders/release", json={"order_ids": [order_id]})) == [order_id]
    wave = created(floor.post(f"{API}/waves", json={"location": "WH1"}))
    assert [t["bin"] for t in wave["tasks"]] == ["S-01", "S-02"]  # walking order
    assert "S-02" in pdf_text(floor.get(f"{API}/waves/{wave['id']}/pick-list.pdf"))
    problem(floor.post(f"{API}/waves", json={"location": "WH1"}), 409, "location")

    for task in wave["tasks"]:
        done = ok(
            floor.post(f"{API}/pick-tasks/{task['id']}/confirm", json={"picked": task["qty"]})
        )
        assert done["short"] == 0
    problem(
        floor.post(f"{API}/pick-tasks/{wave['tasks'][0]['id']}/confirm", json={"picked": 1}),
        409,
        "task",
    )
    assert ok(floor.get(f"{API}/waves/{wave['id']}"))["status"] == "done"
    listed = ok(floor.get(f"{API}/waves", params={"location": "WH1"}))["items"]
    assert [(w["id"], w["orders"], w["open_tasks"], w["tasks"]) for w in listed] == [
        (wave["id"], 1, 0, 2)
    ]
    assert ok(floor.get(f"{API}/waves", params={"status": "open"}))["items"] == []

    shipment = ok(floor.post(f"{API}/orders/{order_id}/pack", json={"barcode": "A", "qty": 2}))
    problem(floor.post(f"{API}/orders/{order_id}/pack", json={"barcode": "A"}), 409, "barcode")
    problem(floor.post(f"{API}/orders/{order_id}/pack", json={"barcode": "ZZZ"}), 409, "barcode")
    ok(floor.post(f"{API}/orders/{order_id}/pack", json={"barcode": "B"}))
    sid = shipment["id"]
    problem(
        floor.post(
            f"{API}/shipments/{sid}/packages",
            json={"weight_g": 0, "length_mm": 10, "width_mm": 10, "height_mm": 10},
        ),
        422,
    )
    ok(
        floor.post(
            f"{API}/shipments/{sid}/packages",
            json={"weight_g": 900, "length_mm": 300, "width_mm": 200, "height_mm": 100},
        )
    )
    shipped = ok(floor.post(f"{API}/shipments/{sid}/ship", json={"carrier": "flat"}))
    assert shipped["status"] == "shipped"
    assert [(i["sku"], i["qty"]) for i in shipped["items"]] == [("A", 2), ("B", 1)]
    tracking_no = shipped["tracking_no"]
    assert tracking_no in pdf_text(floor.get(f"{API}/shipments/{sid}/label.pdf"))
    assert order_id in pdf_text(floor.get(f"{API}/shipments/{sid}/packing-slip.pdf"))
    assert ok(floor.get(f"{API}/orders/{order_id}"))["status"] == "shipped"

    problem(floor.post(f"{API}/shipments/{tracking_no}/tracking", json={"status": "lost"}), 422)
    ok(floor.post(f"{API}/shipments/{tracking_no}/tracking", json={"status": "in_transit"}))
    done = ok(floor.post(f"{API}/shipments/{sid}/tracking", json={"status": "delivered"}))
    assert [e["status"] for e in done["events"]] == ["in_transit", "delivered"]
    assert ok(floor.get(f"{API}/orders/{order_id}"))["status"] == "delivered"
    assert ok(floor.get(f"{API}/verify"))["drift"] == []


def test_a_short_pick_over_http_names_the_orders_it_touched(floor: TestClient) -> None:
    order_id = capture(floor, ("A", 3))
    wave = created(floor.post(f"{API}/waves", json={"location": "WH1", "max_orders": 5}))
    task = wave["tasks"][0]
    short = ok(floor.post(f"{API}/pick-tasks/{task['id']}/confirm", json={"picked": 2}))
    assert short == {
        "task_id": task["id"], "picked": 2, "short": 1, "orders": {order_id: "partially_allocated"}
    }  # fmt: skip
    kinds = [e["kind"] for e in ok(floor.get(f"{API}/exceptions"))["items"]]
    assert "short_pick" in kinds
    about = ok(floor.get(f"{API}/exceptions", params={"reference": f"short-pick:{task['id']}"}))
    assert [(e["kind"], e["order_id"]) for e in about["items"]] == [("short_pick", order_id)]
    problem(floor.get(f"{API}/waves/W-NOPE"), 404)
    problem(floor.get(f"{API}/shipments/S-NOPE"), 404)


def test_bins_carry_a_role_and_a_capacity_and_quarantine_is_never_available(
    floor: TestClient,
) -> None:
    created(
        floor.post(
            f"{API}/locations/WH1/bins",
            json={"code": "Q-1", "role": "quarantine", "capacity": 50},
        )
    )
    problem(floor.post(f"{API}/locations/WH1/bins", json={"code": "X", "role": "attic"}), 422)
    problem(floor.post(f"{API}/locations/WH1/bins", json={"code": "X", "capacity": 0}), 422)
    listed = {
        b["code"]: (b["role"], b["capacity"])
        for b in ok(floor.get(f"{API}/locations/WH1/bins"))["items"]
    }
    assert listed["Q-1"] == ("quarantine", 50)
    assert listed["S-01"] == ("storage", None)
    created(
        floor.post(
            f"{API}/moves",
            json={
                "sku": "A",
                "qty": 4,
                "reason": "receipt",
                "to": {"location": "WH1", "bin": "Q-1"},
            },
        )
    )
    assert ok(floor.get(f"{API}/atp/A"))["available"] == 3
