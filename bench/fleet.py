"""Fleet benchmark: N databases on one local server, all one version behind, rolled forward by one plan.

Measured in the same run, on the same server, from the same starting state:
1. the shell loop people write today — `for url in …; do sovrium apply plans --database-url "$url"; done`,
   one process per database, one after the other;
2. `sovrium apply plans --targets fleet.yaml --parallel P`: one process, P targets at once.

Both end with every database at the head version (checked after each run). Prints wall time, databases per
second and the ratio. Not a test; run with `just bench-fleet` (`--sizes 100,500` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import yaml

from sovrium_tui import services
from sovrium_tui.execution.server import LocalServer, embedded_bin_dir

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("sovrium")
SOVRIUM = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "sovrium_tui"]
TEMPLATE = "fleet_template"


async def make_template(server: LocalServer, plans: list[Path]) -> None:
    """A database at the version before the head: every fleet database starts as a copy of it."""
    admin = await asyncpg.connect(server.url())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
    finally:
        await admin.close()
    for plan in plans[:-1]:
        await services.apply(plan, database_url=server.url(TEMPLATE))


async def create_fleet(server: LocalServer, prefix: str, count: int) -> list[str]:
    admin = await asyncpg.connect(server.url())
    try:
        for number in range(count):
            name = f"{prefix}_{number:04d}"
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()
    return [server.url(f"{prefix}_{number:04d}") for number in range(count)]


async def drop_fleet(server: LocalServer, prefix: str, count: int) -> None:
    admin = await asyncpg.connect(server.url())
    try:
        for number in range(count):
            await admin.execute(f'DROP DATABASE IF EXISTS "{prefix}_{number:04d}" WITH (FORCE)')
    finally:
        await admin.close()


async def versions(urls: list[str]) -> set[int]:
    """The recorded version of every database (read a few at a time)."""
    slots = asyncio.Semaphore(8)

    async def one(url: str) -> int:
        async with slots:
            connection = await asyncpg.connect(url)
            try:
                return int(await connection.fetchval("SELECT version FROM system.schema_checksum"))
            finally:
                await connection.close()

    return set(await asyncio.gather(*(one(url) for url in urls)))


def shell_loop(urls: list[str], plans: Path, work: Path, env: dict[str, str]) -> float:
    """The baseline, literally: a bash loop starting `sovrium apply` once per database."""
    listing = work / "urls.txt"
    listing.write_text("".join(f"{url}\n" for url in urls))
    command = " ".join(f"'{word}'" for word in SOVRIUM)
    apply = f'{command} apply "{plans}" --yes --database-url "$url" </dev/null >/dev/null 2>&1'
    script = f"while read -r url; do {apply} || exit 1; done"
    started = time.perf_counter()
    subprocess.run(["bash", "-c", script], stdin=listing.open(), check=True, env=env, cwd=work)
    return time.perf_counter() - started


def fleet_rollout(urls: list[str], plans: Path, work: Path, env: dict[str, str], parallel: int) -> float:
    targets = work / "fleet.yaml"
    entries = [{"name": f"db{number:04d}", "url": url} for number, url in enumerate(urls)]
    targets.write_text(yaml.safe_dump({"targets": entries}, sort_keys=False))
    command = [*SOVRIUM, "apply", str(plans), "--yes", "--targets", str(targets), "--parallel", str(parallel), "--json"]
    started = time.perf_counter()
    finished = subprocess.run(command, check=False, env=env, cwd=work, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"the rollout failed:\n{finished.stderr[-3000:]}")
    summary = json.loads(finished.stdout)["summary"]
    assert summary["applied"] == len(urls), summary
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,500", help="fleet sizes, comma-separated (default 100,500)")
    parser.add_argument("--parallel", type=int, default=8, help="--parallel of the rollout (default 8)")
    parser.add_argument("--pg-bin", default=None, help="PostgreSQL binaries (default: embedded PostgreSQL 18)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sovrium-bench-fleet-"))
    server = LocalServer(data_dir=work / "pgdata", bin_dir=Path(args.pg_bin) if args.pg_bin else embedded_bin_dir())
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    plans_dir = work / "plans"
    shutil.copytree(ROOT / "plans", plans_dir)
    plans = sorted(plans_dir.glob("*.yaml"))
    try:
        server.ensure_running()
        print(
            f"server: {server.bin_dir} (PostgreSQL {server.version()}), {os.cpu_count()} cores; "
            f"every database at version {len(plans) - 1}, rolled forward by {plans[-1].name}; "
            f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}"
        )
        asyncio.run(make_template(server, plans))
        for size in (int(s) for s in args.sizes.split(",") if s):
            urls = asyncio.run(create_fleet(server, "loop", size))
            loop_s = shell_loop(urls, plans_dir, work, env)
            assert asyncio.run(versions(urls)) == {len(plans)}
            asyncio.run(drop_fleet(server, "loop", size))

            urls = asyncio.run(create_fleet(server, "fleet", size))
            fleet_s = fleet_rollout(urls, plans_dir, work, env, args.parallel)
            assert asyncio.run(versions(urls)) == {len(plans)}
            asyncio.run(drop_fleet(server, "fleet", size))
            print(
                f"N={size:>4}: shell loop {loop_s:7.1f} s ({size / loop_s:5.1f} db/s) | "
                f"sovrium apply --targets --parallel {args.parallel} {fleet_s:6.1f} s ({size / fleet_s:5.1f} db/s) | "
                f"{loop_s / fleet_s:.1f}× faster",
                flush=True,
            )
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
