"""Databases as Sovrium leaves them: Better Auth's users table, and the bookkeeping Sovrium itself initialised.

Sovrium's first Drizzle migration creates schemas `auth` and `system`, the users table `auth."user"`, its own
tables (`public.audit_log`, `public._webhook_deliveries` …) and the three bookkeeping tables with fewer columns
than this tool's; its migrations record the checksum and history rows without plans.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from tests.acceptance_support import (
    Cli,
    app_schema,
    checksum_row,
    columns,
    field,
    history_rows,
    public_tables,
    sha256_of_tables,
    table,
    write_schema,
)

AUTH_USER_COLUMNS = [
    "id",
    "name",
    "email",
    "email_verified",
    "image",
    "created_at",
    "updated_at",
    "role",
    "banned",
    "ban_reason",
    "ban_expires",
    "two_factor_enabled",
    "scheduledErasureAt",
]

# Sovrium's own DDL (drizzle/0000_*.sql), as a Sovrium-initialised database has it.
SOVRIUM_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS system;
CREATE TABLE auth."user" (
    "id" text PRIMARY KEY NOT NULL, "name" text NOT NULL, "email" text NOT NULL,
    "email_verified" boolean DEFAULT false NOT NULL, "image" text,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL,
    "updated_at" timestamp with time zone DEFAULT now() NOT NULL,
    "role" text, "banned" boolean DEFAULT false, "ban_reason" text, "ban_expires" timestamp with time zone,
    "two_factor_enabled" boolean DEFAULT false, "scheduledErasureAt" timestamp with time zone,
    CONSTRAINT "user_email_unique" UNIQUE("email")
);
CREATE TABLE system.migration_history (
    "id" serial PRIMARY KEY NOT NULL, "version" integer NOT NULL, "checksum" text NOT NULL, "schema" jsonb,
    "applied_at" timestamp DEFAULT now(), "rolled_back_at" timestamp
);
CREATE TABLE system.migration_log (
    "id" serial PRIMARY KEY NOT NULL, "operation" text NOT NULL, "from_version" integer, "to_version" integer,
    "reason" text, "status" text NOT NULL, "created_at" timestamp DEFAULT now()
);
CREATE TABLE system.schema_checksum (
    "id" text PRIMARY KEY NOT NULL, "checksum" text NOT NULL, "schema" jsonb NOT NULL,
    "updated_at" timestamp DEFAULT now()
);
CREATE TABLE public.audit_log (
    "id" text PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL, "action" text NOT NULL,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE public._webhook_deliveries ("id" serial PRIMARY KEY, "webhook_name" text NOT NULL);
INSERT INTO auth."user" (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com');
INSERT INTO public.audit_log (action) VALUES ('sign-in');
INSERT INTO public._webhook_deliveries (webhook_name) VALUES ('hook');
"""

CONTACTS_V1 = table(1, "contacts", field(1, "name"), field(2, "owner", "user"))
CONTACTS_V2 = table(1, "contacts", field(1, "name"), field(2, "owner", "user"), field(3, "phone", "phone-number"))
CONTACTS_V3 = table(
    1,
    "contacts",
    field(1, "name"),
    field(2, "owner", "user"),
    field(3, "phone", "phone-number"),
    field(4, "city"),
)


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


def _schema(cli: Cli, *tables: dict[str, Any], auth: bool = True) -> Path:
    document = app_schema(*tables)
    if auth:
        document["auth"] = {"strategies": [{"type": "emailAndPassword"}]}
    return write_schema(cli.cwd / "app.yaml", document)


async def _auth_user(db: asyncpg.Connection) -> tuple[list[str], list[tuple[Any, ...]]]:
    names = await db.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'auth.\"user\"'::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum"
    )
    rows = await db.fetch('SELECT id, name, email FROM auth."user" ORDER BY id')
    return [r["attname"] for r in names], [tuple(r) for r in rows]


# --- the users table ------------------------------------------------------------------------------------------


async def test_user_fields_on_a_database_without_auth_user_create_it_first(cli: Cli, db: asyncpg.Connection) -> None:
    schema = _schema(cli, CONTACTS_V1)
    plan = cli.db_ok("plan", schema)
    [written] = (cli.cwd / "plans").iterdir()
    steps = yaml.safe_load(written.read_text())["steps"]
    assert steps[0]["op"] == "create_auth_users"
    assert steps[0]["forward"][0] == "CREATE SCHEMA auth"
    assert steps[0]["reverse"] == ['DROP TABLE auth."user"', "DROP SCHEMA auth"]
    assert "wrote" in plan.stdout

    cli.db_ok("apply", "--yes")

    assert (await _auth_user(db))[0] == AUTH_USER_COLUMNS
    assert (
        await db.fetchval("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'contacts_owner_fkey'")
        == 'FOREIGN KEY (owner) REFERENCES auth."user"(id)'
    )
    await db.execute("INSERT INTO auth.\"user\" (id, name, email) VALUES ('u1', 'Ada', 'a@x')")
    await db.execute("INSERT INTO contacts (name, owner) VALUES ('Bob', 'u1')")
    assert cli.db("drift").returncode == 0

    refused = cli.db_fails("rollback", "--to", "0", "--yes")
    assert "drops table auth.user (1 row)" in refused.stderr
    await db.execute('DELETE FROM contacts; DELETE FROM auth."user"')
    cli.db_ok("rollback", "--to", "0", "--yes")
    assert await db.fetchval("SELECT to_regnamespace('auth')") is None, "the plan created it, its reverse drops it"


async def test_an_existing_auth_user_is_used_as_is_never_altered_or_dropped(cli: Cli, db: asyncpg.Connection) -> None:
    await db.execute(SOVRIUM_BOOTSTRAP.split("CREATE TABLE system.migration_history", maxsplit=1)[0])
    await db.execute("INSERT INTO auth.\"user\" (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')")
    await db.execute('ALTER TABLE auth."user" ADD COLUMN locale text')  # Better Auth's own evolution
    before = await _auth_user(db)
    schema = _schema(cli, CONTACTS_V1)

    cli.db_ok("migrate", schema)
    assert not any(step["op"] == "create_auth_users" for step in (await history_rows(db))[0]["plan"]["steps"]), (
        "nothing to create"
    )
    await db.execute("INSERT INTO contacts (name, owner) VALUES ('Bob', 'u1')")
    assert cli.db("drift").returncode == 0, "auth.user is not part of the app's catalog or drift"
    await db.execute('ALTER TABLE auth."user" ADD COLUMN theme text')
    assert cli.db("drift").returncode == 0

    await db.execute("DELETE FROM contacts")
    cli.db_ok("rollback", "--to", "0", "--yes")
    names, rows = await _auth_user(db)
    assert names == [*before[0], "theme"] and rows == before[1], "never altered, never dropped"


async def test_an_offline_plan_uses_an_existing_auth_user_as_is(cli: Cli, db: asyncpg.Connection) -> None:
    """A plan written without the database creates the users table; Sovrium made it already: the step is passed
    over (and left out of the history, so no rollback drops the table)."""
    schema = _schema(cli, CONTACTS_V1)
    cli.ok("plan", schema, "--offline")
    await db.execute(SOVRIUM_BOOTSTRAP.split("CREATE TABLE system.migration_history", maxsplit=1)[0])
    await db.execute("INSERT INTO auth.\"user\" (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')")
    before = await _auth_user(db)

    applied = cli.db_ok("apply", "--yes")

    assert "create schema auth and Better Auth's users table auth.user (user fields point at it): already there" in (
        applied.stderr
    )
    assert [s["op"] for s in (await history_rows(db))[0]["plan"]["steps"]].count("create_auth_users") == 0
    assert cli.db("drift").returncode == 0
    assert cli.db_ok("status", "--json").json()["plans"][0]["state"] == "applied"
    cli.db_ok("rollback", "--to", "0", "--yes")
    assert await _auth_user(db) == before


async def test_an_offline_plan_creates_only_the_table_in_an_existing_auth_schema(
    cli: Cli, db: asyncpg.Connection
) -> None:
    cli.ok("plan", _schema(cli, CONTACTS_V1), "--offline")
    await db.execute("CREATE SCHEMA auth; CREATE TABLE auth.session (id text)")  # another Better Auth table

    cli.db_ok("apply", "--yes")

    assert (await _auth_user(db))[0] == AUTH_USER_COLUMNS
    [step] = [s for s in (await history_rows(db))[0]["plan"]["steps"] if s["op"] == "create_auth_users"]
    assert step["reverse"] == ['DROP TABLE auth."user"'], "the schema was there: its reverse leaves it"
    cli.db_ok("rollback", "--to", "0", "--yes")
    assert await db.fetchval("SELECT to_regclass('auth.session') IS NOT NULL AND to_regclass('auth.\"user\"') IS NULL")


async def test_user_fields_removed_and_added_again_in_offline_plans_apply(cli: Cli, db: asyncpg.Connection) -> None:
    """Version 2 drops the app's last user field (the users table stays: no plan drops it), version 3 adds one
    again: planned offline, version 3 creates the table again; the database has it, so the step is passed over."""
    without_owner = table(1, "contacts", field(1, "name"), field(3, "phone", "phone-number"), field(4, "city"))
    for tables in (CONTACTS_V1, without_owner, CONTACTS_V1):
        cli.ok("plan", _schema(cli, tables), "--offline")
    assert sum("create_auth_users" in p.read_text() for p in (cli.cwd / "plans").iterdir()) == 2

    cli.db_ok("apply", "--yes", "--allow-destructive")

    assert cli.db("drift").returncode == 0
    await db.execute("INSERT INTO auth.\"user\" (id, name, email) VALUES ('u1', 'Ada', 'a@x')")
    await db.execute("INSERT INTO contacts (name, owner) VALUES ('Bob', 'u1')")
    cli.db_ok("rollback", "--to", "1", "--yes", "--force")
    assert await db.fetchval('SELECT count(*) FROM auth."user"') == 1, "version 3 did not create it: kept"


async def test_the_sql_command_creates_what_user_fields_point_at(cli: Cli, db: asyncpg.Connection) -> None:
    script = cli.ok("sql", _schema(cli, CONTACTS_V1)).stdout
    assert "CREATE SCHEMA IF NOT EXISTS auth;" in script
    await db.execute(script)
    assert (await _auth_user(db))[0] == AUTH_USER_COLUMNS
    await db.execute("DROP TABLE contacts")
    await db.execute(script)  # again, on a database whose users table exists (as Sovrium leaves it)


# --- a database Sovrium initialised -------------------------------------------------------------------------------


async def _sovrium_database(cli: Cli, db: asyncpg.Connection) -> list[dict[str, Any]]:
    """Versions 1 and 2 applied by Sovrium: its bookkeeping shape, its own tables, app tables with rows."""
    await db.execute(SOVRIUM_BOOTSTRAP)
    snapshots = [[CONTACTS_V1], [CONTACTS_V2]]
    await db.execute(cli.ok("sql", _schema(cli, CONTACTS_V2)).stdout)
    await db.execute("INSERT INTO contacts (name, owner, phone) VALUES ('Bob', 'u1', '555-0100')")
    for version, tables in enumerate(snapshots, start=1):
        await db.execute(
            "INSERT INTO system.migration_history (version, checksum, schema) VALUES ($1, $2, $3::jsonb)",
            version,
            sha256_of_tables(tables),
            json.dumps({"tables": tables}),
        )
    await db.execute(
        "INSERT INTO system.schema_checksum (id, checksum, schema) VALUES ('singleton', $1, $2::jsonb)",
        sha256_of_tables(snapshots[-1]),
        json.dumps({"tables": snapshots[-1]}, indent=2),
    )
    await db.execute(
        "INSERT INTO system.migration_log (operation, reason, status) VALUES ('ROLLBACK', 'x', 'COMPLETED')"
    )
    return snapshots[-1]


async def test_status_history_and_drift_read_sovrium_bookkeeping(cli: Cli, db: asyncpg.Connection) -> None:
    await _sovrium_database(cli, db)

    status = cli.db_ok("status", "--json").json()
    assert (status["version"], status["drift"]) == (2, None)
    history = cli.db_ok("history", "--json").json()
    assert [(h["version"], h["applied_by"], h["steps"]) for h in history["history"]] == [
        (1, "Sovrium", 0),
        (2, "Sovrium", 0),
    ]
    assert [e["operation"] for e in history["log"]] == ["ROLLBACK"]
    drift = cli.db("drift", "--json")
    assert drift.returncode == 0, str(drift)
    assert cli.db_ok("migrate", cli.cwd / "app.yaml", "--json").json()["status"] == "up-to-date"


async def test_migrating_a_sovrium_database_upgrades_its_bookkeeping_and_keeps_everything(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await _sovrium_database(cli, db)
    cli.db_ok("migrate", _schema(cli, CONTACTS_V3))

    history = await history_rows(db)
    assert [h["version"] for h in history] == [1, 2, 3]
    assert [h["plan"] for h in history[:2]] == [None, None], "Sovrium's rows are kept as they were"
    assert history[2]["plan"]["steps"], "the new version has its steps"
    state = await checksum_row(db)
    assert state is not None and state["version"] == 3
    assert await db.fetchval("SELECT count(*) FROM system.migration_log") == 2
    assert {"audit_log", "_webhook_deliveries", "contacts"} <= await public_tables(db)
    assert await db.fetchval("SELECT count(*) FROM public.audit_log") == 1
    assert await db.fetchval("SELECT count(*) FROM public._webhook_deliveries") == 1
    assert "city" in await columns(db, "contacts")
    assert await db.fetchval("SELECT phone FROM contacts") == "555-0100"
    assert cli.db("drift").returncode == 0
    assert cli.db_ok("migrate", cli.cwd / "app.yaml", "--json").json()["status"] == "up-to-date"


async def test_rolling_back_to_a_version_sovrium_recorded_plans_from_its_snapshot(
    cli: Cli, db: asyncpg.Connection
) -> None:
    await _sovrium_database(cli, db)
    cli.db_ok("migrate", _schema(cli, CONTACTS_V3))

    refused = cli.db_fails("rollback", "--to", "1", "--yes")
    assert "drops column contacts.phone (1 non-null value)" in refused.stderr, "same guards and counts"
    assert "city" in await columns(db, "contacts")

    rolled = cli.db_ok("rollback", "--to", "1", "--force", "--reason", "back to v1", "--json").json()
    assert (rolled["to_version"], rolled["reverted_versions"]) == (1, [3, 2])
    assert await columns(db, "contacts") == ["id", "created_at", "updated_at", "deleted_at", "name", "owner"]
    assert await db.fetchval("SELECT name FROM contacts") == "Bob"
    state = await checksum_row(db)
    assert state is not None and (state["version"], state["checksum"]) == (1, sha256_of_tables([CONTACTS_V1]))
    assert {"audit_log", "_webhook_deliveries"} <= await public_tables(db)
    assert cli.db("drift").returncode == 0
