"""The raw database ceilings of the ``scale`` bench, measured on the loaded database.

- **Imports**: the same CSV files loaded with no application code into a
  table of their columns (text, no index): ``COPY`` on PostgreSQL, one
  ``executemany`` transaction of the stdlib ``sqlite3`` on SQLite.
- **Reads**: one position by primary key (what a lookup costs the database
  at least) and a page of 100 ledger rows by keyset from a random place (what
  a page costs at least), by ``pgbench`` over the same number of clients on
  PostgreSQL, by a plain ``sqlite3`` loop (one client) on SQLite.

The tables the ceiling writes are dropped again, so the database's size is
that of stockflow's own rows.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text

from stockflow.bench import ceiling
from stockflow.bench.load import Tally
from stockflow.bench.scale_data import DataSet
from stockflow.bootstrap import Stockflow

PAGE = 100
BLOCK = 1 << 20


def import_files(data: DataSet) -> dict[str, Sequence[Path]]:
    """The files behind each kind of import, as the bench loads them."""
    return {
        "skus": [data.skus],
        "locations": [data.locations],
        "bins": [data.bins],
        "stock": data.stock_files,
        "moves": data.move_files,
        "orders": data.order_files,
    }


def import_ceiling(sf: Stockflow, data: DataSet) -> dict[str, dict[str, Any]]:
    """Rows a second each kind's files load at with no application code."""
    out: dict[str, dict[str, Any]] = {}
    for kind, files in import_files(data).items():
        header = files[0].open(encoding="utf-8").readline().strip().split(",")
        table = f"bench_copy_{kind}"
        if sf.db.is_sqlite:
            rows, seconds = _sqlite_load(sf.db.url.database or "", table, header, files)
            tool = "sqlite3 executemany"
        else:
            rows, seconds = _copy(sf, table, header, files)
            tool = "COPY"
        out[kind] = {
            "tool": tool,
            "rows": rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds, 1) if seconds > 0 else None,
        }
    return out


def _copy(sf: Stockflow, table: str, header: list[str], files: Sequence[Path]) -> tuple[int, float]:
    columns = ", ".join(f'"{c}" text' for c in header)
    raw = sf.db.engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        pg.execute(f"CREATE TABLE {table} ({columns})")
        pg.commit()
        started = time.perf_counter()
        with pg.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
            for block in _without_headers(files):
                copy.write(block)
        pg.commit()
        seconds = time.perf_counter() - started
        rows = int(pg.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        pg.execute(f"DROP TABLE {table}")
        pg.commit()
    finally:
        raw.close()
    return rows, seconds


def _without_headers(files: Sequence[Path]) -> Iterator[bytes]:
    for path in files:
        with path.open("rb") as f:
            f.readline()
            while block := f.read(BLOCK):
                yield block


def _sqlite_load(
    path: str, table: str, header: list[str], files: Sequence[Path]
) -> tuple[int, float]:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c!r} TEXT' for c in header)})")
        insert = f"INSERT INTO {table} VALUES ({', '.join('?' for _ in header)})"
        started = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        rows = 0
        for file in files:
            with file.open(newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                next(reader)
                cursor = con.executemany(insert, reader)
                rows += cursor.rowcount
        con.execute("COMMIT")
        seconds = time.perf_counter() - started
        con.execute(f"DROP TABLE {table}")
    finally:
        con.close()
    return rows, seconds


def read_ceiling(sf: Stockflow, url: str, *, clients: int, queries: int) -> dict[str, Any]:
    """The bare database's latency for a lookup by key and for a page by keyset."""
    with sf.db.read() as conn:
        positions = int(conn.execute(text("SELECT max(id) FROM positions")).scalar_one() or 1)
        low, high = conn.execute(text("SELECT min(id), max(id) FROM stock_moves")).one()
    low, high = int(low or 1), int(high or 1)
    lookup = "SELECT * FROM positions WHERE id = {r}"
    page = f"SELECT * FROM stock_moves WHERE id <= {{r}} ORDER BY id DESC LIMIT {PAGE}"
    out: dict[str, Any] = {}
    for name, sql, first, last in (
        ("lookup", lookup, 1, positions),
        ("page", page, low, high),
    ):
        if sf.db.is_sqlite:
            statement = sql.format(r="(:low + (:i * 7919) % (:high - :low + 1))")
            found = ceiling.sqlite_reads(
                sf.db.url.database or "", statement, queries=queries,
                params={"low": first, "high": last},
            )  # fmt: skip
        else:
            script = f"\\set r random({first}, {last})\n{sql.format(r=':r')};\n"
            found = ceiling.pgbench_latencies(url, script, clients=clients, transactions=queries)
        tally = Tally(seconds=found.seconds, latencies_ms=found.latencies_ms)
        done = len(found.latencies_ms)
        out[name] = {
            "tool": found.tool,
            "clients": found.clients,
            "sql": sql.format(r="<random>"),
            "queries": done,
            "per_s": round(done / found.seconds, 1) if found.seconds else None,
            "p50_ms": round(tally.percentile(50), 3),
            "p99_ms": round(tally.percentile(99), 3),
        }
    return out


def database_bytes(sf: Stockflow) -> int:
    """The database's size: ``pg_database_size``, or SQLite's pages (its WAL's included)."""
    query = (
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        if sf.db.is_sqlite
        else "SELECT pg_database_size(current_database())"
    )
    with sf.db.read() as conn:
        return int(conn.execute(text(query)).scalar_one())
