"""Benchmarks: every figure next to its baseline as a ratio. Not tests; run with `just bench`.

1. An unchanged start-up: the whole `sovrium migrate` process vs `python -c pass`.
2. `sovrium plan --offline` of N tables (time and peak memory) and `sovrium check` of the result, vs the targets.
3. `sovrium apply` of N new tables vs `psql -1 -f` of the same forward SQL (one transaction each).
4. `sovrium apply` refusing a plan that would exceed the lock table of a server with default settings.
5. Introspection of N tables vs the same catalog queries sent raw.

Tables have 14 fields (text, numbers, selects, dates, a relationship), some indexed and unique, as in a real app.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import yaml

from sovrium_tui.catalog import introspect as introspection
from sovrium_tui.execution.server import LARGE_LOCK_TABLE, LocalServer, embedded_bin_dir

SOVRIUM = [str(Path(sys.executable).with_name("sovrium"))]
TARGETS = {"start-up": 50.0, "plan": 1000.0, "check": 1000.0, "refusal": 1000.0, "apply": 1.2, "introspect": 1.3}


def wide_schema(tables: int, *, extra: bool = False) -> str:
    """N tables of 14 fields (text, numbers, selects, dates, a relationship), some indexed and unique; with
    `extra`, the first table has one more field (the next version of the app)."""
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
    document: dict[str, object] = {"name": "bench", "tables": []}
    tables_list: list[object] = []
    for number in range(1, tables + 1):
        own = copy.deepcopy(fields)  # no shared lists: the file must not use YAML anchors
        if number > 1:
            own.append({"id": 14, "name": "parent", "type": "relationship", "relatedTable": f"t{number - 1:04d}"})
        if extra and number == 1:
            own.append({"id": 15, "name": "extra", "type": "single-line-text"})
        tables_list.append({"id": number, "name": f"t{number:04d}", "fields": own})
    document["tables"] = tables_list
    return yaml.safe_dump(document, sort_keys=False)


# Peak memory is read by a small helper that starts the command itself: a process started straight from this one
# inherits this process's peak (Linux keeps the high-water mark of the memory an exec replaces), so the figure
# would be the benchmark's own size, not the command's. `check` and `plan --offline` read plan files in a forked
# second process, and the kernel's high-water mark is per process: the helper also adds up the proportional set
# size (shared pages split between sharers) of the command and its children every 10 ms, and reports the larger.
_MEASURE = """
import os, sys, threading, time
out, sample, command = sys.argv[1], sys.argv[2] == "sample", sys.argv[3:]

def tree(pid):
    found = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listing:
            for child in listing.read().split():
                found += tree(int(child))
    return found

def pss_kb(pid):
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0

together = 0
finished = threading.Event()

def sampler(pid):
    global together
    while not finished.wait(0.01):
        try:
            together = max(together, sum(pss_kb(member) for member in tree(pid)))
        except OSError:
            pass  # a process ended while being read

started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)
if sample:
    threading.Thread(target=sampler, args=(pid,), daemon=True).start()
_, status, usage = os.wait4(pid, 0)
elapsed = (time.perf_counter() - started) * 1000
finished.set()
with open(out, "w") as report:
    report.write(f"{elapsed} {max(usage.ru_maxrss, together)} {os.waitstatus_to_exitcode(status)}")
"""


def run(
    command: list[str], *, cwd: Path, env: dict[str, str], check: bool = True, sample: bool = False
) -> tuple[float, int, int]:
    """Wall time (ms, from its start to its exit), peak memory (MB) and exit code. With `sample`, the memory of
    the children it forks counts too (sampled, which costs the machine a little: not for start-up figures)."""
    with tempfile.TemporaryDirectory() as scratch:
        report, errors = Path(scratch) / "report", Path(scratch) / "stderr"
        with errors.open("wb") as stderr:  # a file, not a pipe: a pipe nobody reads blocks a chatty command
            subprocess.run(
                [sys.executable, "-c", _MEASURE, str(report), "sample" if sample else "-", *command],
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                check=True,
            )
        elapsed, peak_kb, code = report.read_text().split()
        if check and int(code) != 0:
            raise SystemExit(f"{' '.join(command)} failed ({code}):\n{errors.read_text(errors='replace')}")
    return float(elapsed), int(peak_kb) // 1024, int(code)


def median_of(command: list[str], *, runs: int, cwd: Path, env: dict[str, str]) -> float:
    return statistics.median(run(command, cwd=cwd, env=env)[0] for _ in range(runs))


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}×" if baseline else "n/a"


def verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


async def create_database(admin_url: str, name: str, *, checkpoint: bool = False) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        if checkpoint:
            await admin.execute("CHECKPOINT")
    finally:
        await admin.close()


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SOURCE_DATE_EPOCH")}


# --- 1. start-up ------------------------------------------------------------------------------------------------


def bench_startup(server: LocalServer, work: Path, runs: int, summary: list[str]) -> None:
    print("\n== 1. unchanged start-up: the whole `sovrium migrate` process ==")
    asyncio.run(create_database(server.url(), "bench_startup"))
    schema = work / "crm.yaml"
    shutil.copy(Path(__file__).parent.parent / "examples" / "crm.yaml", schema)
    url = server.url("bench_startup")
    migrate = [*SOVRIUM, "migrate", str(schema), "--database-url", url, "--quiet"]
    env = environment()
    run(migrate, cwd=work, env=env)  # the first run migrates and fills the checksum cache
    baseline = median_of([sys.executable, "-c", "pass"], runs=runs, cwd=work, env=env)
    noop = median_of(migrate, runs=runs, cwd=work, env=env)
    print(f"python -c pass                {baseline:7.1f} ms")
    print(f"sovrium migrate (unchanged)   {noop:7.1f} ms  ratio {ratio(noop, baseline)}, {noop - baseline:.1f} ms more")
    target = TARGETS["start-up"]
    summary.append(
        f"| unchanged `sovrium migrate`, whole process | {noop:.0f} ms | ≤ {target:.0f} ms | {verdict(noop, target)} |"
    )


# --- 2. planning and checking -----------------------------------------------------------------------------------


def bench_planning(work: Path, sizes: list[int], rounds: int, summary: list[str]) -> None:
    print(f"\n== 2. `sovrium plan --offline` and `sovrium check` of N tables (median of {rounds}) ==")
    env = {**environment(), "SOURCE_DATE_EPOCH": "1795564800"}
    for size in sizes:
        folder = work / f"plan_{size}"
        folder.mkdir()
        (folder / "app.yaml").write_text(wide_schema(size))
        plan_command, check_command = [*SOVRIUM, "plan", "app.yaml", "--offline"], [*SOVRIUM, "check", "app.yaml"]
        next_command = [*SOVRIUM, "plan", "next.yaml", "--offline"]
        (folder / "next.yaml").write_text(wide_schema(size, extra=True))
        plans, checks, nexts = [], [], []
        # Each round times the three commands unwatched, then runs them once more with the memory sampler: reading
        # every process's smaps 100 times a second takes CPU from a command that uses both cores (check, by 50 %).
        for _ in range(rounds):
            for sample in (False, True):
                shutil.rmtree(folder / "plans", ignore_errors=True)
                plans.append(run(plan_command, cwd=folder, env=env, sample=sample))
                checks.append(run(check_command, cwd=folder, env=env, sample=sample))
                # the everyday case: one field more, planned from the head plan's app
                nexts.append(run(next_command, cwd=folder, env=env, sample=sample))
        size_mb = sum(p.stat().st_size for p in (folder / "plans").glob("0001_*")) / 1e6
        timed = slice(0, None, 2)  # the unwatched runs
        plan_ms, check_ms = (
            statistics.median(p[0] for p in plans[timed]),
            statistics.median(c[0] for c in checks[timed]),
        )
        next_ms = statistics.median(n[0] for n in nexts[timed])
        plan_mb, check_mb, next_mb = (max(r[1] for r in runs) for runs in (plans, checks, nexts))
        print(
            f"N={size:>5}: plan --offline {plan_ms:7.0f} ms, {plan_mb:4d} MB peak ({size_mb:.1f} MB plan file) | "
            f"check {check_ms:7.0f} ms, {check_mb:4d} MB peak | next plan (+1 field) {next_ms:7.0f} ms, "
            f"{next_mb:4d} MB peak"
        )
        if size == 2000:
            plan_verdict = verdict(plan_ms, TARGETS["plan"]) if plan_mb <= 150 else "MISSES"
            summary.append(
                f"| `sovrium plan --offline`, 2,000 tables | {plan_ms / 1000:.2f} s, {plan_mb} MB | ≤ 1 s, ≤ 150 MB | "
                f"{plan_verdict} |"
            )
            verdict_text = verdict(check_ms, TARGETS["check"])
            summary.append(f"| `sovrium check`, 2,000 tables | {check_ms / 1000:.2f} s | ≤ 1 s | {verdict_text} |")
            summary.append(
                f"| next `plan --offline` (+1 field), 2,000 tables | {next_ms / 1000:.2f} s, {next_mb} MB | — | |"
            )


# --- 3. applying ------------------------------------------------------------------------------------------------


def bench_apply(server: LocalServer, work: Path, sizes: list[int], rounds: int, summary: list[str]) -> None:
    print(f"\n== 3. creating N tables in one transaction: `sovrium apply` vs `psql -1 -f` (median of {rounds}) ==")
    psql = server.bin_dir / "psql"
    env = environment()
    for size in sizes:
        folder = work / f"apply_{size}"
        folder.mkdir()
        (folder / "app.yaml").write_text(wide_schema(size))
        run([*SOVRIUM, "plan", "app.yaml", "--offline"], cwd=folder, env=env)
        [plan_file] = (folder / "plans").iterdir()
        document = yaml.load(plan_file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        sql = folder / "create.sql"
        sql.write_text("".join(f"{s};\n" for step in document["steps"] for s in step["forward"]))

        psql_command = [str(psql), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", str(sql)]
        apply_command = [*SOVRIUM, "apply", str(plan_file), "--yes", "--database-url"]
        raws, applies, apply_mb = [], [], 0
        for round_number in range(rounds):
            # Each on a new database after a CHECKPOINT (the WAL of the run before is flushed, not paid for by
            # this one), the order alternating; the median of the rounds is reported.
            order = ("psql", "apply") if round_number % 2 == 0 else ("apply", "psql")
            for which in order:
                database = f"bench_{which}"
                asyncio.run(create_database(server.url(), database, checkpoint=True))
                if which == "psql":
                    raws.append(run([*psql_command, server.url(database)], cwd=folder, env=env)[0])
                else:
                    elapsed, peak, _ = run([*apply_command, server.url(database)], cwd=folder, env=env)
                    applies.append(elapsed)
                    apply_mb = max(apply_mb, peak)
        raw_ms, apply_ms = statistics.median(raws), statistics.median(applies)
        introspect_ms, raw_queries_ms = asyncio.run(_introspection(server.url("bench_apply"), size))
        print(
            f"N={size:>5}: psql -1 -f {raw_ms:7.0f} ms | sovrium apply {apply_ms:7.0f} ms ({apply_mb} MB) "
            f"ratio {ratio(apply_ms, raw_ms)} | introspect {introspect_ms:6.0f} ms vs raw queries "
            f"{raw_queries_ms:6.0f} ms ratio {ratio(introspect_ms, raw_queries_ms)}"
        )
        if size == 500:
            value = apply_ms / raw_ms
            summary.append(
                f"| `sovrium apply`, 500 tables, vs `psql -1 -f` | {apply_ms / 1000:.2f} s vs {raw_ms / 1000:.2f} s = "
                f"{value:.2f}× | ≤ 1.2× | {verdict(value, TARGETS['apply'])} |"
            )
            value = introspect_ms / raw_queries_ms
            summary.append(
                f"| introspection, 500 tables, vs the raw catalog queries | {introspect_ms:.0f} ms vs "
                f"{raw_queries_ms:.0f} ms = {value:.2f}× | ≤ 1.3× | {verdict(value, TARGETS['introspect'])} |"
            )


async def _introspection(url: str, expected: int, rounds: int = 5) -> tuple[float, float]:
    """Median ms of introspect() and of the same queries sent raw (connection open; each in a transaction).

    The benchmark's own heap (every plan it has read) is frozen out of the cycle collector first: a collection
    walking it would be charged to introspection, which makes more objects than the raw queries do."""
    gc.collect()
    gc.freeze()
    connection = await asyncpg.connect(url)
    try:
        full, raw = [], []
        for _ in range(rounds):
            begun = time.perf_counter()
            catalog = await introspection.introspect(connection)
            full.append((time.perf_counter() - begun) * 1000)
            assert len(catalog.tables) == expected
            begun = time.perf_counter()
            async with connection.transaction(readonly=True):
                for query in introspection.RAW_QUERIES:
                    await connection.fetch(query, *(("public",) if "$1" in query else ()))
            raw.append((time.perf_counter() - begun) * 1000)
        return statistics.median(full), statistics.median(raw)
    finally:
        await connection.close()
        gc.unfreeze()


# --- 4. refusing what the lock table cannot hold ------------------------------------------------------------------


def bench_refusal(server: LocalServer, work: Path, size: int, rounds: int, summary: list[str]) -> None:
    print(f"\n== 4. `sovrium apply` refusing {size} tables on a default server's lock table (median of {rounds}) ==")
    env = environment()
    folder = work / f"apply_{size}"
    if not (folder / "plans").exists():
        folder.mkdir(exist_ok=True)
        (folder / "app.yaml").write_text(wide_schema(size))
        run([*SOVRIUM, "plan", "app.yaml", "--offline"], cwd=folder, env=env)
    [plan_file] = (folder / "plans").iterdir()
    asyncio.run(create_database(server.url(), "bench_refusal"))
    command = [*SOVRIUM, "apply", str(plan_file), "--yes", "--database-url", server.url("bench_refusal")]
    runs = [run(command, cwd=folder, env=env, check=False) for _ in range(rounds)]
    assert all(code == 1 for _, _, code in runs), "the plan must be refused"
    refused_ms = statistics.median(elapsed for elapsed, _, _ in runs)
    print(f"refused after {refused_ms:.0f} ms (exit 1; each run: {', '.join(f'{r[0]:.0f}' for r in runs)} ms)")
    summary.append(
        f"| `sovrium apply` refusing a plan over the lock ceiling ({size} tables) | {refused_ms / 1000:.2f} s "
        f"| ≤ 1 s | {verdict(refused_ms, TARGETS['refusal'])} |"
    )


def start(work: Path, name: str, bin_dir: Path, settings: tuple[str, ...]) -> LocalServer:
    server = LocalServer(data_dir=work / name, bin_dir=bin_dir, settings=settings)
    server.ensure_running()
    return server


def compile_bytecode() -> None:
    """Write the package's bytecode, as installing a wheel does: with PYTHONDONTWRITEBYTECODE set and an editable
    install, every command would otherwise compile each module it imports (about 0.15 s for a plan) first."""
    import compileall

    import sovrium_tui

    compileall.compile_dir(str(Path(sovrium_tui.__file__).parent), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs of each start-up measurement")
    parser.add_argument("--sizes", default="100,500,2000", help="table counts to apply, comma-separated")
    parser.add_argument("--plan-sizes", default=None, help="table counts to plan and check (default: --sizes and 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each apply and plan measurement (median)")
    parser.add_argument("--pg-bin", default=None, help="PostgreSQL binaries (default: embedded PostgreSQL 18)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    plan_sizes = [int(s) for s in args.plan_sizes.split(",") if s] if args.plan_sizes else [*sizes, 5000]
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="sovrium-bench-"))
    work.chmod(0o755)  # the server's OS user (when run as root) must reach it
    bin_dir = Path(args.pg_bin) if args.pg_bin else embedded_bin_dir()
    summary = ["| what | measured | target | |", "|---|---|---|---|"]
    servers: list[LocalServer] = []
    try:
        large = start(work, "pgdata", bin_dir, LARGE_LOCK_TABLE)  # as the embedded server runs
        servers.append(large)
        print(f"server: {bin_dir} (PostgreSQL {large.version()}), {os.cpu_count()} cores")
        bench_startup(large, work, args.runs, summary)
        bench_planning(work, plan_sizes, args.rounds, summary)
        bench_apply(large, work, sizes, args.rounds, summary)
        default = start(work, "pgdata-default", bin_dir, ())  # a user's own server, default settings
        servers.append(default)
        bench_refusal(default, work, max(2000, *sizes), args.rounds, summary)
        print("\n== summary ==")
        print("\n".join(summary))
    finally:
        for server in servers:
            server.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
