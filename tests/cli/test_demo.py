"""The demo data set that ``scripts/run`` loads: it must load on a fresh database and balance."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app


def test_the_demo_loads_once_on_a_fresh_sqlite_file_and_verifies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = CliRunner().invoke(app, ["demo", "--db", url, "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "4 waves, 4 shipments" in " ".join(first.output.split())
    again = CliRunner().invoke(app, ["demo", "--db", url, "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "demo data loaded" not in again.output
    sf = Stockflow.open(url)
    try:
        assert sf.verify() == []
    finally:
        sf.close()
