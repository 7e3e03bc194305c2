"""The services that let every flow finish without moving files by hand (issue 12): a dry run of every pending
plan, archiving a superseded plan, a plan that reverts drift, unplanned changes, and a log that reads right.

Each test drives the services or the real `sovrium` command against a real PostgreSQL and reads the database.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused, SovriumError
from tests.acceptance_support import Cli, app_schema, checksum_row, clean_env, field, log_rows, table, write_schema

TITLE = field(1, "title")
NOTE = field(2, "note")
EXTRA = field(3, "extra")
CODE = field(4, "code", "integer", required=True)  # NOT NULL without a default: fails on existing rows
LABEL = field(5, "label")


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


def _schema(cli: Cli, *fields: dict[str, Any], name: str = "app.yaml") -> Path:
    return write_schema(cli.cwd / name, app_schema(table(1, "items", *fields)))


def _plan(cli: Cli, *fields: dict[str, Any]) -> Path:
    result = cli.ok("plan", _schema(cli, *fields), "--offline", "--json")
    return cli.cwd / result.json()["path"]


async def _items_with_notes(cli: Cli, db: asyncpg.Connection) -> None:
    """Version 1 applied: items(title, note) with two notes written."""
    _plan(cli, TITLE, NOTE)
    cli.db_ok("apply", "--yes")
    await db.execute("INSERT INTO items (title, note) VALUES ('a', 'kept'), ('b', 'also kept')")


# --- pre-flight ----------------------------------------------------------------------------------------------


async def test_preflight_runs_every_pending_plan_on_top_of_the_ones_before_it(cli: Cli, db: asyncpg.Connection) -> None:
    await _items_with_notes(cli, db)
    _plan(cli, TITLE, NOTE, EXTRA)  # 2: passes
    _plan(cli, TITLE, EXTRA)  # 3: drops note and its 2 values
    _plan(cli, TITLE, EXTRA, CODE)  # 4: fails on the existing rows
    _plan(cli, TITLE, EXTRA, CODE, LABEL)  # 5: after a failure, not checked
    logged = await log_rows(db)

    preflight = await services.preflight(plans_dir=cli.cwd / "plans", database_url=cli.database_url)

    assert [(c.version, c.outcome) for c in preflight.checks] == [
        (2, "passes"),
        (3, "destroys"),
        (4, "fails"),
        (5, "not checked"),
    ]
    assert preflight.checks[1].losses == ("step 1 drops column items.note (2 non-null values)",)
    assert preflight.checks[2].failed_step == 1
    assert 'column "code" of relation "items" contains null values' in (preflight.checks[2].problem or "")
    assert preflight.checks[3].problem == "not checked: version 4 before it fails"
    assert preflight.losses == ("version 3: step 1 drops column items.note (2 non-null values)",)
    assert not preflight.runnable
    assert (await checksum_row(db) or {})["version"] == 1, "a dry run changes nothing"
    assert await db.fetchval("SELECT count(note) FROM items") == 2
    assert await log_rows(db) == logged, "and writes no log row"


async def test_a_dry_run_checks_a_later_plan_against_the_earlier_ones_applied(cli: Cli, db: asyncpg.Connection) -> None:
    await _items_with_notes(cli, db)
    _plan(cli, TITLE, NOTE, EXTRA)
    _plan(cli, TITLE, EXTRA)  # drops note: refused without --allow-destructive, even in a dry run

    refused = cli.db("apply", "--dry-run")
    assert refused.returncode == 1
    assert "plan 3 would destroy data: step 1 drops column items.note (2 non-null values)" in refused.stderr

    passed = cli.db_ok("apply", "--dry-run", "--allow-destructive", "--json").json()
    assert [(run["version"], run["status"]) for run in passed["runs"]] == [(2, "dry-run"), (3, "dry-run")]
    assert [n for n in passed["notes"] if "values written after this count" in n], "the counted loss may grow"
    assert (await checksum_row(db) or {})["version"] == 1
    assert await db.fetchval("SELECT count(note) FROM items") == 2


# --- archive ---------------------------------------------------------------------------------------------------


async def test_a_rolled_back_plan_is_archived_so_a_new_plan_can_supersede_it(cli: Cli, db: asyncpg.Connection) -> None:
    first = _plan(cli, TITLE)
    second = _plan(cli, TITLE, NOTE)
    cli.db_ok("apply", "--yes")

    applied = cli.db("archive", second)
    assert applied.returncode == 1
    assert "version 2 is applied to this database; roll it back first" in applied.stderr
    # an applied plan another builds on: being applied is what decides (archiving the next would not help)
    assert "version 1 is applied to this database; roll it back first" in cli.db("archive", first).stderr

    cli.db_ok("rollback", "--yes", "--reason", "note goes elsewhere")
    stuck = cli.db("plan", _schema(cli, TITLE, EXTRA))
    assert "was rolled back on this database" in stuck.stderr and "sovrium archive" in stuck.stderr

    archived = cli.db_ok("archive", second, "--json").json()
    assert archived["destination"].endswith("plans/archive/0002_items_note.yaml")
    assert not second.exists() and (cli.cwd / "plans" / "archive" / second.name).is_file()

    made = cli.db_ok("plan", _schema(cli, TITLE, EXTRA), "--json").json()
    assert made["version"] == 3, "the new plan comes after every version the database ever recorded"
    cli.ok("check", _schema(cli, TITLE, EXTRA))
    cli.db_ok("apply", "--yes")
    assert (await checksum_row(db) or {})["version"] == 3


async def test_a_plan_others_build_on_is_not_archived(cli: Cli) -> None:
    first = _plan(cli, TITLE)
    _plan(cli, TITLE, NOTE)
    with pytest.raises(SovriumError, match=re.escape("0002_items_note.yaml build(s) on it; archive those first")):
        await services.archive(first, database_url=cli.database_url)
    assert first.exists()


# --- a plan that reverts drift -----------------------------------------------------------------------------------


async def test_a_plan_reverts_drift_and_apply_check_and_status_accept_it(cli: Cli, db: asyncpg.Connection) -> None:
    schema = _schema(cli, TITLE)
    _plan(cli, TITLE)
    cli.db_ok("apply", "--yes")
    await db.execute("ALTER TABLE items ADD COLUMN hack integer; UPDATE items SET hack = 1")
    await db.execute("INSERT INTO items (title, hack) VALUES ('x', 7)")
    assert cli.db("drift").returncode == 3

    written = cli.db_ok("drift", "--revert-plan", "--reason", "someone patched prod", "--json").json()

    plan = json.loads(cli.ok("show", written["path"], "--json").stdout)
    assert (plan["version"], plan["from"]["version"]) == (2, 1)
    assert plan["to"]["checksum"] == plan["from"]["checksum"], "the schema does not change"
    assert [step["summary"] for step in plan["steps"]] == ["drop column items.hack and its values"]
    assert cli.db("drift").returncode == 0, "the live schema is the plan's starting point"
    accepted = (await log_rows(db))[-1]
    assert accepted["operation"] == "DRIFT_ACCEPTED"
    assert f"to be reverted by {written['path']}: someone patched prod" in accepted["reason"]
    cli.ok("check", schema)
    assert "pending" in cli.db_ok("status").stdout

    refused = cli.db("apply", "--yes")
    assert "step 1 drops column items.hack (1 non-null value)" in refused.stderr
    cli.db_ok("apply", "--yes", "--allow-destructive")
    assert (
        await db.fetchval("SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'hack'")
        == 0
    )
    status = cli.db_ok("status", "--json").json()
    assert (status["version"], status["drift"], status["plans"][-1]["state"]) == (2, False, "applied")


async def test_no_plan_is_written_without_drift(cli: Cli) -> None:
    _plan(cli, TITLE)
    cli.db_ok("apply", "--yes")
    with pytest.raises(SovriumError, match="no drift"):
        await services.revert_drift_plan(reason="tidy", plans_dir=cli.cwd / "plans", database_url=cli.database_url)
    assert sorted(p.name for p in (cli.cwd / "plans").iterdir()) == ["0001_new_table_items.yaml"]


# --- what the dashboard and the logs say ---------------------------------------------------------------------------


def test_unplanned_changes_are_counted_against_the_newest_plan(cli: Cli) -> None:
    _plan(cli, TITLE)
    assert services.unplanned(_schema(cli, TITLE), cli.cwd / "plans").changes == ()
    ahead = services.unplanned(_schema(cli, TITLE, NOTE, EXTRA), cli.cwd / "plans")
    assert ahead.changes == (
        "add column items.note (character varying(255))",
        "add column items.extra (character varying(255))",
    )
    assert ahead.describe().startswith("app.yaml has 2 unplanned change(s)")
    (cli.cwd / "plans" / "0002_broken.yaml").write_text("nonsense: [")
    assert "are broken" in (services.unplanned(_schema(cli, TITLE), cli.cwd / "plans").problem or "")


async def test_a_failed_migration_reads_as_one_with_its_automatic_rollback(cli: Cli, db: asyncpg.Connection) -> None:
    _plan(cli, TITLE)
    cli.db_ok("apply", "--yes")
    await db.execute("INSERT INTO items (title) VALUES ('a')")
    _plan(cli, TITLE, CODE)
    assert cli.db("apply", "--yes").returncode == 1

    log = cli.db_ok("history").stdout.splitlines()
    failed = next(line for line in log if "MIGRATE        FAILED" in line)
    automatic = next(line for line in log if "AUTO-ROLLBACK" in line)
    assert "1→2: step 1 (add column items.code" in failed
    assert "COMPLETED stays 1: undid the failed migration 1→2: step 1 (add column items.code" in automatic
    assert not any(" ROLLBACK " in line for line in log), "no line reads like a rollback someone asked for"


async def test_a_hand_edited_applied_plan_stays_listed_as_edited(cli: Cli) -> None:
    first = _plan(cli, TITLE)
    cli.db_ok("apply", "--yes")
    first.write_text(first.read_text().replace("summary: new table items", "summary: new table items (reviewed)"))

    status = cli.db_ok("status", "--json").json()

    assert [(p["version"], p["state"]) for p in status["plans"]] == [(1, "edited after apply")]
    assert any("edited after it was made" in problem for problem in status["plan_problems"])


async def test_a_version_migrate_made_with_the_committed_plans_steps_reads_as_applied(cli: Cli) -> None:
    """Start-up `migrate` made version 1 (its own plan, made at another time) and plans/0001 is committed: the same
    steps are the same change. A step added to the file afterwards (re-hashed) is an edit after apply."""
    first = _plan(cli, TITLE)
    cli.db_ok("migrate", _schema(cli, TITLE), env=clean_env(SOURCE_DATE_EPOCH="1700000000"))

    assert [p["state"] for p in cli.db_ok("status", "--json").json()["plans"]] == ["applied"]
    assert "was changed after" not in cli.db_ok("apply", "--yes").stdout

    backfill = "- op: sql\n  forward: [UPDATE items SET title = 'x']\n  reverse: [SELECT 1]\ndigest:"
    first.write_text(first.read_text().replace("\ndigest:", "\n" + backfill, 1))
    cli.ok("plan", "--rehash", first)
    assert [p["state"] for p in cli.db_ok("status", "--json").json()["plans"]] == ["edited after apply"]
    assert "was changed after version 1 was applied" in cli.db_ok("apply", "--yes").stdout


async def test_a_destructive_refusal_still_counts_in_a_dry_run(cli: Cli, db: asyncpg.Connection) -> None:
    await _items_with_notes(cli, db)
    _plan(cli, TITLE)
    with pytest.raises(DestructiveRefused) as refused:
        await services.apply(plans_dir=cli.cwd / "plans", dry_run=True, database_url=cli.database_url)
    assert refused.value.losses == ("step 1 drops column items.note (2 non-null values)",)


# --- two branches planned the same version -------------------------------------------------------------------


async def test_two_branches_planning_one_version_are_merged_as_the_readme_says(
    cli: Cli, db: asyncpg.Connection
) -> None:
    base = _plan(cli, TITLE)
    plans = base.parent
    branch_a = cli.cwd / "branch_a"
    branch_a.mkdir()
    (branch_a / base.name).write_bytes(base.read_bytes())
    cli.ok("plan", _schema(cli, TITLE, NOTE, name="a.yaml"), "--offline", "--plans", branch_a)
    theirs = _plan(cli, TITLE, EXTRA)  # the other branch's version 2, applied to its staging database
    cli.db_ok("apply", "--yes")
    ours = next(branch_a.glob("0002_*.yaml"))
    (plans / ours.name).write_bytes(ours.read_bytes())  # the merge
    merged = _schema(cli, TITLE, NOTE, EXTRA)

    broken = cli.run("check", merged)
    assert broken.returncode == 1
    assert "both make version 2 (planned on two branches?)" in broken.stdout
    assert cli.run("plan", merged, "--offline").returncode == 1

    theirs.unlink()
    cli.ok("plan", merged, "--offline")
    assert cli.ok("check", merged).returncode == 0
    status = cli.db_ok("status", "--json").json()
    assert [(p["version"], p["state"]) for p in status["plans"]] == [
        (1, "applied"),
        (2, "other plan applied"),
        (3, "cannot apply"),  # it builds on the other version 2: `apply` refuses it
    ]
    assert status["pending"] == []
    assert "can never apply here" in cli.db("apply", "--yes").stderr

    cli.db_ok("rollback", "--to", "1", "--yes", "--force")
    cli.db_ok("apply", "--yes")
    assert [(p["version"], p["state"]) for p in cli.db_ok("status", "--json").json()["plans"]] == [
        (1, "applied"),
        (2, "applied"),
        (3, "applied"),
    ]
    columns = await db.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = 'items'")
    assert {"title", "note", "extra"} <= {c["column_name"] for c in columns}
    assert (await services.drift(database_url=cli.database_url)).differences == ()


async def test_plans_committed_after_start_up_migrations_apply_from_where_the_database_is(
    cli: Cli, db: asyncpg.Connection
) -> None:
    cli.db_ok("migrate", _schema(cli, TITLE))  # version 1 reached without a plan file
    await db.execute("INSERT INTO items (title) VALUES ('kept')")
    cli.db_ok("plan", _schema(cli, TITLE, NOTE))  # made from the database: version 2 from version 1
    assert "the chain starts at version 1" in cli.ok("check", cli.cwd / "app.yaml").stdout

    assert "problem" not in cli.db_ok("status").stdout
    cli.db_ok("apply", "plans", "--yes")
    assert await db.fetch("SELECT title, note FROM items") == [("kept", None)]
    assert (await checksum_row(db))["version"] == 2
