"""Benchmarks: figures and ratios against raw baselines. Not tests; run with `just bench`.

1. An unchanged start-up: whole-process `sovrium migrate` (fast path) vs `python -c pass` and vs a process
   that only imports asyncpg.
2. Creating N tables: `sovrium apply` of a plan (one transaction, checks, verification, audit) vs
   `psql -1 -f` of the same forward SQL.
3. Introspection of N tables, and offline planning (compile + diff) of N tables.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import yaml

from sovrium_tui.catalog import compile_app
from sovrium_tui.catalog.introspect import introspect
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.execution.server import LocalServer, embedded_bin_dir
from sovrium_tui.planning.plan import write_plan
from sovrium_tui.planning.planner import Origin, make_plan
from sovrium_tui.schema import parse_app

SOVRIUM = [sys.executable, "-m", "sovrium_tui"]


def wide_schema(tables: int) -> str:
    """N tables of 14 fields (text, numbers, selects, dates, a relationship), some indexed and unique."""
    fields = [
        {"id": 1, "name": "title", "type": "single-line-text", "required": True},
        {"id": 2, "name": "body", "type": "long-text"},
        {"id": 3, "name": "email", "type": "email", "unique": True},
        {"id": 4, "name": "amount", "type": "decimal", "precision": 2, "min": 0},
        {"id": 5, "name": "quantity", "type": "integer", "min": 0, "max": 1000, "indexed": True},
        {"id": 6, "name": "state", "type": "single-select", "options": ["new", "open", "done"], "default": "new"},
        {"id": 7, "name": "labels", "type": "multi-select", "options": ["a", "b", "c"]},
        {"id": 8, "name": "due", "type": "date", "indexed": True},
        {"id": 9, "name": "at", "type": "datetime"},
        {"id": 10, "name": "done", "type": "checkbox", "default": False},
        {"id": 11, "name": "color", "type": "color"},
        {"id": 12, "name": "meta", "type": "json"},
        {"id": 13, "name": "score", "type": "rating", "max": 5},
    ]
    document = {"name": "bench", "tables": []}
    for number in range(1, tables + 1):
        own = copy.deepcopy(fields)  # no shared lists: the file must not use YAML anchors
        if number > 1:
            own.append({"id": 14, "name": "parent", "type": "relationship", "relatedTable": f"t{number - 1:04d}"})
        document["tables"].append({"id": number, "name": f"t{number:04d}", "fields": own})
    return yaml.safe_dump(document, sort_keys=False)


def timed(command: list[str], *, runs: int, cwd: Path, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):7.1f} ms  (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"
    )


async def create_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()


def url_for(server: LocalServer, database: str) -> str:
    return server.url(database)


def bench_startup(server: LocalServer, work: Path, runs: int) -> None:
    print("\n== unchanged start-up: whole process ==")
    asyncio.run(create_database(server.url(), "bench_startup"))
    schema = work / "crm.yaml"
    schema.write_text((Path(__file__).parent.parent / "examples" / "crm.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    url = url_for(server, "bench_startup")
    migrate = [*SOVRIUM, "migrate", str(schema), "--database-url", url, "--quiet"]
    subprocess.run(migrate, cwd=work, env=env, check=True, capture_output=True)  # first run migrates
    baseline = timed([sys.executable, "-c", "pass"], runs=runs, cwd=work, env=env)
    asyncpg_only = timed([sys.executable, "-c", "import asyncpg"], runs=runs, cwd=work, env=env)
    noop = timed(migrate, runs=runs, cwd=work, env=env)
    print(f"python -c pass               {summary(baseline)}")
    print(f"python -c 'import asyncpg'   {summary(asyncpg_only)}")
    print(f"sovrium migrate (unchanged)  {summary(noop)}")
    extra = statistics.median(noop) - statistics.median(baseline)
    print(
        f"→ {extra:.1f} ms above a bare interpreter; ratio {statistics.median(noop) / statistics.median(baseline):.1f}×"
    )
    print(f"  (budget 100 ms; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")


def bench_create(server: LocalServer, work: Path, sizes: list[int]) -> None:
    print("\n== creating N tables in one transaction ==")
    psql = embedded_bin_dir() / "psql"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    for size in sizes:
        app = parse_app(wide_schema(size), source="bench.yaml")
        started = time.perf_counter()
        plan = make_plan(app, Origin(version=0, checksum=None, app=None, catalog=Catalog()))
        planning_ms = (time.perf_counter() - started) * 1000
        assert plan is not None
        plans = work / f"plans_{size}"
        path = write_plan(plan, plans, "bench")
        sql = work / f"create_{size}.sql"
        sql.write_text("".join(f"{s};\n" for step in plan.steps for s in step.forward))

        asyncio.run(create_database(server.url(), "bench_psql"))
        started = time.perf_counter()
        subprocess.run(
            [str(psql), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", str(sql), url_for(server, "bench_psql")],
            check=True,
            capture_output=True,
            env=env,
        )
        raw_ms = (time.perf_counter() - started) * 1000

        asyncio.run(create_database(server.url(), "bench_apply"))
        started = time.perf_counter()
        subprocess.run(
            [*SOVRIUM, "apply", str(path), "--yes", "--database-url", url_for(server, "bench_apply")],
            check=True,
            capture_output=True,
            cwd=work,
            env=env,
        )
        apply_ms = (time.perf_counter() - started) * 1000

        async def read(expected_tables: int) -> float:
            connection = await asyncpg.connect(url_for(server, "bench_apply"))
            try:
                begun = time.perf_counter()
                catalog = await introspect(connection)
                assert len(catalog.tables) == expected_tables
                return (time.perf_counter() - begun) * 1000
            finally:
                await connection.close()

        introspect_ms = asyncio.run(read(size))
        started = time.perf_counter()
        compile_app(app)
        compile_ms = (time.perf_counter() - started) * 1000
        print(
            f"N={size:>5}: psql -1 -f {raw_ms:8.0f} ms | sovrium apply {apply_ms:8.0f} ms "
            f"(ratio {apply_ms / raw_ms:.2f}×) | introspect {introspect_ms:6.0f} ms | "
            f"plan in memory {planning_ms:6.0f} ms (compile {compile_ms:.0f} ms) | {len(plan.steps)} steps"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs of each start-up measurement")
    parser.add_argument("--sizes", default="100,500", help="table counts to create, comma-separated")
    parser.add_argument("--pg-bin", default=None, help="PostgreSQL binaries (default: embedded PostgreSQL 18)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sovrium-bench-"))
    work.chmod(0o755)  # the server's OS user (when run as root) must reach it
    server = LocalServer(data_dir=work / "pgdata", bin_dir=Path(args.pg_bin) if args.pg_bin else embedded_bin_dir())
    try:
        server.ensure_running()
        print(f"server: {server.bin_dir} (PostgreSQL {server.version()}), {os.cpu_count()} cores")
        bench_startup(server, work, args.runs)
        bench_create(server, work, [int(s) for s in args.sizes.split(",") if s])
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
