"""The executor against a real PostgreSQL: one transaction per plan, guards, audit trail, rollback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sovrium_tui.catalog.introspect import introspect
from sovrium_tui.catalog.model import Catalog, Column, Constraint, Table
from sovrium_tui.errors import (
    DestructiveRefused,
    DriftDetected,
    LockNotAcquired,
    PlanStale,
    SovriumError,
    StepFailed,
)
from sovrium_tui.execution import events
from sovrium_tui.execution.executor import (
    MIGRATION_LOCK_KEY,
    ApplyResult,
    RollbackResult,
    applied_by,
    apply_plan,
    estimate_locks,
    lock_ceiling_problem,
    rollback,
)
from sovrium_tui.execution.store import history, log_entries, read_state
from sovrium_tui.planning.diff import diff
from sovrium_tui.planning.plan import Plan, Step, canonical_json, dump_plan
from sovrium_tui.schema.checksum import checksum_of_tables

# --- tiny hand-made plans -----------------------------------------------------------------------------------

_CATALOGS: dict[str, Catalog] = {}  # app checksum -> the catalog that version should have


def _users_table(*extra: Column) -> Table:
    return Table(
        "users",
        columns=(Column("id", "integer", nullable=False), Column("name", "text"), *extra),
        constraints=(Constraint("users_pkey", "primary_key", "PRIMARY KEY (id)", ("id",)),),
    )


def _posts_table() -> Table:
    return Table(
        "posts",
        columns=(Column("id", "integer", nullable=False), Column("title", "text")),
        constraints=(Constraint("posts_pkey", "primary_key", "PRIMARY KEY (id)", ("id",)),),
    )


def _snapshot_table(name: str, fields: Sequence[str], *, allow_destructive: bool = False) -> dict[str, Any]:
    table: dict[str, Any] = {
        "id": name,
        "name": name,
        "fields": [{"id": i, "name": f, "type": "single-line-text"} for i, f in enumerate(fields, 1)],
    }
    if allow_destructive:
        table["allowDestructive"] = True
    return table


def _step(number: int, op: str, target: str, forward: str, reverse: str, *hazards: str) -> Step:
    return Step(
        number, op, target, f"{op.replace('_', ' ')} {target}", hazards, (forward,), (reverse,) if reverse else ()
    )


def _plan(
    version: int,
    tables: list[dict[str, Any]],
    steps: Sequence[Step],
    catalog: Catalog,
    *,
    after: Plan | None = None,
) -> Plan:
    checksum = checksum_of_tables(tables)
    _CATALOGS[checksum] = catalog
    return Plan(
        version=version,
        app="test",
        from_version=after.version if after else 0,
        from_checksum=after.to_checksum if after else None,
        to_checksum=checksum,
        created_at="2026-01-01T00:00:00Z",
        summary=f"version {version}",
        steps=tuple(steps),
        schema=canonical_json({"name": "test", "tables": tables}),
    ).with_digest()


def catalog_for(snapshot: Any) -> Catalog:
    """The hand-built catalog registered for a snapshot (stands in for the schema compiler)."""
    return _CATALOGS[checksum_of_tables(snapshot["tables"])]


CAT1 = Catalog((_users_table(),))
CAT2 = Catalog((_users_table(Column("email", "text")),))
CAT3 = Catalog((_users_table(Column("email", "text")), _posts_table()))
TABLES1 = [_snapshot_table("users", ["name"])]
TABLES2 = [_snapshot_table("users", ["name", "email"])]
TABLES3 = [*TABLES2, _snapshot_table("posts", ["title"])]

V1 = _plan(
    1,
    TABLES1,
    [_step(1, "create_table", "users", "CREATE TABLE users (id integer PRIMARY KEY, name text)", "DROP TABLE users")],
    CAT1,
)
ADD_EMAIL = _step(
    1, "add_column", "users.email", "ALTER TABLE users ADD COLUMN email text", "ALTER TABLE users DROP COLUMN email"
)
V2 = _plan(2, TABLES2, [ADD_EMAIL], CAT2, after=V1)
V3 = _plan(
    3,
    TABLES3,
    [_step(1, "create_table", "posts", "CREATE TABLE posts (id integer PRIMARY KEY, title text)", "DROP TABLE posts")],
    CAT3,
    after=V2,
)


async def _apply(conn: asyncpg.Connection, plan: Plan, **options: Any) -> ApplyResult:
    settings: dict[str, Any] = {
        "target_catalog": _CATALOGS[plan.to_checksum],
        "allow_destructive": False,
        "applied_by": "tester@test",
        "lock_wait": 5.0,
        "recorded_catalog_for": catalog_for,
        **options,
    }
    return await apply_plan(conn, plan, **settings)


async def _rollback(conn: asyncpg.Connection, **options: Any) -> RollbackResult:
    settings: dict[str, Any] = {
        "to_version": None,
        "force": False,
        "reason": "testing",
        "applied_by": "tester@test",
        "lock_wait": 5.0,
        "target_catalog_for": catalog_for,
        **options,
    }
    return await rollback(conn, **settings)


async def _state_version(conn: asyncpg.Connection) -> int | None:
    state = await read_state(conn)
    return state.version if state else None


# --- apply ------------------------------------------------------------------------------------------------


async def test_plan_applies_and_records_history_state_and_log(db: asyncpg.Connection) -> None:
    seen: list[events.Event] = []
    result = await _apply(db, V1, reporter=seen.append)

    assert result.status == "applied"
    assert [s.id for s in result.steps] == [1]
    assert await introspect(db) == CAT1
    state = await read_state(db)
    assert state is not None
    assert (state.version, state.checksum) == (1, V1.to_checksum)
    [entry] = await history(db)
    assert (entry.version, entry.checksum, entry.applied_by) == (1, V1.to_checksum, "tester@test")
    assert entry.plan["steps"][0]["reverse"] == ["DROP TABLE users"]
    assert "schema" not in entry.plan
    assert entry.schema["tables"] == TABLES1
    [log] = await log_entries(db)
    assert (log.operation, log.status, log.from_version, log.to_version) == ("MIGRATE", "COMPLETED", 0, 1)
    assert [type(e) for e in seen] == [
        events.PlanStarted,
        events.StepStarted,
        events.StepFinished,
        events.PlanFinished,
    ]


async def test_every_step_of_a_plan_runs_in_the_same_transaction(db: asyncpg.Connection) -> None:
    probe = "INSERT INTO xact_probe SELECT txid_current()"
    plan = _plan(
        1,
        TABLES1,
        [
            _step(1, "sql", "", "CREATE TEMP TABLE xact_probe AS SELECT txid_current() AS xid", ""),
            _step(2, "create_table", "users", "CREATE TABLE users (id integer PRIMARY KEY, name text)", ""),
            _step(3, "sql", "", probe, ""),
        ],
        CAT1,
    )
    await _apply(db, plan)

    assert await db.fetchval("SELECT count(DISTINCT xid) FROM xact_probe") == 1
    assert await db.fetchval("SELECT count(*) FROM xact_probe") == 2


async def test_failing_step_rolls_back_the_earlier_steps_and_logs_the_error(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    await db.execute("INSERT INTO users VALUES (1, 'ada'), (2, NULL)")
    before = await introspect(db)
    failing = _plan(
        2,
        TABLES3,
        [
            ADD_EMAIL,
            _step(2, "create_table", "posts", "CREATE TABLE posts (id integer PRIMARY KEY, title text)", ""),
            _step(3, "add_column", "users.nickname", "ALTER TABLE users ADD COLUMN nickname text NOT NULL", ""),
        ],
        CAT3,
        after=V1,
    )
    seen: list[events.Event] = []

    with pytest.raises(StepFailed) as failure:
        await _apply(db, failing, reporter=seen.append)

    assert failure.value.step == 3
    assert failure.value.sql == "ALTER TABLE users ADD COLUMN nickname text NOT NULL"
    assert failure.value.message.startswith("step 3 (add column users.nickname) failed: ")
    assert 'column "nickname" of relation "users" contains null values' in failure.value.message
    assert await introspect(db) == before
    assert await _state_version(db) == 1
    assert [e.version for e in await history(db)] == [1]
    assert await db.fetchval("SELECT count(*) FROM users") == 2
    failed, rolled_back = (await log_entries(db))[-2:]
    assert (failed.operation, failed.status, failed.from_version, failed.to_version) == ("MIGRATE", "FAILED", 1, 2)
    assert failed.reason == failure.value.message
    assert (rolled_back.operation, rolled_back.status, rolled_back.from_version, rolled_back.to_version) == (
        "ROLLBACK",
        "COMPLETED",
        1,
        2,
    )
    assert rolled_back.reason == "automatic rollback of the failed migration: " + failure.value.message
    assert [type(e) for e in seen][-2:] == [events.StepFailed, events.PlanRolledBack]


async def test_failed_first_plan_leaves_no_state_but_its_log_row(db: asyncpg.Connection) -> None:
    broken = _plan(1, TABLES1, [_step(1, "create_table", "users", "CREATE TABLE users (id nosuchtype)", "")], CAT1)

    with pytest.raises(StepFailed, match='type "nosuchtype" does not exist'):
        await _apply(db, broken)

    assert await introspect(db) == Catalog()
    assert await db.fetchval("SELECT count(*) FROM system.schema_checksum") == 0
    assert [(e.operation, e.status) for e in await log_entries(db)] == [
        ("MIGRATE", "FAILED"),
        ("ROLLBACK", "COMPLETED"),
    ]
    assert all("step 1" in (e.reason or "") for e in await log_entries(db))


async def test_stale_plan_is_refused(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    made_from_empty = _plan(1, TABLES2, [ADD_EMAIL], CAT2)  # made as if nothing were applied yet

    with pytest.raises(PlanStale, match=r"plan is stale: it was made from version 0 .* database is at version 1"):
        await _apply(db, made_from_empty)
    assert await introspect(db) == CAT1


@pytest.mark.parametrize(
    "tampering",
    [
        "UPDATE system.schema_checksum SET checksum = repeat('0', 64)",
        "UPDATE system.schema_checksum SET schema = jsonb_set(schema, '{tables,0,name}', '\"people\"')",
    ],
    ids=["checksum-edited", "snapshot-edited"],
)
async def test_tampered_bookkeeping_is_refused(db: asyncpg.Connection, tampering: str) -> None:
    await _apply(db, V1)
    await db.execute(tampering)

    with pytest.raises(DriftDetected, match=r"^Schema drift detected: checksum mismatch\. The stored checksum"):
        await _apply(db, V2)
    assert await introspect(db) == CAT1


async def test_manual_change_between_plans_is_refused_as_drift(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    await db.execute("ALTER TABLE users ADD COLUMN nickname text")

    with pytest.raises(DriftDetected, match=r"^Schema drift detected: .*column users\.nickname \(text\) was added"):
        await _apply(db, V2)
    assert (await introspect(db)).table("users").column("email") is None  # type: ignore[union-attr]


async def test_target_mismatch_after_the_steps_rolls_back(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    claims_email = _plan(
        2, TABLES2, [_step(1, "add_column", "users.mail", "ALTER TABLE users ADD COLUMN mail text", "")], CAT2, after=V1
    )

    with pytest.raises(SovriumError, match=r"the database after the plan differs from its target.*email"):
        await _apply(db, claims_email)
    assert await introspect(db) == CAT1
    assert await _state_version(db) == 1


async def test_dry_run_runs_everything_and_changes_nothing(db: asyncpg.Connection) -> None:
    seen: list[events.Event] = []
    result = await _apply(db, V1, dry_run=True, reporter=seen.append)

    assert result.status == "dry-run"
    assert [s.id for s in result.steps] == [1]
    assert await introspect(db) == Catalog()
    assert await db.fetchval("SELECT to_regclass('system.schema_checksum')") is None
    assert isinstance(seen[-1], events.PlanRolledBack)


# --- destructive steps ---------------------------------------------------------------------------------------


def _destructive_plan(*, allow_in_schema: bool) -> tuple[Plan, Plan]:
    """Version 1 creates users and posts; version 2 drops users.name and the posts table."""
    both = Catalog((_users_table(), _posts_table()))
    tables1 = [_snapshot_table("users", ["name"]), _snapshot_table("posts", ["title"])]
    create = [
        _step(1, "create_table", "users", "CREATE TABLE users (id integer PRIMARY KEY, name text)", ""),
        _step(2, "create_table", "posts", "CREATE TABLE posts (id integer PRIMARY KEY, title text)", ""),
    ]
    first = _plan(1, tables1, create, both)
    users_only = Catalog((Table("users", (Column("id", "integer", nullable=False),), _users_table().constraints),))
    tables2 = [_snapshot_table("users", [], allow_destructive=allow_in_schema)]
    drops = [
        _step(1, "drop_column", "users.name", "ALTER TABLE users DROP COLUMN name", "", "data-loss"),
        _step(2, "drop_table", "posts", "DROP TABLE posts", "", "data-loss", "exclusive-lock"),
    ]
    return first, _plan(2, tables2, drops, users_only, after=first)


async def _fill(db: asyncpg.Connection) -> None:
    await db.execute("INSERT INTO users VALUES (1, 'ada'), (2, 'bob'), (3, NULL)")
    await db.execute("INSERT INTO posts SELECT g, 'p' FROM generate_series(1, 5) g")


async def test_destructive_steps_are_refused_with_counts_then_allowed(db: asyncpg.Connection) -> None:
    first, second = _destructive_plan(allow_in_schema=False)
    await _apply(db, first)
    await _fill(db)

    with pytest.raises(DestructiveRefused) as refusal:
        await _apply(db, second)
    message = refusal.value.message
    assert message.startswith("Destructive operation detected:")
    assert "step 1 drops column users.name (2 non-null values)" in message
    assert "step 2 drops table posts (5 rows)" in message
    assert "--allow-destructive" in message
    assert "allowDestructive: true" in message
    assert await db.fetchval("SELECT count(*) FROM posts") == 5

    result = await _apply(db, second, allow_destructive=True)
    assert result.status == "applied"
    assert await db.fetchval("SELECT to_regclass('posts')") is None


async def test_allow_destructive_in_the_schema_covers_only_that_table(db: asyncpg.Connection) -> None:
    first, second = _destructive_plan(allow_in_schema=True)
    await _apply(db, first)
    await _fill(db)

    with pytest.raises(DestructiveRefused) as refusal:
        await _apply(db, second)
    assert "users.name" not in refusal.value.message
    assert "drops table posts (5 rows)" in refusal.value.message


# --- concurrency and locks ----------------------------------------------------------------------------------


async def test_concurrent_appliers_apply_once_and_all_succeed(db: asyncpg.Connection, database_url: str) -> None:
    slow_v1 = _plan(
        1,
        TABLES1,
        [
            _step(1, "create_table", "users", "CREATE TABLE users (id integer PRIMARY KEY, name text)", ""),
            _step(2, "sql", "", "SELECT pg_sleep(0.3)", ""),
        ],
        CAT1,
    )
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    seen: list[events.Event] = []
    try:
        results = await asyncio.gather(*(_apply(c, slow_v1, lock_wait=30, reporter=seen.append) for c in connections))
    finally:
        await asyncio.gather(*(c.close() for c in connections))

    assert sorted(r.status for r in results) == ["already-applied"] * 3 + ["applied"]
    assert len(await history(db)) == 1
    assert [e.operation for e in await log_entries(db)] == ["MIGRATE"]
    assert any(isinstance(e, events.LockWaiting) for e in seen)


async def test_lock_not_acquired_names_the_holder(db: asyncpg.Connection, database_url: str) -> None:
    holder = await asyncpg.connect(database_url, server_settings={"application_name": "ci-job-7"})
    try:
        await holder.execute("SELECT pg_advisory_lock($1::bigint)", MIGRATION_LOCK_KEY)
        seen: list[events.Event] = []
        started = time.monotonic()
        with pytest.raises(LockNotAcquired, match=r"'ci-job-7' \(pid \d+"):
            await _apply(db, V1, lock_wait=0.5, reporter=seen.append)
        assert time.monotonic() - started < 3
        assert [type(e) for e in seen] == [events.LockWaiting, events.PlanRolledBack]
        assert isinstance(seen[-1], events.PlanRolledBack) and seen[-1].outcome == "unchanged"
    finally:
        await holder.close()
    assert await introspect(db) == Catalog()


async def test_table_locked_by_another_session_fails_within_lock_timeout(
    db: asyncpg.Connection, database_url: str
) -> None:
    await _apply(db, V1)
    other = await asyncpg.connect(database_url)
    try:
        blocker = other.transaction()
        await blocker.start()
        await other.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(LockNotAcquired) as refused:
            await _apply(db, V2, lock_timeout="300ms")
        assert time.monotonic() - started < 5
        message = refused.value.message
        assert "could not lock table users within lock_timeout 300ms" in message
        assert re.search(r"pid \d+ \(user \w+, application '[^']*', idle in transaction for \d+ s", message), message
        assert "last query: 'LOCK TABLE users IN ACCESS EXCLUSIVE MODE'" in message
        assert "Nothing was changed" in message
        await blocker.rollback()
    finally:
        await other.close()
    assert await introspect(db) == CAT1
    assert await _state_version(db) == 1


_RUNNER = """
import asyncio, sys
from pathlib import Path
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.execution.connect import connect
from sovrium_tui.execution.executor import apply_plan
from sovrium_tui.planning.plan import load_plan

async def main() -> None:
    conn = await connect(sys.argv[1])
    await apply_plan(conn, load_plan(Path(sys.argv[2])), target_catalog=Catalog(), allow_destructive=False,
                     applied_by="doomed", lock_wait=5)

asyncio.run(main())
"""


async def _wait_for_query(db: asyncpg.Connection, fragment: str, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1", f"%{fragment}%"
        )
        if found:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no session ran {fragment!r} within {timeout} s")


async def test_killed_runner_leaves_nothing_behind(db: asyncpg.Connection, database_url: str, tmp_path: Path) -> None:
    await _apply(db, V1)
    hanging = _plan(2, TABLES2, [ADD_EMAIL, _step(2, "sql", "", "SELECT pg_sleep(30)", "")], CAT2, after=V1)
    plan_file = tmp_path / "0002_hangs.yaml"
    plan_file.write_text(dump_plan(hanging), encoding="utf-8")
    runner = await asyncio.create_subprocess_exec(sys.executable, "-c", _RUNNER, database_url, str(plan_file))
    try:
        await _wait_for_query(db, "pg_sleep(30)")
        assert await _state_version(db) == 1
        assert await introspect(db) == CAT1  # the runner's uncommitted column is invisible
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        await runner.wait()

    started = time.monotonic()
    result = await _apply(db, V2, lock_wait=20)
    assert result.status == "applied"
    assert time.monotonic() - started < 10  # the server noticed the dead client; no 30 s wait
    assert await introspect(db) == CAT2


# --- the lock-table ceiling ----------------------------------------------------------------------------------


def test_lock_ceiling_rule() -> None:
    create = ("CREATE TABLE public.a (id int)", "CREATE INDEX i ON public.a (id)")
    assert estimate_locks([create, ("  drop  table public.b",), ("ALTER TABLE a ADD COLUMN b int",)]) == 44
    assert lock_ceiling_problem(19_000, 64, 100, 0) == ""
    problem = lock_ceiling_problem(40_000, 64, 100, 0)
    assert "max_locks_per_transaction = 64" in problem
    assert "raise max_locks_per_transaction to at least 192" in problem


async def test_plan_beyond_the_lock_ceiling_is_refused_before_running(db: asyncpg.Connection) -> None:
    many = [_step(i, "sql", f"t{i}", f"CREATE TABLE t{i} (id int)", "") for i in range(1, 2001)]
    seen: list[events.Event] = []

    with pytest.raises(SovriumError, match=r"needs about 40000 locks.*raise max_locks_per_transaction to at least"):
        await _apply(db, _plan(1, TABLES1, many, CAT1), reporter=seen.append)
    assert not any(isinstance(e, events.StepStarted) for e in seen)


# --- rollback ----------------------------------------------------------------------------------------------


async def test_rollback_reverses_the_latest_version(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    await _apply(db, V2)
    await db.execute("INSERT INTO users (id, name) VALUES (1, 'ada')")

    result = await _rollback(db, reason="bad deploy")

    assert (result.from_version, result.to_version, result.reverted_versions) == (2, 1, (2,))
    assert await introspect(db) == CAT1
    assert await db.fetchval("SELECT name FROM users") == "ada"
    state = await read_state(db)
    assert state is not None
    assert (state.version, state.checksum) == (1, V1.to_checksum)
    rolled = [(e.version, e.state, e.rollback_reason) for e in await history(db)]
    assert rolled == [(1, "applied", None), (2, "rolled back", "bad deploy")]
    last = (await log_entries(db))[-1]
    assert (last.operation, last.status, last.from_version, last.to_version, last.reason) == (
        "ROLLBACK",
        "COMPLETED",
        2,
        1,
        "bad deploy",
    )
    assert (await _apply(db, V2)).status == "applied"  # the version can be applied again


async def test_rollback_to_a_version_reverses_newest_first(db: asyncpg.Connection) -> None:
    for plan in (V1, V2, V3):
        await _apply(db, plan)
    seen: list[events.Event] = []

    result = await _rollback(db, to_version=1, reporter=seen.append)

    assert result.reverted_versions == (3, 2)
    started = [e.summary for e in seen if isinstance(e, events.StepStarted)]
    assert started[0].startswith("undoing version 3 step 1")
    assert started[1].startswith("undoing version 2 step 1")
    assert await introspect(db) == CAT1

    await _rollback(db, to_version=0)
    assert await introspect(db) == Catalog()
    assert await read_state(db) is None
    assert {e.state for e in await history(db)} == {"rolled back"}


async def test_rollback_that_loses_data_needs_force(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    await _apply(db, V2)
    await db.execute("INSERT INTO users VALUES (1, 'ada', 'a@x.org'), (2, 'bob', 'b@x.org'), (3, 'cy', NULL)")

    with pytest.raises(DestructiveRefused) as refusal:
        await _rollback(db)
    message = refusal.value.message
    assert message.startswith("Destructive operation detected:")
    assert "undoing version 2 step 1 drops column users.email (2 non-null values)" in message
    assert "--force" in message
    assert await introspect(db) == CAT2
    assert await db.fetchval("SELECT count(email) FROM users") == 2
    assert await _state_version(db) == 2
    refused = (await log_entries(db))[-1]
    assert (refused.operation, refused.status, refused.from_version, refused.to_version) == ("ROLLBACK", "FAILED", 2, 1)
    assert "Destructive operation detected" in (refused.reason or "")

    result = await _rollback(db, force=True, reason="email column was a mistake")
    assert result.data_loss == ("undoing version 2 step 1 drops column users.email (2 non-null values)",)
    assert await introspect(db) == CAT1
    [_, second] = await history(db)
    assert second.rollback_reason == "email column was a mistake"


async def test_rollback_dry_run_changes_nothing(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    await _apply(db, V2)

    result = await _rollback(db, dry_run=True)

    assert result.status == "dry-run"
    assert await introspect(db) == CAT2
    assert await _state_version(db) == 2


async def test_rollback_refuses_clear_mistakes(db: asyncpg.Connection) -> None:
    with pytest.raises(SovriumError, match="nothing to roll back: no migration has been applied"):
        await _rollback(db)
    await _apply(db, V1)
    await _apply(db, V2)
    await _rollback(db)
    await _apply(db, _plan(3, TABLES2, [ADD_EMAIL], CAT2, after=V1))  # versions 1 and 3 applied; 2 rolled back
    with pytest.raises(SovriumError, match=r"cannot roll back to version 2: .*\(applied: 1, 3;"):
        await _rollback(db, to_version=2)
    with pytest.raises(SovriumError, match="the database is at version 3, not above 5"):
        await _rollback(db, to_version=5)
    assert await _state_version(db) == 3


async def test_rollback_refuses_tampered_bookkeeping(db: asyncpg.Connection) -> None:
    await _apply(db, V1)
    await db.execute("UPDATE system.schema_checksum SET checksum = repeat('0', 64)")

    with pytest.raises(DriftDetected, match="checksum mismatch"):
        await _rollback(db)
    assert await introspect(db) == CAT1


# --- who ran it ------------------------------------------------------------------------------------------


def test_applied_by_names_user_host_and_ci_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID"):
        monkeypatch.delenv(variable, raising=False)
    assert "@" in applied_by()
    assert "(ci:" not in applied_by()
    monkeypatch.setenv("CI_PIPELINE_ID", "4711")
    assert applied_by().endswith(" (ci: 4711)")


# --- with the real schema compiler and planner ------------------------------------------------------------

_SHOP = """
name: shop
tables:
  - id: 1
    name: customers
    fields:
      - {id: 1, name: email, type: email, required: true, unique: true}
      - {id: 2, name: full_name, type: single-line-text}
"""
_SHOP_WITH_PHONE = _SHOP + "      - {id: 3, name: phone, type: phone-number}\n"


async def _plan_from_schema(db: asyncpg.Connection, text: str) -> tuple[Plan, Catalog]:
    from sovrium_tui.catalog.compile import compile_app
    from sovrium_tui.planning.planner import Origin, make_plan
    from sovrium_tui.schema import app_from_document, parse_app

    app = parse_app(text)
    state = await read_state(db)
    recorded_app = app_from_document(state.schema) if state else None
    origin = Origin(
        state.version if state else 0, state.checksum if state else None, recorded_app, await introspect(db)
    )
    plan = make_plan(app, origin)
    assert plan is not None
    return plan, compile_app(app)


async def test_compiled_schemas_apply_drift_and_roll_back_with_the_default_compiler(db: asyncpg.Connection) -> None:
    first, first_catalog = await _plan_from_schema(db, _SHOP)
    await apply_plan(db, first, target_catalog=first_catalog, allow_destructive=False, applied_by="t", lock_wait=5)
    second, second_catalog = await _plan_from_schema(db, _SHOP_WITH_PHONE)
    await db.execute("ALTER TABLE customers ADD COLUMN fax text")

    with pytest.raises(DriftDetected, match=r"column customers\.fax \(text\) was added"):
        await apply_plan(
            db, second, target_catalog=second_catalog, allow_destructive=False, applied_by="t", lock_wait=5
        )
    await db.execute("ALTER TABLE customers DROP COLUMN fax")
    await apply_plan(db, second, target_catalog=second_catalog, allow_destructive=False, applied_by="t", lock_wait=5)
    await db.execute("INSERT INTO customers (email, phone) VALUES ('a@x.org', '+33 1')")

    with pytest.raises(DestructiveRefused, match=r"drops column customers\.phone \(1 non-null value\)"):
        await rollback(db, to_version=None, force=False, reason="r", applied_by="t", lock_wait=5)
    await rollback(db, to_version=None, force=True, reason="r", applied_by="t", lock_wait=5)
    assert diff(await introspect(db), first_catalog) == []
    await rollback(db, to_version=0, force=True, reason="r", applied_by="t", lock_wait=5)
    assert await introspect(db) == Catalog()
