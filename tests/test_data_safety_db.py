"""Never lose data, and never change the database while saying otherwise (issue: races, injected transaction
control, trusted hazards, rollback ceilings, and the guards around them).

Every test runs against a real PostgreSQL and checks what is in the database afterwards, not only exit codes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused, PlanInvalid, PlanStale, PlanTooLarge, SovriumError
from sovrium_tui.execution import events
from sovrium_tui.planning.plan import dump_plan, load_plan, parse_plan
from sovrium_tui.schema.checksum import checksum_of_tables
from tests.acceptance_support import (
    Cli,
    app_schema,
    catalog_state,
    checksum_row,
    field,
    has_system_schema,
    history_rows,
    log_rows,
    public_tables,
    run_sovrium,
    table,
    write_schema,
)

ITEMS_V1 = table(1, "items", field(1, "title"))
ITEMS_V2 = table(1, "items", field(1, "title"), field(2, "note"))
ORDERS = table(2, "orders", field(1, "reference"))


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


def _schema(cli: Cli, *tables: dict[str, Any], name: str = "app.yaml", app: str = "app") -> Path:
    return write_schema(cli.cwd / name, app_schema(*tables, name=app))


async def _migrate(cli: Cli, *tables: dict[str, Any]) -> None:
    await services.migrate(_schema(cli, *tables), database_url=cli.database_url, lock_wait=5)


async def _waiting_for_a_lock(db: asyncpg.Connection, table_name: str, seconds: float = 10) -> None:
    """Return once some session waits for a lock on `table_name` (the migration reached its lock)."""
    for _ in range(int(seconds / 0.05)):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass($1)", table_name
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nobody waited for a lock on {table_name}")


@pytest.fixture
async def writer(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second session, as an application writing while a migration runs."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def _run_while_writer_commits(
    db: asyncpg.Connection, writer: asyncpg.Connection, table_name: str, operation: Awaitable[Any]
) -> Any:
    """Start `operation` while `writer` holds an open transaction; commit it once the operation waits for it."""
    task = asyncio.ensure_future(operation)
    try:
        await _waiting_for_a_lock(db, table_name)
    finally:
        await writer.execute("COMMIT")
    return await task


# --- 1. rows a concurrent writer commits are counted, never dropped unseen ------------------------------------


@pytest.mark.parametrize("isolation", ["read committed", "repeatable read"])
async def test_rollback_counts_rows_a_writer_commits_while_it_waits(
    cli: Cli, db: asyncpg.Connection, writer: asyncpg.Connection, database_url: str, isolation: str
) -> None:
    # The database's default isolation must not matter: counts are taken after the locks, in READ COMMITTED.
    database = await db.fetchval("SELECT current_database()")
    await db.execute(f"ALTER DATABASE \"{database}\" SET default_transaction_isolation = '{isolation}'")
    await _migrate(cli, ITEMS_V1)
    await _migrate(cli, ITEMS_V2, ORDERS)
    await writer.execute("BEGIN")
    await writer.execute("INSERT INTO orders (reference) VALUES ('A-1'), ('A-2')")

    rollback = services.rollback(reason="bad release", database_url=database_url, lock_wait=5)
    with pytest.raises(DestructiveRefused) as refused:
        await _run_while_writer_commits(db, writer, "orders", rollback)

    assert "drops table orders (2 rows)" in refused.value.message
    assert await db.fetchval("SELECT count(*) FROM orders") == 2, "the committed orders are still there"
    assert (await checksum_row(db) or {})["version"] == 2


async def test_rollback_counts_values_an_update_commits_while_it_waits(
    cli: Cli, db: asyncpg.Connection, writer: asyncpg.Connection, database_url: str
) -> None:
    await _migrate(cli, ITEMS_V1)
    await db.execute("INSERT INTO items (title) VALUES ('kept')")
    await _migrate(cli, ITEMS_V2, ORDERS)
    await writer.execute("BEGIN")
    await writer.execute("UPDATE items SET note = 'written during the rollback'")

    rollback = services.rollback(to_version=1, database_url=database_url, lock_wait=5)
    with pytest.raises(DestructiveRefused, match=r"drops column items\.note \(1 non-null value\)"):
        await _run_while_writer_commits(db, writer, "items", rollback)

    assert await db.fetchval("SELECT note FROM items") == "written during the rollback"


async def test_apply_counts_values_a_writer_commits_while_it_waits(
    cli: Cli, db: asyncpg.Connection, writer: asyncpg.Connection, database_url: str
) -> None:
    # long-text (text) to single-line-text (varchar(255)) keeps every value that is short enough: allowed
    # while nothing is longer, refused once a writer commits a longer one before the locks are granted.
    await _migrate(cli, table(1, "items", field(1, "title", "long-text")))
    await db.execute("INSERT INTO items (title) VALUES ('short')")
    await writer.execute("BEGIN")
    await writer.execute("INSERT INTO items (title) VALUES (repeat('x', 300))")

    migrate = services.migrate(_schema(cli, ITEMS_V1), database_url=database_url, lock_wait=5)
    with pytest.raises(DestructiveRefused, match=r"changes the type of column items\.title \(1 value that would"):
        await _run_while_writer_commits(db, writer, "items", migrate)

    assert await db.fetchval("SELECT max(length(title)) FROM items") == 300
    assert (
        await db.fetchval(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'items'::regclass AND attname = 'title'"
        )
        == "text"
    )


async def test_a_lock_held_too_long_names_the_session_and_changes_nothing(
    cli: Cli, db: asyncpg.Connection, writer: asyncpg.Connection, database_url: str
) -> None:
    await _migrate(cli, ITEMS_V1)
    await _migrate(cli, ITEMS_V2, ORDERS)
    before = await catalog_state(db)
    await writer.execute("SET application_name = 'nightly-report'")
    await writer.execute("BEGIN")
    await writer.execute("SELECT count(*) FROM orders")

    with pytest.raises(SovriumError) as refused:
        await services.rollback(database_url=database_url, lock_wait=5, lock_timeout="300ms")
    await writer.execute("ROLLBACK")

    message = refused.value.message
    assert "could not lock tables items, orders within lock_timeout 300ms" in message
    assert re.search(r"pid \d+ \(user \w+, application 'nightly-report', idle in transaction", message), message
    assert "last query: 'SELECT count(*) FROM orders'" in message
    assert await catalog_state(db) == before


# --- 2. statements that would break the one transaction are refused -------------------------------------------

_TRANSACTION_BREAKERS = [
    "COMMIT",
    "ROLLBACK",
    "BEGIN",
    "START TRANSACTION",
    "END",
    "ABORT",
    "SAVEPOINT s1",
    "RELEASE SAVEPOINT s1",
    "ROLLBACK TO SAVEPOINT s1",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "PREPARE TRANSACTION 'x'",
    "COMMIT PREPARED 'x'",
    "ROLLBACK PREPARED 'x'",
    "CREATE INDEX CONCURRENTLY items_title ON items (title)",
    "DROP INDEX CONCURRENTLY items_title",
    "REINDEX TABLE CONCURRENTLY items",
    "VACUUM items",
    "CREATE DATABASE other",
    "DROP DATABASE other",
    "ALTER SYSTEM SET work_mem = '64MB'",
    "CREATE TABLESPACE t LOCATION '/tmp'",
    "DISCARD ALL",
    "RESET ALL",
    "SET standard_conforming_strings = off",
    "SELECT set_config('standard_conforming_strings', 'off', true)",
    "COPY items FROM STDIN",
]


def _plan_with_step(statement: str) -> str:
    """A plan file (YAML text) whose second step is a hand-written statement, as a reviewer would add it."""
    document = {
        "sovrium_plan": 1,
        "version": 1,
        "app": "app",
        "from": {"version": 0, "checksum": None},
        "to": {"checksum": checksum_of_tables([])},
        "created_at": "2026-11-30T00:00:00Z",
        "summary": "hand edit",
        "steps": [
            {
                "id": 1,
                "op": "sql",
                "target": "x",
                "summary": "make a table",
                "hazards": [],
                "forward": ["CREATE TABLE x (a int)"],
                "reverse": ["DROP TABLE x"],
            },
            {"op": "sql", "forward": [statement], "reverse": []},
        ],
        "digest": "sha256:" + "0" * 64,
        "schema": {"name": "app", "tables": []},
    }
    return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.parametrize("statement", _TRANSACTION_BREAKERS)
def test_statements_that_break_the_transaction_are_refused_with_their_step(statement: str) -> None:
    reasons = r"(transaction|standard_conforming_strings|STDIN|RESET ALL)"
    with pytest.raises(PlanInvalid, match=rf"step 2 forward statement 1: .*{reasons}") as e:
        parse_plan(_plan_with_step(statement), source="0001_x.yaml", check_digest=False)
    assert "steps[1]" in e.value.message


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE items VALIDATE CONSTRAINT c",
        "CREATE POLICY p ON items USING (true)",
        "ALTER TABLE items ENABLE ROW LEVEL SECURITY",
        "ALTER TYPE mood ADD VALUE 'happy'",
        "ALTER TABLE items ALTER COLUMN title SET STATISTICS 500",
        "ANALYZE items",
        "SET LOCAL lock_timeout = '1s'",
        "COPY items TO '/tmp/items.csv'",
    ],
)
def test_valid_postgresql_statements_are_accepted_in_a_hand_written_step(statement: str) -> None:
    plan = parse_plan(_plan_with_step(statement), source="0001_x.yaml", check_digest=False)
    assert plan.steps[1].forward == (statement,)
    assert plan.steps[1].target == "" and plan.steps[1].id == 2, "a hand-written step needs no target or id"


@pytest.mark.parametrize(
    ("statement", "changed"),
    [
        ("DELETE FROM system.migration_history WHERE version > 1", "system.migration_history"),
        ("UPDATE system.schema_checksum SET version = 7", "system.schema_checksum"),
        (
            "WITH gone AS (DELETE FROM system.migration_log RETURNING id) SELECT count(*) FROM gone",
            "system.migration_log",
        ),
        ("TRUNCATE system.migration_log", "system.migration_log"),
        ("DROP TABLE system.schema_checksum", "system.schema_checksum"),
        ("ALTER TABLE system.migration_history DISABLE TRIGGER ALL", "system.migration_history"),
        ("DROP INDEX system.migration_history_applied_version", "system.migration_history_applied_version"),
        (
            "CREATE TRIGGER t BEFORE INSERT ON system.migration_log FOR EACH ROW EXECUTE FUNCTION f()",
            "system.migration_log",
        ),
        ("DROP SCHEMA system CASCADE", "schema system"),
        ("ALTER SCHEMA system RENAME TO archive", "schema system"),
    ],
)
def test_a_step_may_not_change_the_tools_own_bookkeeping(statement: str, changed: str) -> None:
    with pytest.raises(PlanInvalid, match=rf"step 2 forward statement 1: changes {changed}.*only the tool writes it"):
        parse_plan(_plan_with_step(statement), source="0001_x.yaml", check_digest=False)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT max(version) FROM system.migration_history",
        "INSERT INTO items (title) SELECT reason FROM system.migration_log",
        "CREATE VIEW releases AS SELECT version, applied_at FROM system.migration_history",
        "GRANT SELECT ON system.migration_log TO PUBLIC",
        "UPDATE system.sovrium_own_table SET a = 1",  # Sovrium's own tables in `system` are not this tool's
    ],
)
def test_a_step_may_read_the_bookkeeping(statement: str) -> None:
    plan = parse_plan(_plan_with_step(statement), source="0001_x.yaml", check_digest=False)
    assert plan.steps[1].forward == (statement,)


async def test_a_plan_edited_to_rewrite_the_audit_trail_is_refused_at_apply(cli: Cli, db: asyncpg.Connection) -> None:
    await _migrate(cli, ITEMS_V1)
    plan_path = await _planned(cli, ITEMS_V2)
    _edit_plan(plan_path, _add_step(None, "DELETE FROM system.migration_history"))

    rehash = cli.run("plan", "--rehash", plan_path)
    assert rehash.returncode == 1 and "changes system.migration_history" in rehash.stderr
    applied = cli.db_fails("apply", plan_path, "--yes", "--allow-destructive")
    assert "changes system.migration_history" in applied.stderr
    assert await db.fetchval("SELECT count(*) FROM system.migration_history") == 1


async def _planned(cli: Cli, *tables: dict[str, Any]) -> Path:
    """Plan the schema against the database into cli.cwd/plans, and return the new plan file."""
    outcome = await services.plan(_schema(cli, *tables), cli.cwd / "plans", database_url=cli.database_url)
    assert outcome.path is not None
    return outcome.path


def _edit_plan(path: Path, change: Any) -> None:
    """Edit a plan file's YAML as a reviewer would (keeping the digest line to be re-hashed)."""
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def _add_step(position: int | None, statement: str) -> Any:
    """An edit that adds a hand-written step (at `position`, default last) and numbers the steps again."""

    def change(document: dict[str, Any]) -> None:
        steps = document["steps"]
        steps.insert(len(steps) if position is None else position, {"op": "sql", "forward": [statement], "reverse": []})
        for number, step in enumerate(steps, start=1):
            step["id"] = number

    return change


async def test_an_injected_commit_is_refused_at_rehash_check_and_apply(cli: Cli, db: asyncpg.Connection) -> None:
    plan_path = await _planned(cli, ITEMS_V1)
    _edit_plan(plan_path, _add_step(1, "COMMIT"))

    rehash = cli.run("plan", "--rehash", plan_path)
    assert rehash.returncode == 1
    assert "step 2 forward statement 1: transaction control (COMMIT) is not allowed" in rehash.stderr
    check = cli.run("check", cli.cwd / "app.yaml", "--plans", plan_path.parent)
    assert check.returncode == 1 and "transaction control (COMMIT)" in check.stdout + check.stderr
    applied = cli.db_fails("apply", plan_path, "--yes")
    assert "transaction control (COMMIT)" in applied.stderr
    assert await public_tables(db) == set(), "not even the step before COMMIT ran"
    assert not await has_system_schema(db)


@pytest.mark.parametrize(
    "smuggled",
    [
        "CREATE TABLE extra (a int); DROP TABLE items",
        "CREATE TABLE extra (a text DEFAULT 'x;y');DROP TABLE items",
        "CREATE INDEX extra ON items (title) /* ; */; DROP TABLE items",
    ],
)
async def test_a_drop_smuggled_into_a_generated_step_under_a_forged_digest_is_refused(
    cli: Cli, db: asyncpg.Connection, smuggled: str
) -> None:
    """`apply` takes the statements this tool writes to create as written when the digest is intact; a digest made
    again by hand over a step that hides a second statement does not make it pass unread."""
    await _migrate(cli, ITEMS_V1)
    await db.execute("INSERT INTO items (title) VALUES ('keep me')")
    plan_path = await _planned(cli, ITEMS_V1, ORDERS)
    plan = load_plan(plan_path)
    first = plan.steps[0]
    assert first.op != "sql" and first.forward[0].startswith("CREATE ")
    forged = replace(plan, steps=(replace(first, forward=(smuggled, *first.forward[1:])), *plan.steps[1:]))
    plan_path.write_text(dump_plan(forged.with_digest()))

    refused = cli.db_fails("apply", plan_path, "--yes", "--allow-destructive")

    assert "step 1 forward statement 1: more than one statement" in refused.stderr
    assert await db.fetchval("SELECT title FROM items") == "keep me"
    assert await public_tables(db) == {"items"}


# --- 3. literals mean the same under every server setting ------------------------------------------------------

_HOSTILE_TEXTS = [
    "\\'; COMMIT; DROP TABLE sec.victim; --",
    "'); DROP TABLE sec.victim; --",
    "\\",
    "\\\\'",
    "$$; DROP TABLE sec.victim; $$",
    "E'\\x41'",
    "line\nbreak",
]


@pytest.mark.parametrize("conforming", ["off", "on"])
async def test_hostile_values_stay_data_whatever_standard_conforming_strings_says(
    cli: Cli, db: asyncpg.Connection, conforming: str
) -> None:
    database = await db.fetchval("SELECT current_database()")
    await db.execute(f'ALTER DATABASE "{database}" SET standard_conforming_strings = {conforming}')
    await db.execute("CREATE SCHEMA sec; CREATE TABLE sec.victim (id int); INSERT INTO sec.victim VALUES (1)")
    fields = [field(i, f"value_{i}", default=text) for i, text in enumerate(_HOSTILE_TEXTS, start=1)]
    options = [f"ok{text}" for text in _HOSTILE_TEXTS]
    fields.append(field(50, "choice", "single-select", options=options, default=options[0]))
    fields.append(field(51, "tags", "multi-select", options=options, default=options[:2]))
    hostile = table(
        1, "items", *fields, indexes=[{"name": "items_safe", "fields": ["value_1"], "where": "value_2 <> 'it''s \\'"}]
    )
    schema = _schema(cli, hostile)

    cli.db_ok("migrate", schema)

    assert await db.fetchval("SELECT count(*) FROM sec.victim") == 1, "nothing ran but the migration"
    await db.execute("SET standard_conforming_strings = on")
    await db.execute("INSERT INTO items DEFAULT VALUES")
    row = await db.fetchrow("SELECT * FROM items")
    assert [row[f"value_{i}"] for i in range(1, len(_HOSTILE_TEXTS) + 1)] == _HOSTILE_TEXTS
    assert (row["choice"], list(row["tags"])) == (options[0], options[:2])
    assert cli.db("drift").returncode == 0
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"


async def test_the_sql_command_is_safe_to_run_with_standard_conforming_strings_off(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await db.execute("CREATE SCHEMA sec; CREATE TABLE sec.victim (id int)")
    schema = _schema(cli, table(1, "items", field(1, "title", default=_HOSTILE_TEXTS[0])))
    script = cli.ok("sql", schema).stdout

    await db.execute("SET standard_conforming_strings = off")
    await db.execute(script)

    assert await db.fetchval("SELECT to_regclass('sec.victim') IS NOT NULL")
    await db.execute("SET standard_conforming_strings = on; INSERT INTO items DEFAULT VALUES")
    assert await db.fetchval("SELECT title FROM items") == _HOSTILE_TEXTS[0]


# --- 4. hazards come from the statements, never from the file ---------------------------------------------------


async def test_a_drop_disguised_as_a_harmless_step_is_still_refused(cli: Cli, db: asyncpg.Connection) -> None:
    await _migrate(cli, ITEMS_V2)
    await db.execute("INSERT INTO items (title, note) VALUES ('a', 'keep me'), ('b', NULL)")
    plan_path = await _planned(cli, table(1, "items", field(1, "title"), allowDestructive=False))

    def disguise(document: dict[str, Any]) -> None:
        for step in document["steps"]:
            step["hazards"], step["op"] = [], "sql"

    _edit_plan(plan_path, disguise)
    cli.ok("plan", "--rehash", plan_path)
    refused = cli.db_fails("apply", plan_path, "--yes")

    assert "drops column items.note (1 non-null value)" in refused.stderr
    assert "Rows that break a new rule" not in refused.stderr  # only where a rule is added
    assert await db.fetchval("SELECT note FROM items WHERE title = 'a'") == "keep me"


@pytest.mark.parametrize(
    ("statement", "loss"),
    [
        ("DELETE FROM items WHERE title = 'a'", "deletes rows of items (1 row)"),
        ("UPDATE items SET note = NULL", "overwrites note in items (1 row whose values would change)"),
        ("TRUNCATE items", "empties table items (TRUNCATE) (2 rows)"),
        ("DROP TABLE items", "drops table items (2 rows)"),
        ("ALTER TABLE items DROP COLUMN note", "drops column items.note (1 non-null value)"),
        ("WITH gone AS (DELETE FROM items RETURNING id) SELECT count(*) FROM gone", "deletes rows of items (2 rows)"),
        ("DO $$ BEGIN DELETE FROM items; END $$", "runs DO block, whose effect on data the tool cannot analyse"),
        ("ALTER TABLE items ALTER COLUMN note TYPE varchar(2)", "changes the type of column items.note (1 value"),
    ],
)
async def test_hand_written_steps_that_destroy_data_are_guarded_like_generated_ones(
    cli: Cli, db: asyncpg.Connection, statement: str, loss: str
) -> None:
    await _migrate(cli, ITEMS_V2)
    await db.execute("INSERT INTO items (title, note) VALUES ('a', 'keep me'), ('b', NULL)")
    plan_path = await _planned(cli, table(1, "items", field(1, "title"), field(2, "note"), field(3, "extra")))
    _edit_plan(plan_path, _add_step(None, statement))
    cli.ok("plan", "--rehash", plan_path)
    before = await catalog_state(db)

    refused = cli.db_fails("apply", plan_path, "--yes")

    assert loss in refused.stderr
    assert await catalog_state(db) == before
    assert await db.fetchval("SELECT count(*) FROM items") == 2
    assert await db.fetchval("SELECT note FROM items WHERE title = 'a'") == "keep me"


async def test_a_trigger_a_hand_written_step_creates_is_code_the_tool_cannot_see_into(
    cli: Cli, db: asyncpg.Connection
) -> None:
    """Found by a fuzzer: a function that deletes, fired by an insert the step makes, passed as harmless."""
    await _migrate(cli, ITEMS_V2)
    await db.execute("INSERT INTO items (title, note) VALUES ('a', 'keep me'), ('b', NULL)")
    plan_path = await _planned(cli, table(1, "items", field(1, "title"), field(2, "note"), field(3, "extra")))
    statements = [
        "CREATE FUNCTION public.wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM public.items "
        "WHERE title <> NEW.title; RETURN NULL; END $$",
        "CREATE TRIGGER wipe_on_insert AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.wipe()",
        "INSERT INTO public.items (title) VALUES ('c')",
        "DROP TRIGGER wipe_on_insert ON public.items",
        "DROP FUNCTION public.wipe()",
    ]

    def add(document: dict[str, Any]) -> None:
        document["steps"].append({"op": "sql", "forward": statements, "reverse": []})
        for number, step in enumerate(document["steps"], start=1):
            step["id"] = number

    _edit_plan(plan_path, add)
    cli.ok("plan", "--rehash", plan_path)
    before = await catalog_state(db)

    refused = cli.db_fails("apply", plan_path, "--yes")

    assert "runs CREATE TRIGGER wipe_on_insert (its function runs on later changes)" in refused.stderr
    assert await catalog_state(db) == before
    assert await db.fetchval("SELECT count(*) FROM items") == 2
    cli.db_ok("apply", plan_path, "--yes", "--allow-destructive")
    assert await db.fetch("SELECT title FROM items") == [("c",)], "allowed, it ran as written"


async def test_a_backfill_that_overwrites_nothing_is_not_a_loss(cli: Cli, db: asyncpg.Connection) -> None:
    await _migrate(cli, ITEMS_V2)
    await db.execute("INSERT INTO items (title, note) VALUES ('a', 'keep me'), ('b', NULL)")
    plan_path = await _planned(cli, table(1, "items", field(1, "title"), field(2, "note"), field(3, "extra")))
    _edit_plan(plan_path, _add_step(None, "UPDATE items SET note = 'filled' WHERE note IS NULL"))
    cli.ok("plan", "--rehash", plan_path)
    assert cli.ok("show", plan_path, "--json").json()["destructive_steps"] == [], "review does not flag it either"

    cli.db_ok("apply", plan_path, "--yes")

    assert sorted(await db.fetch("SELECT note FROM items")) == [("filled",), ("keep me",)]


async def test_a_renamed_formula_field_rebuilt_in_the_same_plan_is_not_data_loss(
    cli: Cli, db: asyncpg.Connection
) -> None:
    """The formula column is renamed by an early step and rebuilt by a later one: counted before the first step,
    it does not exist yet under its new name, and must not be taken for a dropped column of data."""
    full = field(3, "full_name", "formula", formula="first || ' ' || last", resultType="text")
    await _migrate(cli, table(1, "people", field(1, "first"), field(2, "last"), full))
    await db.execute("INSERT INTO people (first, last) VALUES ('Ada', 'Lovelace')")
    display = field(3, "display", "formula", formula="given || ' ' || family", resultType="text")

    await _migrate(cli, table(1, "people", field(1, "given"), field(2, "family"), display))

    assert await db.fetchval("SELECT display FROM people") == "Ada Lovelace"
    await services.rollback(reason="back", database_url=cli.database_url)
    assert await db.fetchval("SELECT full_name FROM people") == "Ada Lovelace"


async def test_dropping_what_is_not_there_is_no_loss(cli: Cli, db: asyncpg.Connection) -> None:
    await _migrate(cli, ITEMS_V1)
    plan_path = await _planned(cli, ITEMS_V2)
    _edit_plan(plan_path, _add_step(None, "DROP TABLE IF EXISTS leftover_import"))
    _edit_plan(plan_path, _add_step(None, "ALTER TABLE items DROP COLUMN IF EXISTS legacy_flag"))
    cli.ok("plan", "--rehash", plan_path)

    cli.db_ok("apply", plan_path, "--yes")

    assert await db.fetchval("SELECT count(*) FROM system.migration_history") == 2


async def test_a_hand_written_step_that_raises_fails_with_all_of_its_message(cli: Cli, db: asyncpg.Connection) -> None:
    await _migrate(cli, ITEMS_V1)
    plan_path = await _planned(cli, ITEMS_V2)
    raising = "DO $$ BEGIN RAISE EXCEPTION E'backfill stopped:\\n  item 7 has no owner\\nfix it first'; END $$"
    _edit_plan(plan_path, _add_step(None, raising))
    cli.ok("plan", "--rehash", plan_path)

    failed = cli.db_fails("apply", plan_path, "--yes", "--allow-destructive")

    assert "failed: backfill stopped: item 7 has no owner fix it first" in failed.stderr
    assert "nothing was changed" in failed.stderr
    assert await db.fetchval("SELECT count(*) FROM information_schema.columns WHERE column_name = 'note'") == 0


# --- 5. rollback checks the lock ceiling before it starts --------------------------------------------------------


async def test_a_rollback_beyond_the_lock_table_is_refused_before_anything_runs(
    cli: Cli, db: asyncpg.Connection, database_url: str
) -> None:
    await _migrate(cli, ITEMS_V1)
    await _migrate(cli, ITEMS_V2, ORDERS)
    steps = [
        {
            "id": i,
            "op": "sql",
            "summary": f"t{i}",
            "target": "",
            "hazards": [],
            "forward": ["SELECT 1"],
            "reverse": [f"DROP TABLE IF EXISTS t{i}"],
        }
        for i in range(1, 2001)
    ]
    await db.execute(
        "UPDATE system.migration_history SET plan = jsonb_set(plan, '{steps}', $1::jsonb) WHERE version = 2",
        json.dumps(steps),
    )
    before = await catalog_state(db)
    log_before = await log_rows(db)

    with pytest.raises(PlanTooLarge, match=r"this rollback needs about 40000 locks.*max_locks_per_transaction"):
        await services.rollback(database_url=database_url, lock_wait=5)

    assert await catalog_state(db) == before
    assert await log_rows(db) == log_before, "a refusal before anything ran writes nothing"


# --- 6. passwords in URL parameters are never shown -------------------------------------------------------------


def test_a_password_given_as_a_url_parameter_is_never_shown(cli: Cli) -> None:
    assert cli.database_url is not None
    url = cli.database_url + "&password=hunter2"
    for args in (("status",), ("status", "--json"), ("history", "--json"), ("drift", "--json")):
        result = cli.run(*args, "--database-url", url)
        assert "hunter2" not in result.stdout + result.stderr, str(result)
    shown = cli.run("status", "--json", "--database-url", url).json()["database"]
    assert "password=***" in shown


# --- 7 and 8. apply refuses what cannot be right -----------------------------------------------------------------


def test_applying_a_path_that_does_not_exist_fails(cli: Cli) -> None:
    failed = cli.db_fails("apply", cli.cwd / "nonexistent", "--yes")
    assert "no plan file or plans directory at" in failed.stderr


async def test_a_plan_whose_version_was_reached_another_way_is_stale(cli: Cli, db: asyncpg.Connection) -> None:
    await _planned(cli, ITEMS_V1)
    cli.db_ok("apply", cli.cwd / "plans", "--yes")
    second = await _planned(cli, ITEMS_V2)
    await _migrate(cli, ITEMS_V1, ORDERS)  # version 2, by another path

    failed = cli.db_fails("apply", second, "--yes")

    assert "can never apply here" in failed.stderr
    assert [h["version"] for h in await history_rows(db)] == [1, 2]
    assert "note" not in [c for (t, c, *_) in (await catalog_state(db))["columns"] if t == "items"]


async def test_a_plan_for_another_app_or_that_skips_versions_is_refused(cli: Cli, db: asyncpg.Connection) -> None:
    await _planned(cli, ITEMS_V1)
    cli.db_ok("apply", cli.cwd / "plans", "--yes")
    second = await _planned(cli, ITEMS_V2)

    def for_app(name: str, **more: object) -> Any:
        def change(document: dict[str, Any]) -> None:
            document.update(app=name, **more)
            document["schema"]["name"] = name  # the snapshot's name must be the plan's app

        return change

    _edit_plan(second, for_app("billing"))
    cli.ok("plan", "--rehash", second)
    assert "is for app 'billing', but this database holds app 'app'" in cli.db_fails("apply", second, "--yes").stderr

    _edit_plan(second, for_app("app", version=99))
    skipping = second.rename(second.with_name("0099_skip.yaml"))
    cli.ok("plan", "--rehash", skipping)
    failed = cli.db_fails("apply", skipping, "--yes")
    assert "plan 99 skips versions" in failed.stderr and "must be version 2" in failed.stderr
    assert [h["version"] for h in await history_rows(db)] == [1]


# --- 9. two start-ups with different schemas: the second plans again from where the first left ----------------


async def test_a_start_up_that_waited_for_another_plans_again_from_where_it_left(
    cli: Cli, db: asyncpg.Connection, writer: asyncpg.Connection, database_url: str
) -> None:
    await _migrate(cli, ITEMS_V1)
    older = _schema(cli, ITEMS_V2, name="older.yaml")
    newer = _schema(cli, ITEMS_V2, ORDERS, name="newer.yaml")
    # The older instance gets the migration lock first and is held up inside its transaction (a reader holds
    # `items`); the newer one plans from version 1 meanwhile and waits for the migration lock.
    await writer.execute("BEGIN")
    await writer.execute("LOCK TABLE items IN ACCESS SHARE MODE")
    first = asyncio.ensure_future(services.migrate(older, database_url=database_url, lock_wait=20))
    await _waiting_for_a_lock(db, "items")
    second = asyncio.ensure_future(services.migrate(newer, database_url=database_url, lock_wait=20))
    for _ in range(200):  # the newer one has read version 1 and waits (behind the older one) for a lock
        if await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == 2:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the newer start-up never waited")
    await writer.execute("COMMIT")
    older_outcome, newer_outcome = await asyncio.gather(first, second)

    assert (older_outcome.status, older_outcome.version) == ("migrated", 2)
    assert (newer_outcome.status, newer_outcome.version) == ("migrated", 3), "planned again from version 2"
    assert [h["version"] for h in await history_rows(db)] == [1, 2, 3]
    assert {s["op"] for s in (await history_rows(db))[2]["plan"]["steps"]} == {"create_function", "create_table"}
    assert (await checksum_row(db) or {})["checksum"] == newer_outcome.checksum


# --- 10. messages say what happened ------------------------------------------------------------------------------


async def test_a_connection_lost_mid_apply_says_nothing_was_changed(
    cli: Cli, db: asyncpg.Connection, database_url: str
) -> None:
    await _migrate(cli, ITEMS_V1)
    plan_path = await _planned(cli, ITEMS_V2)
    _edit_plan(plan_path, _add_step(None, "SELECT pg_sleep(5)"))
    cli.ok("plan", "--rehash", plan_path)
    before = await catalog_state(db)

    async def kill_the_apply() -> None:
        for _ in range(200):
            killed = await db.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()"
            )
            if killed:
                return
            await asyncio.sleep(0.05)

    killer = asyncio.ensure_future(kill_the_apply())
    failed = await asyncio.to_thread(cli.db, "apply", plan_path, "--yes")
    await killer

    assert failed.returncode == 1
    assert "Database connection failed during the migration" in failed.stderr
    assert "nothing was changed" in failed.stderr
    assert "__aexit__" not in failed.stderr
    assert await catalog_state(db) == before


async def test_failure_lines_say_which_operation_did_not_happen(cli: Cli, db: asyncpg.Connection) -> None:
    await _migrate(cli, ITEMS_V1)
    await _migrate(cli, ITEMS_V2)
    await db.execute("INSERT INTO items (title, note) VALUES ('a', 'b')")

    failed_rollback = cli.db_fails("rollback", "--yes")
    assert "rollback to version 1 not done: the transaction was rolled back, nothing was changed" in (
        failed_rollback.stderr
    )
    assert "version 1: rolled back" not in failed_rollback.stderr

    failed_migrate = cli.db_fails(
        "migrate",
        _schema(
            cli, table(1, "items", field(1, "title", required=True), field(2, "note"), field(3, "n", required=True))
        ),
    )
    assert "version 3 was not applied: the transaction was rolled back, nothing was changed" in failed_migrate.stderr


async def test_a_rollback_the_rows_refuse_says_what_to_do_and_changes_nothing(cli: Cli, db: asyncpg.Connection) -> None:
    required = table(1, "items", field(1, "title"), field(2, "code", required=True))
    await _migrate(cli, required)
    await db.execute("INSERT INTO items (title, code) VALUES ('a', 'A-1')")
    await services.migrate(
        _schema(cli, ITEMS_V1), database_url=cli.database_url, allow_destructive=True, lock_wait=5
    )  # version 2 drops `code` and its values

    failed = cli.db_fails("rollback", "--yes", "--force", "--reason", "code is back")
    assert 'column "code" of relation "items" contains null values' in failed.stderr
    assert "the column comes back required, and the rows there now have no value for it" in failed.stderr
    assert "delete those rows first, or stay at this version" in failed.stderr
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 2


async def test_a_rollback_making_a_column_required_again_asks_for_its_empty_values(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await _migrate(cli, table(1, "items", field(1, "title"), field(2, "code", required=True)))
    await _migrate(cli, table(1, "items", field(1, "title"), field(2, "code")))  # version 2: optional
    await db.execute("INSERT INTO items (title, code) VALUES ('a', 'A-1'), ('b', NULL)")

    failed = cli.db_fails("rollback", "--yes", "--reason", "required again")
    assert 'column "code" of relation "items" contains null values' in failed.stderr
    assert "rows hold no value there now: fill them (or delete those rows), then roll back" in failed.stderr
    await db.execute("UPDATE items SET code = 'B-1' WHERE code IS NULL")
    cli.db_ok("rollback", "--yes", "--reason", "required again")
    assert await db.fetch("SELECT title, code FROM items ORDER BY title") == [("a", "A-1"), ("b", "B-1")]


async def test_a_rollback_to_a_date_the_values_written_since_are_not_says_what_to_do(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await _migrate(cli, table(1, "items", field(1, "title"), field(2, "due", "date")))
    await _migrate(cli, table(1, "items", field(1, "title"), field(2, "due")))  # version 2: text
    await db.execute("INSERT INTO items (title, due) VALUES ('a', '2024-05-06'), ('b', 'next week')")

    failed = cli.db_fails("rollback", "--yes", "--force", "--reason", "dates again")
    assert 'invalid input syntax for type date: "next week"' in failed.stderr
    assert "values written since do not fit the earlier version's type: change or clear them, then roll back" in (
        failed.stderr
    )
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 2
    await db.execute("UPDATE items SET due = '2024-05-13' WHERE title = 'b'")
    cli.db_ok("rollback", "--yes", "--force", "--reason", "dates again")
    assert await db.fetch("SELECT title, due::text FROM items ORDER BY title") == [
        ("a", "2024-05-06"),
        ("b", "2024-05-13"),
    ]


def test_a_plan_header_names_the_directory_it_was_written_to(cli: Cli) -> None:
    cli.ok("plan", _schema(cli, ITEMS_V1), "--offline", "--plans", "p400")
    [written] = (cli.cwd / "p400").iterdir()
    text = written.read_text()
    assert f"sovrium apply p400/{written.name}" in text
    assert f"sovrium plan --rehash p400/{written.name}" in text
    assert "plans/" not in text


# --- 11. input that cannot be right is refused before anything runs ---------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("apply", "--lock-wait", "nan"),
        ("apply", "--lock-wait", "-1"),
        ("migrate", "app.yaml", "--lock-wait", "inf"),
        ("rollback", "--to", "-1"),
        ("history", "--limit", "0"),
    ],
)
def test_impossible_numbers_are_usage_errors(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli.run(*args)
    assert result.returncode == 2, str(result)
    assert re.search(r"error: argument .*(seconds|whole number)", result.stderr)


def test_a_table_with_more_columns_than_postgresql_allows_is_invalid(cli: Cli) -> None:
    many = table(1, "wide", *(field(i, f"f{i}") for i in range(1, 1707)))
    result = cli.run("validate", _schema(cli, many))
    assert result.returncode == 1
    assert 'Table "wide" would have 1710 columns' in result.stderr and "at most 1600" in result.stderr


def test_control_characters_from_a_schema_are_shown_escaped(cli: Cli) -> None:
    schema = _schema(cli, table(1, "items", field(1, "title", "\x1b[2J\x1b[31mred")))
    result = cli.run("validate", schema)
    assert result.returncode == 1
    assert "\x1b" not in result.stderr
    assert "\\x1b[2J" in result.stderr


# --- 12. a command that fails and changes nothing leaves nothing behind -----------------------------------------


async def test_refusals_that_change_nothing_write_nothing(cli: Cli, db: asyncpg.Connection) -> None:
    assert "nothing to roll back" in cli.db_fails("rollback", "--yes").stderr
    assert not await has_system_schema(db), "rolling back a never-migrated database creates nothing"

    await _planned(cli, ITEMS_V1)
    cli.db_ok("apply", cli.cwd / "plans", "--yes")
    second = await _planned(cli, ITEMS_V2)
    await _migrate(cli, ITEMS_V1, ORDERS)
    log = await log_rows(db)

    assert "not above 5" in cli.db_fails("rollback", "--to", "5", "--yes").stderr
    assert "can never apply here" in cli.db_fails("apply", second, "--yes").stderr
    assert await log_rows(db) == log


async def test_a_role_that_may_not_read_the_bookkeeping_is_told_which_grants_it_needs(
    cli: Cli, db: asyncpg.Connection, database_url: str
) -> None:
    await _migrate(cli, ITEMS_V1)
    await db.execute("DROP ROLE IF EXISTS sovrium_reader; CREATE ROLE sovrium_reader LOGIN")
    try:
        limited = re.sub(r"postgresql://[^@/]*@", "postgresql://sovrium_reader@", database_url)
        result = cli.run("migrate", cli.cwd / "app.yaml", "--database-url", limited)
        assert result.returncode == 1, str(result)
        assert "needs USAGE on schema system" in result.stderr
        assert "GRANT USAGE ON SCHEMA system TO sovrium_reader" in result.stderr
        assert "unexpected" not in result.stderr
    finally:
        database = await db.fetchval("SELECT current_database()")
        await db.execute(f'REVOKE ALL ON DATABASE "{database}" FROM sovrium_reader')
        await db.execute("DROP ROLE sovrium_reader")


# --- the failures that were refused before keep being refused ----------------------------------------------------


async def test_a_stale_plan_is_refused_without_a_log_row(cli: Cli, db: asyncpg.Connection, database_url: str) -> None:
    await _planned(cli, ITEMS_V1)
    plans = cli.cwd / "plans"
    [first] = plans.iterdir()
    plan = load_plan(first)
    await _migrate(cli, ITEMS_V2)
    rows = await log_rows(db)
    from sovrium_tui.execution.connect import connect
    from sovrium_tui.execution.executor import apply_plan
    from sovrium_tui.services import catalog_for_snapshot

    connection = await connect(database_url)
    try:
        with pytest.raises(PlanStale):
            await apply_plan(
                connection,
                plan,
                target_catalog=catalog_for_snapshot(json.loads(plan.schema)),
                allow_destructive=False,
                applied_by="test",
                lock_wait=1,
            )
    finally:
        await connection.close()
    assert await log_rows(db) == rows


# --- waiting for a lock says who is in the way, while it waits -------------------------------------------------


async def test_a_step_waiting_for_a_lock_reports_who_holds_it_while_it_waits(
    cli: Cli, db: asyncpg.Connection, writer: asyncpg.Connection, database_url: str
) -> None:
    await _migrate(cli, ITEMS_V1)
    await writer.execute("SET application_name = 'reporting-job'")
    await writer.execute("BEGIN")
    await writer.execute("SELECT count(*) FROM items")
    seen: list[events.Event] = []

    migrate = services.migrate(_schema(cli, ITEMS_V2), database_url=database_url, lock_wait=5, reporter=seen.append)
    task = asyncio.ensure_future(migrate)
    for _ in range(100):
        if any(isinstance(e, events.TableLockWaiting) for e in seen):
            break
        await asyncio.sleep(0.1)
    await writer.execute("COMMIT")
    outcome = await task

    waits = [e for e in seen if isinstance(e, events.TableLockWaiting)]
    assert waits, "the wait was reported while it lasted"
    assert "application 'reporting-job'" in waits[0].holders and "idle in transaction" in waits[0].holders
    assert (waits[0].limit, outcome.status) == ("10s", "migrated")


# --- rolling back across accepted drift -------------------------------------------------------------------------


async def test_a_rollback_across_accepted_drift_plans_from_the_snapshots(cli: Cli, db: asyncpg.Connection) -> None:
    await _migrate(cli, ITEMS_V1)
    await _migrate(cli, ITEMS_V2)
    await db.execute("CREATE INDEX items_title_manual ON items (title)")
    assert cli.db("drift").returncode == 3
    cli.db_ok("drift", "--accept", "--reason", "hotfix index")

    cli.db_ok("rollback", "--to", "1", "--yes", "--reason", "back")

    assert "note" not in await columns_of(db, "items")
    assert cli.db("drift").returncode == 0
    assert (await checksum_row(db) or {})["version"] == 1


async def columns_of(db: asyncpg.Connection, table_name: str) -> list[str]:
    rows = await db.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
        table_name,
    )
    return [row["attname"] for row in rows]


async def test_a_rollback_across_a_version_that_removed_accepted_drift_lands_on_the_target(
    cli: Cli, db: asyncpg.Connection
) -> None:
    """Version 2 reverted accepted drift (a column added by hand); its reverse steps would bring the column back,
    which version 1 never had: the way back is planned from the snapshots instead, and lands exactly on version 1."""
    await _migrate(cli, ITEMS_V1)
    await db.execute("ALTER TABLE items ADD COLUMN hack integer")
    written = cli.db_ok("drift", "--revert-plan", "--reason", "hotfix column", "--json").json()
    cli.db_ok("apply", written["path"], "--yes", "--allow-destructive")  # version 2 drops the empty hack column
    assert "hack" not in await columns_of(db, "items")

    cli.db_ok("rollback", "--to", "1", "--yes", "--reason", "back")

    assert "hack" not in await columns_of(db, "items")
    assert cli.db("drift").returncode == 0
    assert (await checksum_row(db) or {})["version"] == 1


async def test_accepted_drift_is_kept_by_plans_start_up_migrations_and_rollbacks(
    cli: Cli, db: asyncpg.Connection
) -> None:
    """A column and an index added by hand and accepted stay, with their values, through a plan file made offline
    (which knows nothing of them), a start-up migration planned from the database, and a rollback; only a plan
    reverting drift removes them."""
    cli.ok("plan", _schema(cli, ITEMS_V1), "--offline")
    cli.db_ok("apply", "--yes")
    await db.execute("ALTER TABLE items ADD COLUMN hack integer; CREATE INDEX items_hack_idx ON items (hack)")
    await db.execute("INSERT INTO items (title, hack) VALUES ('kept', 7)")
    assert "(2 differences)" in cli.db_ok("drift", "--accept", "--reason", "hotfix column").stdout

    cli.ok("plan", _schema(cli, ITEMS_V2), "--offline")  # adds note
    cli.db_ok("apply", "--yes")
    assert set(await columns_of(db, "items")) >= {"note", "hack"}
    await services.migrate(_schema(cli, ITEMS_V2, ORDERS), database_url=cli.database_url, lock_wait=5)
    assert await db.fetchval("SELECT to_regclass('orders') IS NOT NULL AND to_regclass('items_hack_idx') IS NOT NULL")

    cli.db_ok("rollback", "--to", "1", "--yes", "--reason", "back")

    assert "note" not in await columns_of(db, "items") and await db.fetchval("SELECT to_regclass('orders')") is None
    assert [tuple(row) for row in await db.fetch("SELECT title, hack FROM items")] == [("kept", 7)]
    assert await db.fetchval("SELECT to_regclass('items_hack_idx') IS NOT NULL")
    assert cli.db("drift").returncode == 0
    assert (await checksum_row(db) or {})["version"] == 1


async def test_accepted_drift_on_a_table_a_plan_renames_is_kept_under_the_new_name(
    cli: Cli, db: asyncpg.Connection
) -> None:
    cli.ok("plan", _schema(cli, ITEMS_V1), "--offline")
    cli.db_ok("apply", "--yes")
    await db.execute("CREATE INDEX items_by_hand ON items (title)")
    cli.db_ok("drift", "--accept", "--reason", "report index")
    assert cli.db_ok("drift").stdout.strip().endswith("recorded (1 accepted difference)")

    cli.ok("plan", _schema(cli, table(1, "things", field(1, "title"))), "--offline")  # same table id: a rename
    cli.db_ok("apply", "--yes")
    await services.migrate(
        _schema(cli, table(1, "things", field(1, "title"), field(2, "note"))),
        database_url=cli.database_url,
        lock_wait=5,
    )

    assert (
        await db.fetchval("SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = 'items_by_hand'::regclass")
        == "things"
    )
    assert set(await columns_of(db, "things")) >= {"title", "note"}
    assert cli.db("drift").returncode == 0


# --- 6. settings from an earlier plan, the URL or the database do not change what a plan does (fuzzer) ----------


async def test_an_earlier_plans_session_setting_does_not_reach_the_next_plan(cli: Cli, db: asyncpg.Connection) -> None:
    """`apply DIR` runs its plans on one connection: plan 2 ends with a session-level SET that would make plan 3
    read-only (found by a fuzzer; with session_replication_role = replica it let rows break foreign keys)."""
    for tables in ((ITEMS_V1,), (ITEMS_V2,)):
        _schema(cli, *tables)
        cli.ok("plan", "app.yaml", "--offline")
    (second,) = (cli.cwd / "plans").glob("0002_*.yaml")
    _edit_plan(second, _add_step(None, "SET default_transaction_read_only = on"))
    cli.ok("plan", "--rehash", second)
    _schema(cli, ITEMS_V2, ORDERS)
    cli.ok("plan", "app.yaml", "--offline")

    applied = cli.db_ok("apply", "plans", "--yes")

    assert "read-only" not in applied.stderr
    assert await db.fetchval("SELECT max(version) FROM system.migration_history") == 3
    assert await db.fetchval("SELECT to_regclass('public.orders') IS NOT NULL")


async def test_database_defaults_that_would_time_out_reads_or_quote_every_name_change_nothing(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await _migrate(cli, ITEMS_V2)
    name = await db.fetchval("SELECT current_database()")
    await db.execute(f'ALTER DATABASE "{name}" SET statement_timeout = 1')
    await db.execute(f'ALTER DATABASE "{name}" SET quote_all_identifiers = on')
    for command in ("status", "drift", "history"):
        result = cli.db(command)
        assert result.returncode == 0, result
        assert "unexpected" not in result.stderr
    assert cli.db_ok("migrate", _schema(cli, ITEMS_V2), "--json").json()["status"] == "up-to-date"


def test_an_empty_database_url_is_an_error_not_the_embedded_server(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("name: shop\ntables: []\n")
    for command in (["status"], ["migrate", "app.yaml"], ["apply", "plans", "--yes"]):
        result = run_sovrium(*command, "--database-url", "", cwd=tmp_path)
        assert result.returncode == 2, result
        assert result.error_lines == [
            "error: --database-url is empty (an unset variable?): give a URL, or leave the flag out"
        ]
    assert not (tmp_path / ".sovrium" / "pgdata").exists(), "no embedded server was started"


@pytest.mark.parametrize(
    "argument",
    [
        ["--since", "0001-01-01T00:00:00+14:00"],
        ["--until", "9999-12-31T23:59:59-14:00"],
        ["--version", "2147483648"],
        ["--limit", "9223372036854775808"],
    ],
)
def test_history_arguments_out_of_range_are_usage_errors(cli: Cli, argument: list[str]) -> None:
    result = cli.db("history", *argument)
    assert result.returncode == 2, result
    assert "unexpected" not in result.stderr


async def test_after_a_rollback_to_zero_status_counts_the_plans_apply_would_run_again(cli: Cli) -> None:
    for tables in ((ITEMS_V1,), (ITEMS_V2,)):
        _schema(cli, *tables)
        cli.ok("plan", "app.yaml", "--offline")
    cli.db_ok("apply", "plans", "--yes")
    cli.db_ok("rollback", "--to", "0", "--yes", "--reason", "start again")

    status = cli.db_ok("status", "--json").json()

    assert status["version"] == 0
    assert status["pending"] == [1, 2]
    assert [p["state"] for p in status["plans"]] == ["rolled back", "rolled back"]
    cli.db_ok("apply", "plans", "--yes")
    assert cli.db_ok("status", "--json").json()["pending"] == []


async def test_a_default_filling_empty_rows_is_no_write_to_them(
    tmp_path: Path, database_url: str, db: asyncpg.Connection
) -> None:
    """Making a field required fills its empty rows with the default; the rows keep `updated_at` (the stamp
    trigger is quiet meanwhile, and enabled again), and a formula reading the field is computed again."""
    schema = tmp_path / "app.yaml"
    label = field(2, "label", "formula", formula="COALESCE(title, '?') || ' ' || NOW()::DATE", resultType="text")
    write_schema(schema, app_schema(table(1, "items", field(1, "title"), label)))
    await services.migrate(schema, database_url=database_url)
    await db.execute("INSERT INTO items (title) VALUES ('a'), (NULL)")
    stamped = await db.fetch("SELECT id, updated_at FROM items ORDER BY id")

    required = field(1, "title", required=True, default="untitled")
    write_schema(schema, app_schema(table(1, "items", required, label)))
    await services.migrate(schema, database_url=database_url)

    assert [r["title"] for r in await db.fetch("SELECT title FROM items ORDER BY id")] == ["a", "untitled"]
    assert await db.fetch("SELECT id, updated_at FROM items ORDER BY id") == stamped
    assert (await db.fetchval("SELECT label FROM items WHERE id = 2")).startswith("untitled ")
    assert await db.fetchval("SELECT bool_and(tgenabled = 'O') FROM pg_trigger WHERE tgrelid = 'items'::regclass")
    assert (await services.drift(database_url=database_url)).differences == ()
