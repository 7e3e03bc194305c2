"""What is switched on or off outside migrations is drift: triggers and foreign keys switched off (`ALTER TABLE …
DISABLE TRIGGER`, `DISABLE TRIGGER ALL` as `pg_restore --disable-triggers` leaves them), row-level security switched
on, and its policies. Each is named, counted by `status`, and undone by the plan `drift --revert-plan` writes.

Each test drives the real `sovrium` command against a real PostgreSQL and reads the database's own catalogs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
import yaml

from sovrium_tui.catalog import compile_app
from sovrium_tui.planning.drift import find_drift
from sovrium_tui.schema import load_app
from tests.acceptance_support import Cli, app_schema, field, table, write_schema

COMPANIES = table(1, "companies", field(1, "name"))
CONTACTS = table(2, "contacts", field(1, "name"), field(2, "company", "relationship", relatedTable="companies"))


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


def _migrated(cli: Cli) -> Path:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(COMPANIES, CONTACTS))
    cli.ok("plan", schema, "--offline")
    cli.db_ok("apply", "--yes")
    return schema


async def _trigger_states(db: asyncpg.Connection, relation: str) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT tgname, tgenabled::text FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal", relation
    )
    return {row["tgname"]: row["tgenabled"] for row in rows}


async def _migrated_with_a_policy(cli: Cli, db: asyncpg.Connection) -> Path:
    schema = _migrated(cli)
    await db.execute(
        "ALTER TABLE companies ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY visible ON companies FOR SELECT USING (name <> 'hidden')"
    )
    return schema


async def _secured(db: asyncpg.Connection, relation: str) -> tuple[bool, list[str]]:
    """Whether `relation` has row-level security on, and its policies' names."""
    enabled = await db.fetchval("SELECT relrowsecurity FROM pg_class WHERE oid = $1::regclass", relation)
    policies = await db.fetch("SELECT polname FROM pg_policy WHERE polrelid = $1::regclass ORDER BY 1", relation)
    return enabled, [row["polname"] for row in policies]


async def test_a_disabled_trigger_is_drift_and_the_revert_plan_switches_it_back_on(
    cli: Cli, db: asyncpg.Connection
) -> None:
    _migrated(cli)
    names = sorted(await _trigger_states(db, "companies"))
    assert names, "Sovrium's tables have triggers (created_at, updated_at)"
    await db.execute(f'ALTER TABLE companies DISABLE TRIGGER "{names[0]}"')

    drift = cli.db("drift", "--json")
    assert drift.returncode == 3
    assert drift.json()["differences"] == [
        {
            "table": "companies",
            "kind": "changed",
            "detail": f"trigger {names[0]} on companies is disabled (recorded as enabled)",
        }
    ]
    assert cli.db_ok("status", "--json").json()["drift"] is True

    written = cli.db_ok("drift", "--revert-plan", "--reason", "bulk load left it off", "--json").json()
    plan = cli.ok("show", written["path"], "--json").json()
    dropped = next(step for step in plan["steps"] if step["op"] == "drop_trigger")
    assert dropped["reverse"][-1] == f"ALTER TABLE public.companies DISABLE TRIGGER {names[0]}", (
        "its reverse puts back the trigger as it was found: disabled"
    )
    cli.db_ok("apply", "--yes")

    assert set((await _trigger_states(db, "companies")).values()) == {"O"}
    assert cli.db("drift").returncode == 0


async def test_a_foreign_key_whose_triggers_are_disabled_is_not_enforced_and_its_revert_checks_the_rows(
    cli: Cli, db: asyncpg.Connection
) -> None:
    _migrated(cli)
    await db.execute("ALTER TABLE contacts DISABLE TRIGGER ALL")
    await db.execute("INSERT INTO contacts (name, company) VALUES ('orphan', 999)")  # nothing checks it now

    drift = cli.db("drift", "--json")
    assert drift.returncode == 3
    details = [d["detail"] for d in drift.json()["differences"]]
    assert (
        "foreign key contacts_company_fkey on contacts is not enforced: its triggers are disabled "
        "(recorded as enforced)"
    ) in details
    assert sum("is disabled (recorded as enabled)" in d for d in details) == len(
        await _trigger_states(db, "contacts")
    ), "each of Sovrium's own triggers on the table is named too"

    cli.db_ok("drift", "--revert-plan", "--reason", "restore left triggers off", "--json")
    refused = cli.db("apply", "--yes")
    assert refused.returncode != 0
    assert "contacts_company_fkey" in refused.stderr, "adding the key back checks the rows written meanwhile"
    assert set((await _trigger_states(db, "contacts")).values()) == {"D"}, "nothing was changed"

    await db.execute("DELETE FROM contacts WHERE company = 999")
    cli.db_ok("apply", "--yes")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO contacts (name, company) VALUES ('orphan', 999)")
    assert cli.db("drift").returncode == 0


async def test_row_level_security_and_policies_are_drift_and_the_revert_plan_removes_them(
    cli: Cli, db: asyncpg.Connection
) -> None:
    _migrated(cli)
    user = await db.fetchval("SELECT current_user")
    await db.execute(
        "ALTER TABLE companies ENABLE ROW LEVEL SECURITY;"
        "ALTER TABLE contacts FORCE ROW LEVEL SECURITY;"
        "CREATE POLICY visible ON companies FOR SELECT TO CURRENT_USER USING (name <> 'hidden');"
        "CREATE POLICY no_blank ON companies AS RESTRICTIVE FOR INSERT WITH CHECK (name <> '')"
    )

    drift = cli.db("drift", "--json")
    assert drift.returncode == 3
    assert drift.json()["differences"] == [
        {
            "table": "companies",
            "kind": "extra",
            "detail": "policy no_blank (AS RESTRICTIVE FOR INSERT TO public WITH CHECK (((name)::text <> ''::text)))",
        },
        {
            "table": "companies",
            "kind": "extra",
            "detail": f"policy visible (FOR SELECT TO {user} USING (((name)::text <> 'hidden'::text)))",
        },
        {"table": "companies", "kind": "changed", "detail": "row level security on companies is on (recorded as off)"},
        {
            "table": "contacts",
            "kind": "changed",
            "detail": "row level security on contacts is off (forced when on) (recorded as off)",
        },
    ]
    assert cli.db_ok("status", "--json").json()["drift"] is True

    written = cli.db_ok("drift", "--revert-plan", "--reason", "tried RLS by hand", "--json").json()
    plan = cli.ok("show", written["path"], "--json").json()
    assert [(step["op"], step["hazards"]) for step in plan["steps"]] == [
        ("drop_policy", ["exclusive-lock"]),
        ("drop_policy", ["exclusive-lock"]),
        ("set_row_security", ["exclusive-lock"]),
        ("set_row_security", ["exclusive-lock"]),
    ]
    cli.db_ok("apply", "--yes")
    assert await db.fetchval("SELECT count(*) FROM pg_policy") == 0
    assert (
        await db.fetchval(
            "SELECT bool_or(relrowsecurity OR relforcerowsecurity) FROM pg_class "
            "WHERE relname IN ('companies', 'contacts')"
        )
        is False
    )
    assert cli.db("drift").returncode == 0

    # The plan's reverse statements put back exactly what was found.
    for step in reversed(plan["steps"]):
        for statement in step["reverse"]:
            await db.execute(statement)
    assert cli.db("drift", "--json").json()["differences"] == drift.json()["differences"]


async def test_row_level_security_once_accepted_is_kept_by_plans_and_rollbacks(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = await _migrated_with_a_policy(cli, db)
    assert cli.db("migrate", schema).returncode == 0, "an unchanged schema starts without looking"
    cli.db_ok("drift", "--accept", "--reason", "tenants see their own rows")

    # A reviewed plan file made offline (it knows nothing of the policy) applies, and keeps it.
    write_schema(schema, app_schema(table(1, "companies", field(1, "name"), field(2, "city")), CONTACTS))
    cli.ok("plan", schema, "--offline")
    cli.db_ok("apply", "--yes")
    assert await _secured(db, "companies") == (True, ["visible"])
    # So does a plan made against the database, applied at start-up.
    write_schema(
        schema, app_schema(table(1, "companies", field(1, "name"), field(2, "city"), field(3, "zip")), CONTACTS)
    )
    cli.db_ok("migrate", schema)
    assert await _secured(db, "companies") == (True, ["visible"])
    cli.db_ok("rollback", "--to", "1", "--reason", "back to the start", "--force", "--yes")
    assert await _secured(db, "companies") == (True, ["visible"])
    assert cli.db("drift").returncode == 0


async def test_row_level_security_accepted_follows_its_table_and_columns_through_renames(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = await _migrated_with_a_policy(cli, db)
    cli.db_ok("drift", "--accept", "--reason", "tenants see their own rows")

    # The table and the column its policy reads are renamed (same ids): PostgreSQL keeps the policy on the
    # table under its new name, so the plan neither makes it again nor drops it.
    firms = table(1, "firms", field(1, "title"))
    contacts = table(2, "contacts", field(1, "name"), field(2, "company", "relationship", relatedTable="firms"))
    write_schema(schema, app_schema(firms, contacts))
    cli.db_ok("migrate", schema)
    assert await _secured(db, "firms") == (True, ["visible"])
    assert cli.db("drift").returncode == 0

    cli.db_ok("rollback", "--reason", "the old names", "--yes")
    assert await _secured(db, "companies") == (True, ["visible"])
    assert cli.db("drift").returncode == 0


async def test_row_level_security_made_by_a_hand_written_step_applies_and_is_not_drift(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(COMPANIES))
    path = cli.cwd / cli.ok("plan", schema, "--offline", "--json").json()["path"]
    document = yaml.safe_load(path.read_text())
    forward = ["ALTER TABLE companies ENABLE ROW LEVEL SECURITY", "CREATE POLICY mine ON companies USING (true)"]
    reverse = ["DROP POLICY mine ON companies", "ALTER TABLE companies DISABLE ROW LEVEL SECURITY"]
    document["steps"].append({"id": len(document["steps"]) + 1, "op": "sql", "forward": forward, "reverse": reverse})
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    cli.ok("plan", "--rehash", path)

    cli.db_ok("apply", "--yes")
    assert cli.db("drift").returncode == 0
    write_schema(schema, app_schema(table(1, "companies", field(1, "name"), field(2, "city"))))
    cli.ok("plan", schema, "--offline")
    cli.db_ok("apply", "--yes")  # the next plan knows nothing of the policy, and keeps it
    assert await db.fetchval("SELECT count(*) FROM pg_policy WHERE polname = 'mine'") == 1
    assert cli.db("drift").returncode == 0

    cli.db_ok("rollback", "--to", "0", "--reason", "start again", "--yes")
    assert await db.fetchval("SELECT to_regclass('companies')") is None


def test_switched_states_read_both_ways_without_a_database(tmp_path: Path) -> None:
    schema = write_schema(tmp_path / "app.yaml", app_schema(COMPANIES, CONTACTS))
    catalog = compile_app(load_app(schema))
    contacts = catalog.table("contacts")
    assert contacts is not None
    trigger = contacts.triggers[0]
    key = next(c for c in contacts.constraints if c.kind == "foreign_key")
    switched_off = replace(
        catalog,
        tables=tuple(
            replace(
                t,
                triggers=tuple(replace(x, enabled=x != trigger) for x in t.triggers),
                constraints=tuple(replace(c, enforced=c != key) for c in t.constraints),
            )
            if t.name == "contacts"
            else t
            for t in catalog.tables
        ),
    )

    assert [d.detail for d in find_drift(switched_off, catalog)] == [
        f"trigger {trigger.name} on contacts is enabled (recorded as disabled)",
        f"foreign key {key.name} on contacts is enforced (recorded as not enforced)",
    ]
    assert find_drift(catalog, catalog) == ()
