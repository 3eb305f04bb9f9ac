"""A served app freezes what start-up loaded out of the garbage collector's rounds."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from stockflow.api.app import app_from_settings
from stockflow.bootstrap import Stockflow

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def test_the_served_app_freezes_what_start_up_loaded_and_still_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    Stockflow.open(url).close()  # migrated, as `stockflow serve` expects
    monkeypatch.setenv("STOCKFLOW_DATABASE_URL", url)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(app_from_settings()) as client:
            assert gc.get_freeze_count() > 0
            assert client.get("/api/v1/health").status_code == 200
    finally:
        gc.unfreeze()
