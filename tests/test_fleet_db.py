"""`--targets`: one reviewed plan rolled out to a small fleet of real databases, driven through the `sovrium`
command, with what each database holds checked afterwards (history, tables, log), not only exit codes."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

from sovrium_tui.execution.session import MIGRATION_LOCK_KEY

from .acceptance_support import SOVRIUM, clean_env, closed_port, run_sovrium, write_schema
from .conftest import ROLE_PASSWORD, PgTestServer
from .fleet_support import (
    HEAD,
    HEAD_TABLES,
    SCHEMAS,
    FleetDatabases,
    bring_to,
    contents,
    execute,
    fleet_databases,
    make_plans,
    write_targets,
)

__all__ = ["fleet_databases"]  # the fixture, used by name

DRIFT = "ALTER TABLE customers ADD COLUMN added_by_hand integer"


def by_name(document: dict[str, object]) -> dict[str, dict[str, object]]:
    return {t["name"]: t for t in document["targets"]}  # type: ignore[index, union-attr, misc]


async def test_a_fleet_at_mixed_versions_is_brought_to_the_head(
    tmp_path: Path, fleet_databases: FleetDatabases
) -> None:
    plans = await make_plans(tmp_path)
    urls = await fleet_databases.create(5)
    starts = [0, 1, 2, 3, 1]
    for url, version in zip(urls, starts, strict=True):
        await bring_to(url, plans, version)
    targets = write_targets(tmp_path / "fleet.yaml", [(f"t{n}", url, {"n": n}) for n, url in enumerate(urls)])

    result = run_sovrium("apply", "--targets", targets, "--parallel", "3", "--json", cwd=tmp_path)

    assert result.returncode == 0, str(result)
    document = result.json()
    assert document["ok"] is True
    assert [
        (t["name"], t["outcome"], t["from_version"], t["to_version"], t["reason"]) for t in document["targets"]
    ] == [
        ("t0", "applied", 0, 3, None),
        ("t1", "applied", 1, 3, None),
        ("t2", "applied", 2, 3, None),
        ("t3", "up-to-date", 3, 3, None),
        ("t4", "applied", 1, 3, None),
    ]
    assert document["summary"] == {"applied": 4, "up-to-date": 1, "failed": 0, "skipped": 0}
    assert document["targets"][0]["labels"] == {"n": "0"}
    assert isinstance(document["targets"][0]["elapsed_ms"], int)
    for url, start in zip(urls, starts, strict=True):
        held = await contents(url)
        assert held.versions == [1, 2, 3]
        assert held.tables == HEAD_TABLES
        migrated = [(entry[2], entry[3]) for entry in held.log if entry[0] == "MIGRATE"]
        assert migrated == [(v - 1, v) for v in range(1, HEAD + 1)], f"each version applied once (from {start})"
    # Progress went to stderr while it ran; stdout is the JSON document alone.
    assert "t0: started" in result.stderr
    assert "t3: up to date at version 3" in result.stderr

    again = run_sovrium("apply", "--targets", targets, cwd=tmp_path)

    assert again.returncode == 0, str(again)
    header, *rows = again.stdout.splitlines()[:6]
    assert header.split() == ["target", "from", "→", "to", "outcome", "time", "reason"]
    assert [row.split()[:5] for row in rows] == [[f"t{n}", "3", "→", "3", "up-to-date"] for n in range(5)]
    assert again.stdout.splitlines()[-1] == f"5 targets (5 of 5 targets in {targets}): 5 up to date"


async def test_a_failing_canary_stops_the_rollout_with_the_others_untouched(
    tmp_path: Path, fleet_databases: FleetDatabases
) -> None:
    plans = await make_plans(tmp_path)
    urls = await fleet_databases.create(4)
    for url in urls:
        await bring_to(url, plans, 1)
    await execute(urls[0], DRIFT)  # the canary's database was changed by hand: apply refuses it
    before = [await contents(url) for url in urls]
    targets = write_targets(tmp_path / "fleet.yaml", [(f"c{n}", url) for n, url in enumerate(urls)])

    result = run_sovrium("apply", "--targets", targets, "--canary", "1", "--json", cwd=tmp_path)

    assert result.returncode == 1, str(result)
    outcomes = by_name(result.json())
    assert outcomes["c0"]["outcome"] == "failed"
    assert outcomes["c0"]["canary"] is True
    assert outcomes["c0"]["error"] == "DriftDetected"
    assert "added_by_hand" in str(outcomes["c0"]["reason"])
    for name in ("c1", "c2", "c3"):
        assert outcomes[name]["outcome"] == "skipped"
        assert outcomes[name]["reason"] == "not started: canary c0 failed"
    assert result.error_lines == [
        "error: 1 of 4 targets failed, 3 skipped (see the table; re-running continues where this run stopped)"
    ]
    after = [await contents(url) for url in urls]
    assert after[0].versions == [1]
    assert after[1:] == before[1:], "the targets after a failed canary are never touched"


async def test_no_new_target_starts_after_max_failures(tmp_path: Path, fleet_databases: FleetDatabases) -> None:
    plans = await make_plans(tmp_path)
    urls = await fleet_databases.create(5)
    for url in urls:
        await bring_to(url, plans, 2)
    for url in urls[1:3]:
        await execute(url, DRIFT)
    targets = write_targets(tmp_path / "fleet.yaml", [(f"m{n}", url) for n, url in enumerate(urls)])

    result = run_sovrium(
        "apply", "--targets", targets, "--parallel", "1", "--max-failures", "2", "--json", cwd=tmp_path
    )

    assert result.returncode == 1, str(result)
    assert [(t["name"], t["outcome"]) for t in result.json()["targets"]] == [
        ("m0", "applied"),
        ("m1", "failed"),
        ("m2", "failed"),
        ("m3", "skipped"),
        ("m4", "skipped"),
    ]
    assert result.json()["targets"][3]["reason"] == "not started: 2 targets failed (--max-failures 2)"
    assert [(await contents(url)).versions for url in urls] == [[1, 2, 3], [1, 2], [1, 2], [1, 2], [1, 2]]
    assert not [e for e in (await contents(urls[3])).log if e[2] == 2], "a skipped target logged nothing"


async def test_an_unreachable_target_is_reported_without_stopping_the_rest_unless_it_is_the_canary(
    tmp_path: Path, fleet_databases: FleetDatabases
) -> None:
    await make_plans(tmp_path)
    urls = await fleet_databases.create(3)
    down = f"postgresql://postgres@127.0.0.1:{closed_port()}/gone"
    canary_first = write_targets(tmp_path / "canary.yaml", [("down", down), ("u0", urls[0]), ("u1", urls[1])])

    stopped = run_sovrium("apply", "--targets", canary_first, "--canary", "1", "--json", cwd=tmp_path)

    assert stopped.returncode == 1, str(stopped)
    assert [(t["name"], t["outcome"]) for t in stopped.json()["targets"]] == [
        ("down", "failed"),
        ("u0", "skipped"),
        ("u1", "skipped"),
    ]
    assert [(await contents(url)).versions for url in urls[:2]] == [[], []]

    fleet = write_targets(tmp_path / "fleet.yaml", [("u0", urls[0]), ("down", down), ("u2", urls[2])])

    result = run_sovrium("apply", "--targets", fleet, "--parallel", "1", cwd=tmp_path)

    assert result.returncode == 1, str(result)
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:4]}
    assert rows["u0"].split()[:5] == ["u0", "0", "→", "3", "applied"]
    assert rows["u2"].split()[:5] == ["u2", "0", "→", "3", "applied"]
    assert "failed" in rows["down"]
    assert "Database connection failed: connection refused by 127.0.0.1" in rows["down"]
    assert "down: FAILED after" in result.stderr
    assert [(await contents(url)).versions for url in (urls[0], urls[2])] == [[1, 2, 3], [1, 2, 3]]


async def test_a_rerun_after_a_partial_failure_finishes_the_job(
    tmp_path: Path, fleet_databases: FleetDatabases
) -> None:
    plans = await make_plans(tmp_path)
    urls = await fleet_databases.create(4)
    for url in urls:
        await bring_to(url, plans, 1)
    targets = write_targets(tmp_path / "fleet.yaml", [(f"r{n}", url) for n, url in enumerate(urls)])
    blocker = await asyncpg.connect(urls[1])  # another runner holds r1's migration lock for the whole first run
    try:
        await blocker.execute("SELECT pg_advisory_lock($1::bigint)", MIGRATION_LOCK_KEY)
        first = run_sovrium(
            "apply",
            "--targets",
            targets,
            "--parallel",
            "1",
            "--max-failures",
            "1",
            "--lock-wait",
            "0.2",
            "--json",
            cwd=tmp_path,
        )
    finally:
        await blocker.close()
    assert first.returncode == 1, str(first)
    assert [(t["name"], t["outcome"], t["error"]) for t in first.json()["targets"]] == [
        ("r0", "applied", None),
        ("r1", "failed", "LockNotAcquired"),
        ("r2", "skipped", None),
        ("r3", "skipped", None),
    ]
    assert [(await contents(url)).versions for url in urls] == [[1, 2, 3], [1], [1], [1]]

    second = run_sovrium("apply", "--targets", targets, "--json", cwd=tmp_path)

    assert second.returncode == 0, str(second)
    assert [(t["name"], t["outcome"], t["from_version"]) for t in second.json()["targets"]] == [
        ("r0", "up-to-date", 3),
        ("r1", "applied", 1),
        ("r2", "applied", 1),
        ("r3", "applied", 1),
    ]
    for url in urls:
        held = await contents(url)
        assert held.versions == [1, 2, 3]
        assert held.tables == HEAD_TABLES


async def test_concurrent_rollouts_of_one_targets_file_apply_each_plan_once_per_database(
    tmp_path: Path, fleet_databases: FleetDatabases
) -> None:
    plans = await make_plans(tmp_path)
    urls = await fleet_databases.create(4)
    for url in urls:
        await bring_to(url, plans, HEAD - 1)
    targets = write_targets(tmp_path / "fleet.yaml", [(f"k{n}", url) for n, url in enumerate(urls)])
    command = [*SOVRIUM, "apply", "--targets", str(targets), "--parallel", "4", "--json"]

    runs = [
        subprocess.Popen(
            command, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    finished = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], finished
    documents = [json.loads(stdout) for stdout, _ in finished]
    for name in (f"k{n}" for n in range(4)):
        outcomes = sorted(by_name(document)[name]["outcome"] for document in documents)
        assert outcomes == ["applied", "up-to-date"], f"{name}: exactly one run applied the plan"
    for url in urls:
        held = await contents(url)
        assert held.versions == [1, 2, 3]
        assert [entry for entry in held.log if entry[0] == "MIGRATE" and entry[3] == HEAD] == [
            ("MIGRATE", "COMPLETED", HEAD - 1, HEAD)
        ]


async def test_passwords_never_appear_in_any_output(
    tmp_path: Path, fleet_databases: FleetDatabases, password_roles: dict[str, str]
) -> None:
    await make_plans(tmp_path)
    urls = await fleet_databases.create(2)
    role = "sovrium_scram_user"
    wrong = "Wr0ng-pass-4711"
    in_userinfo = urls[0].replace("postgres@", f"{role}:{quote(ROLE_PASSWORD)}@", 1)
    as_parameter = urls[1].replace("postgres@", f"{role}@", 1) + f"&password={quote(ROLE_PASSWORD)}"
    bad_password = urls[1].replace("postgres@", f"{role}:{wrong}@", 1)
    unreachable = f"postgresql://{role}:{wrong}@127.0.0.1:{closed_port()}/x?password={wrong}"
    env = clean_env(FLEET_SECRET_URL=as_parameter)
    targets = tmp_path / "fleet.yaml"
    targets.write_text(
        "targets:\n"
        f"  - {{name: userinfo, url: '{in_userinfo}'}}\n"
        "  - {name: parameter, url_env: FLEET_SECRET_URL}\n"
        f"  - {{name: bad-password, url: '{bad_password}'}}\n"
        f"  - {{name: unreachable, url: '{unreachable}'}}\n"
    )
    schema = write_schema(tmp_path / "head.yaml", SCHEMAS[-1])
    secrets = (ROLE_PASSWORD, quote(ROLE_PASSWORD), wrong)

    outputs = []
    for args in (
        ("apply", "--targets", targets, "--yes"),
        ("apply", "--targets", targets, "--json"),
        ("migrate", schema, "--targets", targets),
        ("migrate", schema, "--targets", targets, "--json"),
        ("status", "--targets", targets),
        ("status", "--targets", targets, "--json"),
        ("drift", "--targets", targets),
        ("drift", "--targets", targets, "--json"),
        ("history", "--targets", targets),
        ("history", "--targets", targets, "--json", "--snapshots"),
    ):
        result = run_sovrium(*args, cwd=tmp_path, env=env)
        assert result.returncode == 1, str(result)  # two targets fail every time
        outputs.append(result.stdout + result.stderr)
        for secret in secrets:
            assert secret not in result.stdout + result.stderr, f"{secret!r} shown by {args}:\n{result}"
    assert "password authentication failed" in outputs[0]
    assert "postgresql://sovrium_scram_user:***@" in outputs[1]
    assert "password=***" in outputs[5]
    assert [(await contents(url)).versions for url in urls] == [[1, 2, 3], [1, 2, 3]]


def test_targets_file_errors_are_reported_with_file_line_and_path_and_touch_nothing(tmp_path: Path) -> None:
    targets = tmp_path / "fleet.yaml"
    targets.write_text(
        "targets:\n"
        "  - name: a\n    url: postgresql://db/a\n    region: eu\n"
        "  - name: b\n"
        "  - name: c\n    url_env: SOVRIUM_TEST_UNSET_URL\n"
        "  - name: a\n    url: postgresql://db/a2\n"
    )

    result = run_sovrium("status", "--targets", targets, cwd=tmp_path)

    assert result.returncode == 1, str(result)
    assert result.error_lines == [
        f"error: {targets}:4: targets[0].region: unknown key 'region' (expected one of: name, url, url_env, labels)",
        f"error: {targets}:5: targets[1]: no database: give url or url_env",
        f"error: {targets}:7: targets[2].url_env: environment variable SOVRIUM_TEST_UNSET_URL is not set (or empty)",
        f"error: {targets}:8: targets[3].name: duplicate target name 'a' (first at targets[0])",
    ]
    as_json = run_sovrium("apply", "--targets", targets, "--json", cwd=tmp_path)
    assert as_json.returncode == 1
    assert as_json.json()["error"] == "TargetsInvalid"
    assert len(as_json.json()["problems"]) == 4
    missing = run_sovrium("history", "--targets", tmp_path / "nope.yaml", cwd=tmp_path)
    assert missing.error_lines == [f"error: {tmp_path / 'nope.yaml'}: targets file not found"]


def test_fleet_options_are_usage_errors_without_a_targets_file_or_with_one_url(tmp_path: Path) -> None:
    targets = write_targets(tmp_path / "fleet.yaml", [("a", "postgresql://db/a")])
    for args, says in (
        (("status", "--only", "region=eu"), "--only only work with --targets FILE"),
        (("apply", "--canary", "1", "--shard", "1/2"), "--shard, --canary only work with --targets FILE"),
        (("status", "--targets", targets, "--database-url", "postgresql://db/b"), "cannot be combined"),
        (("apply", "--targets", targets, "--dry-run"), "--dry-run works on one database"),
        (("drift", "--targets", targets, "--accept", "--reason", "x"), "drift --accept decides for one database"),
        (("drift", "--targets", targets, "--revert-plan", "--reason", "x"), "--revert-plan decides for one"),
        (("status", "--targets", targets, "--shard", "3/2"), "--shard 3/2"),
        (("status", "--targets", targets, "--only", "region=eu"), "--only region=eu matches none"),
    ):
        result = run_sovrium(*args, cwd=tmp_path)
        assert result.returncode == 2, str(result)
        assert says in result.stderr, str(result)


async def test_parallel_is_lowered_to_the_connections_a_role_may_open(
    tmp_path: Path, fleet_databases: FleetDatabases, pg_server: PgTestServer
) -> None:
    urls = await fleet_databases.create(4)
    role = "sovrium_fleet_limited"
    await execute(pg_server.admin_url, f"DROP ROLE IF EXISTS {role}")
    await execute(pg_server.admin_url, f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
    try:
        limited = [url.replace("postgres@", f"{role}@", 1) for url in urls]
        targets = write_targets(tmp_path / "fleet.yaml", [(f"l{n}", url) for n, url in enumerate(limited)])

        result = run_sovrium("status", "--targets", targets, "--parallel", "4", cwd=tmp_path)

        assert result.returncode == 0, str(result)  # four targets read through a role allowed two connections
        assert "the role may open 2 more; a target may need 2): at most 1 at once there instead of 4" in result.stdout
        assert "version 0 · never migrated · 4 targets" in result.stdout
    finally:
        await fleet_databases.drop_all()
        fleet_databases.names.clear()
        await execute(pg_server.admin_url, f"DROP ROLE IF EXISTS {role}")


async def test_fleet_status_groups_targets_by_version_with_drift_lock_and_unreachable(
    tmp_path: Path, fleet_databases: FleetDatabases
) -> None:
    plans = await make_plans(tmp_path)
    urls = await fleet_databases.create(4)
    for url, version in zip(urls, [1, 3, 3, 1], strict=True):
        await bring_to(url, plans, version)
    await execute(urls[2], DRIFT)
    down = f"postgresql://postgres@127.0.0.1:{closed_port()}/gone"
    entries = [("s0", urls[0]), ("s1", urls[1]), ("s2", urls[2]), ("s3", urls[3]), ("down", down)]
    targets = write_targets(tmp_path / "fleet.yaml", entries)
    holder = await asyncpg.connect(urls[3])
    try:
        await holder.execute("SELECT pg_advisory_lock($1::bigint)", MIGRATION_LOCK_KEY)
        text = run_sovrium("status", "--targets", targets, "--plans", tmp_path / "plans", cwd=tmp_path)
        as_json = run_sovrium("status", "--targets", targets, "--plans", tmp_path / "plans", "--json", cwd=tmp_path)
    finally:
        await holder.close()

    assert text.returncode == 1, str(text)  # shown, then exit 1: one target could not be read
    assert text.error_lines == ["error: 1 of 5 targets could not be read: down"]
    lines = text.stdout.splitlines()
    assert lines[0].startswith("version 3 · checksum ") and lines[0].endswith(" · 2 targets")
    assert lines[1].split()[:3] == ["s1", "drift:", "none"]
    assert lines[2].split()[:3] == ["s2", "drift:", "DRIFTED"]
    assert lines[4].startswith("version 1 · checksum ") and lines[4].endswith(" · 2 targets")
    assert "pending: 2, 3" in lines[5]
    assert lines[6].split()[0] == "s3" and "lock: held by" in lines[6] and "lock: free" in lines[5]
    assert lines[8] == "unreachable · 1 target"
    assert "Database connection failed" in lines[9]
    document = as_json.json()
    assert [(g["version"], g["targets"]) for g in document["groups"]] == [
        (3, ["s1", "s2"]),
        (1, ["s0", "s3"]),
        (None, ["down"]),
    ]
    status = by_name(document)
    assert status["s2"]["drift"] is True and status["s1"]["drift"] is False
    assert status["s3"]["lock_holder"] is not None and status["s0"]["lock_holder"] is None
    assert status["s0"]["pending"] == [2, 3]
    assert status["down"]["ok"] is False and status["down"]["error"] == "ConnectionFailed"


async def test_drift_history_and_migrate_work_across_targets(tmp_path: Path, fleet_databases: FleetDatabases) -> None:
    plans = await make_plans(tmp_path)
    urls = await fleet_databases.create(3)
    for url, version in zip(urls, [0, 2, 3], strict=True):
        await bring_to(url, plans, version)
    targets = write_targets(tmp_path / "fleet.yaml", [(f"d{n}", url) for n, url in enumerate(urls)])
    schema = write_schema(tmp_path / "head.yaml", SCHEMAS[-1])

    migrated = run_sovrium("migrate", schema, "--targets", targets, "--json", cwd=tmp_path)

    assert migrated.returncode == 0, str(migrated)
    assert [(t["name"], t["outcome"], t["from_version"]) for t in migrated.json()["targets"]] == [
        ("d0", "applied", 0),
        ("d1", "applied", 2),
        ("d2", "up-to-date", 3),
    ]
    assert [(await contents(url)).tables for url in urls] == [HEAD_TABLES] * 3

    await execute(urls[1], DRIFT)
    drift = run_sovrium("drift", "--targets", targets, "--json", cwd=tmp_path)
    assert drift.returncode == 3, str(drift)
    assert [(t["name"], t["drift"]) for t in drift.json()["targets"]] == [("d0", False), ("d1", True), ("d2", False)]

    history = run_sovrium("history", "--targets", targets, "--only", "name=d1", "--json", cwd=tmp_path)
    assert history.returncode == 0, str(history)
    [only] = history.json()["targets"]
    assert only["name"] == "d1"
    assert [entry["version"] for entry in only["history"]] == [1, 2, 3]


async def test_shards_of_a_rollout_cover_the_fleet_once(tmp_path: Path, fleet_databases: FleetDatabases) -> None:
    await make_plans(tmp_path)
    urls = await fleet_databases.create(5)
    targets = write_targets(tmp_path / "fleet.yaml", [(f"h{n}", url) for n, url in enumerate(urls)])

    def shard(index: int) -> subprocess.Popen[str]:
        command = [*SOVRIUM, "apply", "--targets", str(targets), "--shard", f"{index}/2", "--json"]
        return subprocess.Popen(command, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, text=True)

    jobs = [shard(1), shard(2)]  # two CI jobs of a matrix, at the same time
    documents = [json.loads(job.communicate(timeout=120)[0]) for job in jobs]

    assert [job.returncode for job in jobs] == [0, 0]
    assert [[t["name"] for t in d["targets"]] for d in documents] == [["h0", "h2", "h4"], ["h1", "h3"]]
    assert [d["shard"] for d in documents] == ["1/2", "2/2"]
    assert {t["outcome"] for d in documents for t in d["targets"]} == {"applied"}
    versions = await asyncio.gather(*(contents(url) for url in urls))
    assert [held.versions for held in versions] == [[1, 2, 3]] * 5

    # The README's GitHub Actions summary step merges the shards' JSON and fails on a failed target: run it.
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert MERGE in readme and CHECK in readme
    for index, document in enumerate(documents, start=1):
        (tmp_path / f"shard-{index}.json").write_text(json.dumps(document))
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed: the README's merge step cannot be run here")
    summary_step = ["bash", "-c", f"{MERGE} && {CHECK}"]
    merged = subprocess.run(summary_step, check=False, cwd=tmp_path, capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    assert sorted(t["name"] for t in json.loads((tmp_path / "fleet.json").read_text())["targets"]) == [
        f"h{n}" for n in range(5)
    ]
    failed = documents[1] | {"targets": [documents[1]["targets"][0] | {"outcome": "failed"}]}
    (tmp_path / "shard-2.json").write_text(json.dumps(failed))
    assert subprocess.run(summary_step, check=False, cwd=tmp_path, capture_output=True).returncode != 0


MERGE = "jq -s '{targets: [.[].targets[]]}' shard-*.json > fleet.json"
CHECK = """jq -e 'all(.targets[]; .outcome == "applied" or .outcome == "up-to-date")' fleet.json"""
