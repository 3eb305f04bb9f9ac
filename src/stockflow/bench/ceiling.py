"""The raw database ceiling: the same writes as plain SQL, with no application code.

On PostgreSQL the ceiling is measured with ``pgbench`` (a C client, so no Python
sits in it); on SQLite with a plain loop in a separate process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from sqlalchemy.engine import make_url


@dataclass(frozen=True, slots=True)
class Ceiling:
    """How fast the bare database did the same transactions."""

    tool: str
    transactions: int
    seconds: float


def pgbench(url: str, script: str, *, clients: int, transactions: int) -> Ceiling:
    """Run ``script`` as ``transactions`` transactions over ``clients`` connections."""
    out = _pgbench(url, script, clients=clients, transactions=transactions)
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
    return Ceiling("pgbench", done, done / tps)


@dataclass(frozen=True, slots=True)
class Latencies:
    """How fast the bare database answered the same kind of read, one latency per query."""

    tool: str
    clients: int
    seconds: float
    latencies_ms: list[float]


def pgbench_latencies(url: str, script: str, *, clients: int, transactions: int) -> Latencies:
    """Run ``script`` like ``pgbench`` does; every transaction's latency from its log."""
    with tempfile.TemporaryDirectory(prefix="stockflow-pgbench-") as logs:
        prefix = os.path.join(logs, "tx")
        out = _pgbench(
            url, script, clients=clients, transactions=transactions,
            extra=["--log", f"--log-prefix={prefix}"],
        )  # fmt: skip
        latencies = []
        for name in os.listdir(logs):
            with open(os.path.join(logs, name)) as f:
                # client_id transaction_no time(us) script_no epoch epoch_us
                latencies += [int(line.split()[2]) / 1000 for line in f if line.strip()]
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    return Latencies("pgbench", clients, len(latencies) / tps if tps else 0.0, latencies)


def _pgbench(
    url: str, script: str, *, clients: int, transactions: int, extra: list[str] | None = None
) -> str:
    binary = shutil.which("pgbench") or next(
        (p for p in _pg_bin_dirs("pgbench") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        raise RuntimeError("pgbench is not installed; it measures the PostgreSQL ceiling")
    u = make_url(url)
    per_client = max(1, transactions // clients)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    env = {**os.environ, "PGPASSWORD": u.password or ""}
    args = [
        binary, "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 2)),
        "-t", str(per_client), "-f", f.name, "-h", u.host or "127.0.0.1",
        "-p", str(u.port or 5432), "-U", u.username or "postgres", *(extra or []),
        u.database or "postgres",
    ]  # fmt: skip
    try:
        return subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    finally:
        os.unlink(f.name)


def sqlite_reads(path: str, statement: str, *, queries: int, params: dict[str, int]) -> Latencies:
    """Run ``statement`` ``queries`` times from a fresh process (``:i`` is the query number)."""
    code = f"""
import sqlite3, time
con = sqlite3.connect({path!r}, isolation_level=None)
params = {params!r}
out = []
start = time.perf_counter()
for i in range({queries}):
    t = time.perf_counter()
    con.execute({statement!r}, {{**params, "i": i}}).fetchall()
    out.append((time.perf_counter() - t) * 1000)
print(time.perf_counter() - start)
print(" ".join(f"{{x:.4f}}" for x in out))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return Latencies("sqlite3 loop", 1, float(out[0]), [float(x) for x in out[1].split()])


def sqlite_loop(
    path: str, statements: list[str], *, transactions: int, params: dict[str, int]
) -> Ceiling:
    """Run ``statements`` in ``transactions`` write transactions from a fresh process."""
    code = f"""
import sqlite3, time
con = sqlite3.connect({path!r}, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=FULL")
statements = {statements!r}
params = {params!r}
start = time.perf_counter()
for i in range({transactions}):
    con.execute("BEGIN IMMEDIATE")
    for s in statements:
        con.execute(s, {{**params, "i": i}})
    con.execute("COMMIT")
print(time.perf_counter() - start)
"""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    seconds = float(out.strip()) if out.strip() else time.perf_counter() - started
    return Ceiling("sqlite3 loop", transactions, seconds)


def _pg_bin_dirs(name: str) -> list[str]:
    base = "/usr/lib/postgresql"
    if not os.path.isdir(base):
        return []
    return [os.path.join(base, v, "bin", name) for v in sorted(os.listdir(base), reverse=True)]
