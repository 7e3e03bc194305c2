"""The seed's acceptance criteria (seed/migration-system.md), one test each, named after the criterion.

Each test drives the real `sovrium` command in a subprocess, as a developer or an application start-up would,
against a fresh PostgreSQL database, then checks the database itself (pg_catalog, information_schema and the
`system.*` bookkeeping tables) as well as exit codes and the wording on stderr.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from tests.acceptance_support import (
    Cli,
    app_schema,
    catalog_state,
    checksum_row,
    closed_port,
    columns,
    constraint_names,
    field,
    has_system_schema,
    history_rows,
    index_names,
    lines_containing,
    log_rows,
    public_tables,
    sha256_of_tables,
    table,
    table_rows,
    write_schema,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEX64 = re.compile(r"[0-9a-f]{64}")

NAME = field(1, "name")
EMAIL = field(2, "email", "email")
USERS_V1 = table(1, "users", NAME)
USERS_V2 = table(1, "users", NAME, EMAIL)
POSTS = table(2, "posts", field(1, "title"))


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


def _schema(cli: Cli, *tables: dict[str, Any], file: str = "app.yaml") -> Path:
    return write_schema(cli.cwd / file, app_schema(*tables))


def _checksum_of(cli: Cli, schema: Path) -> str:
    checksum = cli.ok("validate", schema, "--json").json()["checksum"]
    assert isinstance(checksum, str)
    return checksum


async def _nothing_written(db: asyncpg.Connection) -> None:
    """A refused schema never reached the database: no bookkeeping, no tables."""
    assert not await has_system_schema(db), "the system schema must not be created for a refused schema"
    assert await public_tables(db) == set()


# --- US-MIGRATION-SYSTEM-001: checksum validation -------------------------------------------------------


async def test_migration_checksum_001_saves_sha256_checksum_to_system_schema_checksum(
    cli: Cli, db: asyncpg.Connection
) -> None:
    document = app_schema(USERS_V1)
    schema = write_schema(cli.cwd / "app.yaml", document)

    cli.db_ok("migrate", schema)

    rows = await db.fetch("SELECT id, checksum, schema::text, version, updated_at FROM system.schema_checksum")
    assert len(rows) == 1
    row = await checksum_row(db)
    assert row is not None
    assert row["id"] == "singleton"
    assert HEX64.fullmatch(row["checksum"]), row["checksum"]
    assert row["checksum"] == sha256_of_tables(document["tables"]), "SHA-256 of the canonical JSON of the tables"
    assert row["checksum"] == sha256_of_tables(row["schema"]["tables"]), "checksum of the stored snapshot"
    assert row["checksum"] == _checksum_of(cli, schema)
    assert row["version"] == 1
    assert row["updated_at"] is not None
    assert abs(datetime.now(UTC) - row["updated_at"]) < timedelta(minutes=5)
    status = cli.db_ok("status", "--json").json()
    assert (status["version"], status["checksum"]) == (1, row["checksum"])


async def test_migration_checksum_002_skips_migration_when_schema_unchanged(cli: Cli, db: asyncpg.Connection) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name) VALUES ('ada'), ('grace')")
    before = await checksum_row(db)
    users_before = await db.fetchrow(
        "SELECT xmin::text, relfilenode FROM pg_class WHERE oid = 'public.users'::regclass"
    )
    rows_before = await table_rows(db, "users")

    for _ in range(2):  # the first re-run fills the schema cache, the second uses it
        run = cli.db_ok("migrate", schema, "--json")
        assert run.json()["status"] == "up-to-date"
        assert run.json()["version"] == 1

    assert await checksum_row(db) == before, "the checksum row is not rewritten"
    assert len(await history_rows(db)) == 1, "no new history row"
    assert [r["operation"] for r in await log_rows(db)] == ["MIGRATE"]
    users_after = await db.fetchrow("SELECT xmin::text, relfilenode FROM pg_class WHERE oid = 'public.users'::regclass")
    assert users_after == users_before, "the table was not altered"
    assert await table_rows(db, "users") == rows_before
    text = cli.db_ok("migrate", schema)
    assert "up to date" in text.stdout


async def test_migration_checksum_003_executes_migration_and_saves_new_checksum_when_modified(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    first = await checksum_row(db)
    assert first is not None
    await db.execute("INSERT INTO users (name) VALUES ('ada')")

    _schema(cli, USERS_V2)
    run = cli.db_ok("migrate", schema, "--json")

    assert run.json()["status"] == "migrated"
    second = await checksum_row(db)
    assert second is not None
    assert second["checksum"] != first["checksum"]
    assert second["checksum"] == _checksum_of(cli, schema)
    assert second["version"] == 2
    assert second["updated_at"] >= first["updated_at"]
    assert "email" in await columns(db, "users")
    assert [(h["version"], h["checksum"]) for h in await history_rows(db)] == [
        (1, first["checksum"]),
        (2, second["checksum"]),
    ]
    assert await db.fetchval("SELECT name FROM users") == "ada", "existing rows survive the migration"


async def test_migration_checksum_004_minor_schema_changes_trigger_re_migration(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    assert "idx_users_name" not in await index_names(db, "users")

    # One flag on one field.
    _schema(cli, table(1, "users", field(1, "name", indexed=True)))
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "migrated"
    assert "idx_users_name" in await index_names(db, "users")
    assert (await checksum_row(db) or {})["version"] == 2

    # A change the database never sees (a search weight) still changes the checksum, so it is recorded.
    _schema(cli, table(1, "users", field(1, "name", indexed=True, searchWeight="A")))
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "migrated"
    row = await checksum_row(db)
    assert row is not None
    assert (row["version"], row["checksum"]) == (3, _checksum_of(cli, schema))
    assert [h["version"] for h in await history_rows(db)] == [1, 2, 3]
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"


async def test_migration_checksum_regression_user_can_complete_full_checksum_workflow(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    first = _checksum_of(cli, schema)
    assert (await checksum_row(db) or {})["checksum"] == first

    # Unchanged, and then only reformatted (comments, key order, flow style): nothing to do.
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"
    write_schema(
        schema,
        "# reformatted by hand\ntables:\n  - fields: [{type: single-line-text, name: name, id: 1}]\n"
        "    name: users\n    id: 1\nname: app\n",
    )
    assert _checksum_of(cli, schema) == first
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"
    assert len(await history_rows(db)) == 1

    # Modified: migrated, and the new checksum is what the next start-up compares with.
    _schema(cli, USERS_V2, POSTS)
    second = _checksum_of(cli, schema)
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "migrated"
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"

    row = await checksum_row(db)
    assert row is not None
    assert (row["version"], row["checksum"]) == (2, second)
    assert [(h["version"], h["checksum"]) for h in await history_rows(db)] == [(1, first), (2, second)]
    assert await public_tables(db) == {"users", "posts"}
    status = cli.db_ok("status", "--json").json()
    assert (status["version"], status["checksum"], status["drift"]) == (2, second, False)


# --- US-MIGRATION-SYSTEM-002: rollback ---------------------------------------------------------------------


async def test_migration_rollback_001_detects_checksum_mismatch_and_prevents_migration(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    tampered = "0" * 64
    await db.execute("UPDATE system.schema_checksum SET checksum = $1", tampered)
    catalog_before = await catalog_state(db)
    state_before = await checksum_row(db)

    _schema(cli, USERS_V2)
    failed = cli.db_fails("migrate", schema)
    assert "Schema drift detected: checksum mismatch" in failed.stderr
    assert await catalog_state(db) == catalog_before, "nothing was migrated"
    assert await checksum_row(db) == state_before, "the tampered row is left for a human to look at"
    assert [h["version"] for h in await history_rows(db)] == [1]

    _schema(cli, USERS_V1)  # the schema the database really has: still refused, the bookkeeping is not trusted
    again = cli.db_fails("migrate", schema)
    assert "Schema drift detected: checksum mismatch" in again.stderr
    assert "email" not in await columns(db, "users")

    # Editing the stored snapshot instead of the checksum is caught the same way.
    await db.execute("UPDATE system.schema_checksum SET checksum = $1", sha256_of_tables([USERS_V1]))
    cli.db_ok("migrate", schema)
    await db.execute("UPDATE system.schema_checksum SET schema = jsonb_set(schema, '{tables,0,name}', '\"customers\"')")
    _schema(cli, USERS_V2)
    assert "Schema drift detected: checksum mismatch" in cli.db_fails("migrate", schema).stderr
    assert "email" not in await columns(db, "users")


async def test_migration_rollback_002_rollbacks_to_last_known_good_state_on_validation_failure(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name) VALUES ('ada'), ('')")
    good_catalog = await catalog_state(db)
    good_state = await checksum_row(db)

    # The new version adds a table and a CHECK that an existing row does not pass. It is refused up front,
    # counting the rows that break it; forced, PostgreSQL's own validation fails. Both leave version 1 intact.
    checked = table(1, "users", NAME, constraints=[{"name": "users_name_not_empty", "check": "name <> ''"}])
    _schema(cli, checked, POSTS)
    refused = cli.db_fails("migrate", schema)
    assert "users.users_name_not_empty (1 row that breaks it)" in refused.stderr
    assert await catalog_state(db) == good_catalog
    failed = cli.db_fails("migrate", schema, "--allow-destructive")

    assert 'check constraint "users_name_not_empty"' in failed.stderr
    assert "is violated by some row" in failed.stderr
    assert await catalog_state(db) == good_catalog, "the database is exactly at the last good version"
    assert await checksum_row(db) == good_state
    assert [h["version"] for h in await history_rows(db)] == [1]
    status = cli.db_ok("status", "--json").json()
    assert (status["version"], status["drift"]) == (1, False)
    last = (await log_rows(db))[-1]
    assert (last["operation"], last["status"]) == ("ROLLBACK", "COMPLETED")
    assert "users_name_not_empty" in last["reason"]

    # From that good state, fixing the data lets the same migration through.
    await db.execute("UPDATE users SET name = 'anonymous' WHERE name = ''")
    cli.db_ok("migrate", schema)
    assert "users_name_not_empty" in await constraint_names(db, "users")
    assert "posts" in await public_tables(db)


async def test_migration_rollback_003_provides_manual_rollback_command_to_restore_previous_version(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    v1 = await checksum_row(db)
    v1_catalog = await catalog_state(db)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    assert "email" in await columns(db, "users")

    run = cli.db_ok("migrate:rollback", "--reason", "email column not wanted yet")

    assert "version 1" in run.stdout
    assert await catalog_state(db) == v1_catalog, "the schema is exactly version 1's again"
    restored = await checksum_row(db)
    assert restored is not None and v1 is not None
    assert (restored["version"], restored["checksum"], restored["schema"]) == (1, v1["checksum"], v1["schema"])
    history = await history_rows(db)
    assert [(h["version"], h["rolled_back_at"] is not None) for h in history] == [(1, False), (2, True)]
    status = cli.db_ok("status", "--json").json()
    assert (status["version"], status["checksum"], status["drift"]) == (1, v1["checksum"], False)

    # The restored version is recognised as version 1: migrating to version 1's schema has nothing to do.
    _schema(cli, USERS_V1)
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"
    _schema(cli, USERS_V2)
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "migrated"
    assert "email" in await columns(db, "users")


async def test_migration_rollback_004_restores_data_integrity_after_failed_migration_rollback(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, table(1, "users", NAME, field(2, "age", "integer"), field(3, "bio", "long-text")))
    cli.db_ok("migrate", schema)
    await db.execute(
        "INSERT INTO users (name, age, bio) VALUES ('ada', 36, 'first programmer'), ('grace', NULL, 'COBOL ✓'), "
        "(NULL, 7, NULL)"
    )
    rows_before = await table_rows(db, "users")
    catalog_before = await catalog_state(db)

    # Several changes to the populated table; the last one cannot succeed on these rows.
    _schema(
        cli,
        table(
            1,
            "users",
            field(1, "name", indexed=True),
            field(2, "age", "integer", default=0),
            field(3, "bio", "long-text"),
            field(4, "email", "email"),
            field(5, "nickname", required=True),
        ),
    )
    failed = cli.db_fails("migrate", schema)

    assert 'column "nickname" of relation "users" contains null values' in failed.stderr
    assert await table_rows(db, "users") == rows_before, "every row and every value is as before"
    assert await catalog_state(db) == catalog_before
    # No lock or transaction is left behind: the table takes writes at once.
    await db.execute("SET lock_timeout = '2s'")
    await db.execute("INSERT INTO users (name, age) VALUES ('linus', 54)")
    assert await db.fetchval("SELECT count(*) FROM users") == 4


async def test_migration_rollback_005_handles_cascading_rollback_for_dependent_tables(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    v1_catalog = await catalog_state(db)
    companies = table(2, "companies", NAME)
    contacts = table(
        3,
        "contacts",
        field(1, "full_name"),
        field(2, "company", "relationship", relatedTable="companies", required=True, onDelete="cascade"),
    )
    _schema(cli, USERS_V1, companies, contacts)
    cli.db_ok("migrate", schema)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'public.contacts'::regclass "
            "AND confrelid = 'public.companies'::regclass"
        )
        == 1
    )
    await db.execute("INSERT INTO companies (name) VALUES ('acme')")
    await db.execute("INSERT INTO contacts (full_name, company) SELECT 'wile', id FROM companies")

    run = cli.db_ok("rollback", "--force", "--reason", "undo companies and contacts")

    assert await public_tables(db) == {"users"}
    assert await catalog_state(db) == v1_catalog
    child, parent = lines_containing(run.stderr, "create table contacts", "create table companies")
    assert -1 < child < parent, f"the child table is dropped before its parent:\n{run.stderr}"

    # Across versions: a later version's child of an earlier version's parent goes first too.
    cli.db_ok("migrate", schema)  # version 2 again: companies and contacts
    deals = table(4, "deals", field(1, "title"), field(2, "contact", "relationship", relatedTable="contacts"))
    _schema(cli, USERS_V1, companies, contacts, deals)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO companies (name) VALUES ('acme')")
    await db.execute("INSERT INTO contacts (full_name, company) SELECT 'wile', id FROM companies")
    await db.execute("INSERT INTO deals (title, contact) SELECT 'anvils', id FROM contacts")
    cli.db_ok("rollback", "--to", "1", "--force", "--reason", "back to users only")
    assert await public_tables(db) == {"users"}
    assert await catalog_state(db) == v1_catalog
    assert (await checksum_row(db) or {})["version"] == 1


async def test_migration_rollback_006_logs_rollback_operations_for_audit_trail(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name, email) VALUES ('ada', 'ada@example.com')")

    cli.db_fails("rollback", "--reason", "first try")  # refused: it would destroy an email
    cli.db_ok("rollback", "--force", "--reason", "bad deploy")

    log = await log_rows(db)
    assert [(r["operation"], r["status"]) for r in log] == [
        ("MIGRATE", "COMPLETED"),
        ("MIGRATE", "COMPLETED"),
        ("ROLLBACK", "FAILED"),
        ("ROLLBACK", "COMPLETED"),
    ]
    refused, done = log[2], log[3]
    assert "first try" in refused["reason"] and "Destructive operation detected" in refused["reason"]
    assert (done["from_version"], done["to_version"], done["reason"]) == (2, 1, "bad deploy")
    [_, rolled_back] = await history_rows(db)
    assert rolled_back["rolled_back_at"] is not None
    assert rolled_back["rollback_reason"] == "bad deploy"
    listed = cli.db_ok("history", "--json").json()
    assert any(e["operation"] == "ROLLBACK" and e["reason"] == "bad deploy" for e in listed["log"])


async def test_migration_rollback_007_supports_schema_downgrade_from_version_n_to_n_minus_1(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    v1_catalog = await catalog_state(db)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    v2_catalog = await catalog_state(db)
    v2_checksum = _checksum_of(cli, schema)
    _schema(cli, USERS_V2, POSTS)
    cli.db_ok("migrate", schema)
    assert (await checksum_row(db) or {})["version"] == 3

    cli.db_ok("rollback", "--to", "2", "--reason", "3 to 2")
    assert await catalog_state(db) == v2_catalog
    row = await checksum_row(db)
    assert row is not None
    assert (row["version"], row["checksum"]) == (2, v2_checksum)

    cli.db_ok("rollback", "--reason", "2 to 1")  # no --to: one version down
    assert await catalog_state(db) == v1_catalog
    assert (await checksum_row(db) or {})["version"] == 1
    assert [(h["version"], h["rollback_reason"]) for h in await history_rows(db)] == [
        (1, None),
        (2, "2 to 1"),
        (3, "3 to 2"),
    ]


async def test_migration_rollback_008_prevents_rollback_if_it_would_cause_data_loss_without_force(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2, table(2, "tags", field(1, "label")))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name, email) VALUES ('a', 'a@x.org'), ('b', 'b@x.org'), ('c', NULL)")

    # The tags table is empty: undoing version 3 destroys nothing and needs no --force.
    cli.db_ok("rollback", "--reason", "no tags")
    assert "tags" not in await public_tables(db)

    catalog_before = await catalog_state(db)
    rows_before = await table_rows(db, "users")
    refused = cli.db_fails("rollback", "--reason", "drop email")
    assert "Destructive operation detected" in refused.stderr
    assert "users.email (2 non-null values)" in refused.stderr
    assert "--force" in refused.stderr
    assert await catalog_state(db) == catalog_before
    assert await table_rows(db, "users") == rows_before
    assert (await checksum_row(db) or {})["version"] == 2

    forced = cli.db_ok("rollback", "--force", "--reason", "drop email")
    assert "users.email (2 non-null values)" in forced.stdout, "what was destroyed is reported"
    assert "email" not in await columns(db, "users")
    assert [r[-1] for r in await table_rows(db, "users")] == ["a", "b", "c"]
    assert (await checksum_row(db) or {})["version"] == 1


async def test_migration_rollback_008_allows_rollback_without_force_when_no_value_would_be_lost(
    cli: Cli, db: asyncpg.Connection
) -> None:
    """Undoing a widening (varchar(255) to text) loses nothing while every value still fits in 255 characters."""
    schema = _schema(cli, table(1, "users", field(1, "bio")))
    cli.db_ok("migrate", schema)
    _schema(cli, table(1, "users", field(1, "bio", "long-text")))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (bio) VALUES ('short'), ('also short'), (NULL)")

    result = cli.db("rollback", "--reason", "back to single-line text")
    assert result.returncode == 0, f"no value is longer than 255 characters, so nothing is lost:\n{result}"
    assert [r[-1] for r in await table_rows(db, "users")] == ["short", "also short", None]

    # With one value that would be cut, the same rollback is refused and says how many values.
    _schema(cli, table(1, "users", field(1, "bio", "long-text")))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (bio) VALUES (repeat('x', 300))")
    refused = cli.db_fails("rollback", "--reason", "back again")
    assert "Destructive operation detected" in refused.stderr
    assert re.search(r"users\.bio \(1 ", refused.stderr), refused.stderr


async def test_migration_rollback_regression_user_can_complete_full_rollback_workflow(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    assert cli.db_ok("plan", schema).returncode == 0
    cli.db_ok("apply", "--yes")
    _schema(cli, USERS_V2)
    cli.db_ok("plan", schema)
    cli.db_ok("apply", "--yes")
    assert sorted(p.name for p in (cli.cwd / "plans").iterdir()) == [
        "0001_new_table_users.yaml",
        "0002_users_email.yaml",
    ]
    await db.execute("INSERT INTO users (name, email) VALUES ('ada', 'ada@example.com')")
    status = cli.db_ok("status", "--json").json()
    assert [(p["version"], p["state"]) for p in status["plans"]] == [(1, "applied"), (2, "applied")]

    dry = cli.db_ok("rollback", "--to", "1", "--force", "--dry-run")
    assert "email" in await columns(db, "users"), "a dry run changes nothing"
    assert "would roll back" in dry.stdout
    cli.db_fails("rollback", "--to", "1", "--reason", "bad email data")
    assert await db.fetchval("SELECT email FROM users") == "ada@example.com"
    cli.db_ok("migrate:rollback", "--to", "1", "--force", "--reason", "bad email data")
    assert "email" not in await columns(db, "users")

    status = cli.db_ok("status", "--json").json()
    assert status["version"] == 1
    assert [(p["version"], p["state"]) for p in status["plans"]] == [(1, "applied"), (2, "rolled back")]
    history = cli.db_ok("history", "--json").json()["history"]
    assert [(e["version"], e["state"], e["rollback_reason"]) for e in history] == [
        (1, "applied", None),
        (2, "rolled back", "bad email data"),
    ]

    # The plan is still there: apply it again once the problem is fixed.
    cli.db_ok("apply", "--yes")
    assert "email" in await columns(db, "users")
    assert cli.db_ok("status", "--json").json()["version"] == 2
    versions = [(h["version"], h["rolled_back_at"] is None) for h in await history_rows(db)]
    assert versions == [(1, True), (2, False), (2, True)]


# --- US-MIGRATION-SYSTEM-003: audit trail ------------------------------------------------------------------


async def test_migration_audit_001_records_migration_history_with_timestamp_and_checksum(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    started = datetime.now(UTC) - timedelta(seconds=5)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    finished = datetime.now(UTC) + timedelta(seconds=5)

    history = await history_rows(db)
    assert [h["version"] for h in history] == [1, 2]
    for entry in history:
        assert started <= entry["applied_at"] <= finished
        assert HEX64.fullmatch(entry["checksum"])
        assert entry["checksum"] == sha256_of_tables(entry["schema"]["tables"])
        assert entry["applied_by"]
        assert entry["rolled_back_at"] is None
    assert history[0]["applied_at"] <= history[1]["applied_at"]
    assert history[0]["checksum"] != history[1]["checksum"]
    assert history[1]["checksum"] == (await checksum_row(db) or {})["checksum"]
    column_types = dict(
        await db.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'system' AND table_name = 'migration_history'"
        )
    )
    assert column_types["applied_at"].startswith("timestamp")
    assert column_types["checksum"] == "text"
    assert column_types["version"] == "integer"


async def test_migration_audit_002_stores_complete_schema_snapshot_in_migration_history(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = cli.cwd / "crm.yaml"
    shutil.copy(EXAMPLES / "crm.yaml", schema)
    written = yaml.safe_load(schema.read_text())

    cli.db_ok("migrate", schema)

    [entry] = await history_rows(db)
    snapshot = entry["schema"]
    assert [t["name"] for t in snapshot["tables"]] == [t["name"] for t in written["tables"]]
    for recorded, declared in zip(snapshot["tables"], written["tables"], strict=True):
        assert [(f["id"], f["name"], f["type"]) for f in recorded["fields"]] == [
            (f["id"], f["name"], f["type"]) for f in declared["fields"]
        ]
        for recorded_field, declared_field in zip(recorded["fields"], declared["fields"], strict=True):
            for key, value in declared_field.items():
                assert recorded_field[key] == value, (recorded["name"], declared_field["name"], key)
    assert entry["checksum"] == sha256_of_tables(snapshot["tables"])
    steps = entry["plan"]["steps"]
    assert steps and all(step["forward"] for step in steps)
    assert any(step["op"] == "create_table" and step["reverse"] for step in steps)
    listed = cli.db_ok("history", "--json", "--snapshots").json()["history"]
    assert listed[0]["schema"] == snapshot


async def test_migration_audit_003_tracks_incremental_version_numbers_for_each_migration(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    for tables in ((USERS_V1,), (USERS_V2,), (USERS_V2, POSTS)):
        _schema(cli, *tables)
        cli.db_ok("migrate", schema)
        cli.db_ok("migrate", schema)  # unchanged: no new version

    history = await history_rows(db)
    assert [h["version"] for h in history] == [1, 2, 3]
    assert len({h["checksum"] for h in history}) == 3
    assert (await checksum_row(db) or {})["version"] == 3
    log = [(r["operation"], r["from_version"], r["to_version"]) for r in await log_rows(db)]
    assert log == [("MIGRATE", 0, 1), ("MIGRATE", 1, 2), ("MIGRATE", 2, 3)]
    assert [e["version"] for e in cli.db_ok("history", "--json").json()["history"]] == [1, 2, 3]


async def test_migration_audit_004_logs_rollback_operations_with_reason_and_timestamp(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2, POSTS)
    cli.db_ok("migrate", schema)

    before = datetime.now(UTC) - timedelta(seconds=5)
    cli.db_ok("rollback", "--reason", "revert: posts broke the feed")
    cli.db_ok("rollback")  # no reason given: still logged, with a placeholder
    after = datetime.now(UTC) + timedelta(seconds=5)

    rollbacks = [r for r in await log_rows(db) if r["operation"] == "ROLLBACK"]
    assert [(r["status"], r["from_version"], r["to_version"]) for r in rollbacks] == [
        ("COMPLETED", 3, 2),
        ("COMPLETED", 2, 1),
    ]
    assert rollbacks[0]["reason"] == "revert: posts broke the feed"
    assert rollbacks[1]["reason"], "a rollback without --reason still says so"
    for row in rollbacks:
        assert before <= row["created_at"] <= after
    history = await history_rows(db)
    assert history[2]["rollback_reason"] == "revert: posts broke the feed"
    assert history[1]["rollback_reason"]
    for entry in history[1:]:
        assert before <= entry["rolled_back_at"] <= after
    listed = cli.db_ok("history", "--json").json()
    assert listed["history"][2]["rolled_back_at"] is not None
    assert listed["history"][2]["rollback_reason"] == "revert: posts broke the feed"


async def test_migration_audit_005_provides_query_interface_for_migration_history(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2, POSTS)
    cli.db_ok("migrate", schema)
    checksums = [h["checksum"] for h in await history_rows(db)]

    everything = cli.db_ok("history", "--json").json()
    assert [(e["version"], e["checksum"], e["state"]) for e in everything["history"]] == [
        (1, checksums[0], "applied"),
        (2, checksums[1], "applied"),
        (3, checksums[2], "applied"),
    ]
    assert {"applied_at", "applied_by", "summary", "rolled_back_at", "rollback_reason"} <= set(everything["history"][0])
    assert [e["to_version"] for e in everything["log"]] == [1, 2, 3]

    only_two = cli.db_ok("history", "--json", "--version", "2").json()
    assert [e["version"] for e in only_two["history"]] == [2]
    latest = cli.db_ok("history", "--json", "--limit", "1").json()
    assert [e["version"] for e in latest["history"]] == [3]
    today = datetime.now(UTC).date()
    since_yesterday = cli.db_ok("history", "--json", "--since", str(today - timedelta(days=1))).json()
    assert [e["version"] for e in since_yesterday["history"]] == [1, 2, 3]
    from_tomorrow = cli.db_ok("history", "--json", "--since", str(today + timedelta(days=1))).json()
    assert from_tomorrow["history"] == [] and from_tomorrow["log"] == []
    until_yesterday = cli.db_ok("history", "--json", "--until", str(today - timedelta(days=1))).json()
    assert until_yesterday["history"] == []

    text = cli.db_ok("history").stdout
    for version, checksum in enumerate(checksums, start=1):
        assert re.search(rf"^\s*{version}\s.*{checksum[:12]}", text, re.MULTILINE), text


async def test_migration_audit_006_detects_and_reports_schema_drift_from_audit_history(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    assert cli.db("drift").returncode == 0
    assert cli.db_ok("status", "--json").json()["drift"] is False

    await db.execute("ALTER TABLE users ADD COLUMN hack text")

    found = cli.db("drift")
    assert found.returncode == 3, str(found)
    assert "users.hack" in found.stdout
    report = cli.db("drift", "--json")
    assert report.returncode == 3
    assert report.json()["drift"] is True
    assert any("users.hack" in d["detail"] for d in report.json()["differences"]), report.stdout
    assert cli.db_ok("status", "--json").json()["drift"] is True

    _schema(cli, USERS_V2)
    refused = cli.db_fails("migrate", schema)
    assert "Schema drift detected" in refused.stderr and "users.hack" in refused.stderr
    assert "email" not in await columns(db, "users")

    cli.db_ok("drift", "--accept", "--reason", "hotfix column kept on purpose")
    assert cli.db("drift").returncode == 0
    assert cli.db_ok("status", "--json").json()["drift"] is False
    accepted = (await log_rows(db))[-1]
    assert accepted["operation"] == "DRIFT_ACCEPTED"
    assert "hotfix column kept on purpose" in accepted["reason"]


async def test_migration_audit_regression_user_can_complete_full_audit_workflow(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    _schema(cli, table(1, "users", NAME, EMAIL, field(3, "nickname", required=True)))
    await db.execute("INSERT INTO users (name) VALUES ('ada')")
    failure = cli.db_fails("migrate", schema)
    cli.db_ok("rollback", "--force", "--reason", "email unused")
    await db.execute("CREATE INDEX manual_idx ON users (name)")

    listed = cli.db_ok("history", "--json", "--snapshots").json()
    assert [(e["version"], e["state"]) for e in listed["history"]] == [(1, "applied"), (2, "rolled back")]
    assert [f["name"] for f in listed["history"][1]["schema"]["tables"][0]["fields"]] == ["name", "email"]
    assert listed["history"][1]["plan"]["steps"][0]["reverse"]
    assert [(e["operation"], e["status"]) for e in listed["log"]] == [
        ("MIGRATE", "COMPLETED"),
        ("MIGRATE", "COMPLETED"),
        ("MIGRATE", "FAILED"),
        ("ROLLBACK", "COMPLETED"),
        ("ROLLBACK", "COMPLETED"),
    ]
    assert 'column "nickname" of relation "users" contains null values' in listed["log"][2]["reason"]
    assert listed["log"][3]["reason"].startswith("automatic rollback of the failed migration: ")
    assert "contains null values" in failure.stderr
    assert listed["log"][4]["reason"] == "email unused"
    status = cli.db_ok("status", "--json").json()
    assert (status["version"], status["drift"]) == (1, True)
    drift = cli.db("drift", "--json")
    assert drift.returncode == 3
    assert any("manual_idx" in d["detail"] for d in drift.json()["differences"]), drift.stdout
    text = cli.db_ok("history").stdout
    assert "rolled back" in text and "email unused" in text


# --- US-MIGRATION-SYSTEM-004: error handling ---------------------------------------------------------------


async def test_migration_error_001_rollbacks_transaction_when_generating_sql_for_invalid_type(
    cli: Cli, db: asyncpg.Connection
) -> None:
    bad = table(1, "users", NAME, field(2, "score", "INVALID_TYPE"))
    schema = _schema(cli, bad)

    failed = cli.db_fails("migrate", schema)
    assert "Unknown field type: INVALID_TYPE" in failed.stderr
    assert "tables[0].fields[1].type" in failed.stderr
    await _nothing_written(db)
    assert cli.db("plan", schema).returncode == 1
    assert not (cli.cwd / "plans").exists() or not any((cli.cwd / "plans").iterdir())

    # On a database already at version 1: refused the same way, nothing written at all.
    _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    catalog_before, state_before, log_before = await catalog_state(db), await checksum_row(db), await log_rows(db)
    _schema(cli, bad)
    assert "Unknown field type: INVALID_TYPE" in cli.db_fails("migrate", schema).stderr
    assert await catalog_state(db) == catalog_before
    assert await checksum_row(db) == state_before
    assert await log_rows(db) == log_before


async def test_migration_error_002_rollbacks_all_changes_when_migration_fails_mid_execution(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name) VALUES ('ada'), (NULL)")
    catalog_before, state_before = await catalog_state(db), await checksum_row(db)

    # A new table (created first), then a NOT NULL column the existing rows cannot satisfy.
    _schema(cli, table(1, "users", NAME, field(3, "nickname", required=True)), POSTS)
    failed = cli.db_fails("migrate", schema)

    assert re.search(r"create table posts .*done", failed.stderr), "the failure came after earlier steps ran"
    assert 'column "nickname" of relation "users" contains null values' in failed.stderr
    assert await catalog_state(db) == catalog_before, "the new table, its functions and the column are all gone"
    assert "posts" not in await public_tables(db)
    assert await checksum_row(db) == state_before
    assert [h["version"] for h in await history_rows(db)] == [1]
    last = (await log_rows(db))[-1]
    assert (last["operation"], last["status"], last["from_version"], last["to_version"]) == (
        "ROLLBACK",
        "COMPLETED",
        1,
        2,
    )
    assert 'column "nickname" of relation "users" contains null values' in last["reason"]
    assert re.search(r"step \d+", last["reason"]), "the failing step is named"


async def test_migration_error_003_rollbacks_transaction_on_constraint_violation(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V2)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name, email) VALUES ('a', 'same@example.com'), ('b', 'same@example.com')")
    catalog_before, state_before = await catalog_state(db), await checksum_row(db)

    _schema(cli, table(1, "users", NAME, field(2, "email", "email", unique=True)), POSTS)
    failed = cli.db_fails("migrate", schema)

    assert 'could not create unique index "users_email_key"' in failed.stderr
    assert "Key (email)=(same@example.com) is duplicated" in failed.stderr
    assert "users_email_key" not in await constraint_names(db, "users")
    assert await catalog_state(db) == catalog_before
    assert await checksum_row(db) == state_before
    assert await db.fetchval("SELECT count(*) FROM users") == 2
    last = (await log_rows(db))[-1]
    assert (last["operation"], last["status"]) == ("ROLLBACK", "COMPLETED")
    assert "users_email_key" in last["reason"]

    # A foreign key that existing rows violate is rolled back the same way.
    await db.execute("DELETE FROM users WHERE name = 'b'")
    _schema(cli, USERS_V2, table(2, "posts", field(1, "title"), field(2, "author", "integer")))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO posts (title, author) VALUES ('orphan', 999)")
    catalog_before = await catalog_state(db)
    _schema(
        cli, USERS_V2, table(2, "posts", field(1, "title"), field(2, "author", "relationship", relatedTable="users"))
    )
    failed = cli.db_fails("migrate", schema)
    assert "violates foreign key constraint" in failed.stderr or "is not present in table" in failed.stderr
    assert await catalog_state(db) == catalog_before
    assert await table_rows(db, "posts") != []


async def test_migration_error_004_fails_and_rollbacks_when_foreign_key_references_non_existent_table(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(
        cli, table(1, "posts", field(1, "title"), field(2, "author_id", "relationship", relatedTable="users"))
    )

    failed = cli.db_fails("migrate", schema)

    assert 'Relationship field "posts.author_id": relatedTable "users" does not exist' in failed.stderr
    assert "tables[0].fields[1]" in failed.stderr
    await _nothing_written(db)
    assert cli.db("plan", schema).returncode == 1
    assert not (cli.cwd / "plans").exists() or not any((cli.cwd / "plans").iterdir())


async def test_migration_error_005_aborts_application_startup_on_database_connection_error(
    cli: Cli, db: asyncpg.Connection, database_url: str
) -> None:
    schema = _schema(cli, USERS_V1)
    refused = Cli(cli.cwd, f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres")
    missing = Cli(cli.cwd, database_url.replace("/sovrium_test_", "/no_such_database_", 1))

    for target in (refused, missing):
        failed = target.db_fails("migrate", schema)
        assert failed.error_lines[0].startswith("error: Database connection failed: "), str(failed)
        assert failed.seconds < 15
        assert failed.stdout == "" or '"ok": false' in failed.stdout
    assert 'database "no_such_database_' in missing.db("migrate", schema).stderr
    await _nothing_written(db)


async def test_migration_error_006_rejects_schema_with_index_on_non_existent_column(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, table(1, "users", NAME, indexes=[{"name": "idx_users_status", "fields": ["status"]}]))

    failed = cli.db_fails("migrate", schema)

    assert 'Index "idx_users_status" references non-existent column "status"' in failed.stderr
    assert "tables[0].indexes[0]" in failed.stderr
    await _nothing_written(db)
    assert cli.run("validate", schema).returncode == 1


async def test_migration_error_007_rejects_schema_with_duplicate_table_ids(cli: Cli, db: asyncpg.Connection) -> None:
    schema = _schema(cli, USERS_V1, table(1, "posts", field(1, "title")))

    failed = cli.db_fails("migrate", schema)

    assert "Table IDs must be unique within the schema" in failed.stderr
    assert "tables[1].id" in failed.stderr
    await _nothing_written(db)
    _schema(cli, USERS_V1, table(2, "users", field(1, "title")))
    assert "Table names must be unique within the schema" in cli.db_fails("migrate", schema).stderr
    await _nothing_written(db)


async def test_migration_error_008_rejects_migration_with_invalid_dependency_order(
    cli: Cli, db: asyncpg.Connection
) -> None:
    # Circular required relationships: no table can be created first.
    circular = _schema(
        cli,
        table(1, "authors", NAME, field(2, "best_book", "relationship", relatedTable="books", required=True)),
        table(2, "books", field(1, "title"), field(2, "author", "relationship", relatedTable="authors", required=True)),
    )
    failed = cli.db_fails("migrate", circular)
    assert "Circular relationship dependency detected" in failed.stderr
    assert "cannot resolve table creation order" in failed.stderr
    await _nothing_written(db)

    # Declared before the tables they reference (and one referencing itself): created in a working order.
    _schema(
        cli,
        table(
            1, "deals", field(1, "title"), field(2, "contact", "relationship", relatedTable="contacts", required=True)
        ),
        table(2, "contacts", NAME, field(2, "company", "relationship", relatedTable="companies", required=True)),
        table(3, "companies", NAME, field(2, "parent", "relationship", relatedTable="companies")),
    )
    cli.db_ok("migrate", circular)
    references = await db.fetch(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY 1, 2"
    )
    assert [(r["child"], r["parent"]) for r in references] == [
        ("companies", "companies"),
        ("contacts", "companies"),
        ("deals", "contacts"),
    ]
    # And the reverse order undoes it cleanly.
    cli.db_ok("rollback", "--reason", "dependency order check")
    assert await public_tables(db) == set()


async def test_migration_error_009_rejects_destructive_operations_without_confirmation_flag(
    cli: Cli, db: asyncpg.Connection
) -> None:
    users = table(1, "users", NAME, field(2, "nickname"))
    posts = table(2, "posts", field(1, "title"), field(2, "body", "long-text"))
    schema = _schema(cli, users, posts)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name, nickname) VALUES ('a', 'ace'), ('b', 'bee'), ('c', NULL)")
    await db.execute("INSERT INTO posts (title, body) VALUES ('t1', 'b1'), ('t2', 'b2'), ('t3', 'b3')")
    catalog_before, users_before = await catalog_state(db), await table_rows(db, "users")

    _schema(cli, USERS_V1, posts)  # drops users.nickname
    refused = cli.db_fails("migrate", schema)
    assert "Destructive operation detected:" in refused.stderr
    assert "users.nickname (2 non-null values)" in refused.stderr
    assert "--allow-destructive" in refused.stderr and "allowDestructive" in refused.stderr
    assert await catalog_state(db) == catalog_before
    assert await table_rows(db, "users") == users_before

    cli.db_ok("migrate", schema, "--allow-destructive")
    assert "nickname" not in await columns(db, "users")

    # `allowDestructive: true` on the table allows it without the flag.
    _schema(cli, USERS_V1, table(2, "posts", field(1, "title"), allowDestructive=True))
    cli.db_ok("migrate", schema)
    assert "body" not in await columns(db, "posts")

    # Dropping a whole table says how many rows would go.
    _schema(cli, USERS_V1)
    refused = cli.db_fails("migrate", schema)
    assert "Destructive operation detected:" in refused.stderr
    assert "posts (3 rows)" in refused.stderr
    assert "posts" in await public_tables(db)
    cli.db_ok("migrate", schema, "--allow-destructive")
    assert await public_tables(db) == {"users"}


async def test_migration_error_009_counts_what_would_be_lost_when_the_table_is_renamed_in_the_same_plan(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, table(1, "users", NAME, field(2, "age")))
    cli.db_ok("migrate", schema)
    # '007' becomes 7: one value would not survive the conversion as it is; '42' would.
    await db.execute("INSERT INTO users (name, age) VALUES ('a', '42'), ('b', '007'), ('c', NULL)")

    _schema(cli, table(1, "people", NAME, field(2, "age", "integer")))  # same table id: a rename, and a narrowing
    refused = cli.db_fails("migrate", schema)

    assert "Destructive operation detected:" in refused.stderr
    assert re.search(r"people\.age \(1 value that would change\)", refused.stderr), refused.stderr
    assert await public_tables(db) == {"users"}


async def test_migration_error_010_rejects_empty_migration_with_no_schema_changes(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _schema(cli, USERS_V1)
    cli.db_ok("plan", schema)
    cli.db_ok("apply", "--yes")
    plans = sorted((cli.cwd / "plans").iterdir())

    online = cli.db("plan", schema)
    assert online.returncode == 3, str(online)
    assert "no schema changes" in online.stdout
    as_json = cli.db("plan", schema, "--json")
    assert as_json.returncode == 3
    assert as_json.json()["changes"] is False
    offline = cli.run("plan", schema, "--offline")
    assert offline.returncode == 3, str(offline)
    assert sorted((cli.cwd / "plans").iterdir()) == plans, "no plan file is written"

    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"
    assert [h["version"] for h in await history_rows(db)] == [1]


async def test_migration_error_regression_user_can_complete_full_error_handling_workflow(
    cli: Cli, db: asyncpg.Connection
) -> None:
    # 1. Typo in a type: refused before the database is touched.
    schema = _schema(cli, table(1, "users", field(1, "name", "single-line-txt")))
    assert "Unknown field type: single-line-txt" in cli.db_fails("migrate", schema).stderr
    await _nothing_written(db)
    # 2. A relationship to a table not declared yet: refused too.
    _schema(cli, USERS_V1, table(2, "posts", field(1, "author", "relationship", relatedTable="authors")))
    assert 'relatedTable "authors" does not exist' in cli.db_fails("migrate", schema).stderr
    await _nothing_written(db)
    # 3. Fixed: migrated.
    _schema(cli, USERS_V1, table(2, "posts", field(1, "author", "relationship", relatedTable="users")))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name) VALUES (NULL)")
    good = await catalog_state(db)
    # 4. Unreachable database: clear message, nothing done.
    down = Cli(cli.cwd, f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres")
    assert "Database connection failed" in down.db_fails("migrate", schema).stderr
    # 5. A change the data does not allow: rolled back with PostgreSQL's words.
    _schema(
        cli,
        table(1, "users", field(1, "name", required=True)),
        table(2, "posts", field(1, "author", "relationship", relatedTable="users")),
    )
    assert 'column "name" of relation "users" contains null values' in cli.db_fails("migrate", schema).stderr
    assert await catalog_state(db) == good
    # 6. Fix the data, migrate again: success; then nothing left to do.
    await db.execute("UPDATE users SET name = 'unknown' WHERE name IS NULL")
    cli.db_ok("migrate", schema)
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"
    assert [h["version"] for h in await history_rows(db)] == [1, 2]
    assert [(r["operation"], r["status"]) for r in await log_rows(db)] == [
        ("MIGRATE", "COMPLETED"),
        ("MIGRATE", "FAILED"),
        ("ROLLBACK", "COMPLETED"),
        ("MIGRATE", "COMPLETED"),
    ]
    assert cli.db("drift").returncode == 0
