"""Drift accepted by hand, then a plan that renames or drops what it touches: the plan applies, keeps the accepted
objects under the names PostgreSQL gives them, lets go of the ones that read what it drops, and leaves no drift.

Each test drives the real `sovrium` command against a real PostgreSQL and reads the database's own catalogs.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.acceptance_support import Cli, app_schema, field, table, write_schema


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


def _migrated(cli: Cli, *tables: dict[str, object]) -> Path:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(*tables))
    cli.db_ok("migrate", schema)
    return schema


async def _names(db: asyncpg.Connection, query: str, relation: str) -> list[str]:
    return sorted(row[0] for row in await db.fetch(query, relation))


async def _constraints(db: asyncpg.Connection, relation: str) -> list[str]:
    return await _names(db, "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass", relation)


async def _indexes(db: asyncpg.Connection, relation: str) -> list[str]:
    return await _names(db, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass", relation)


async def test_a_column_renamed_by_hand_keeps_its_unique_rule_when_the_plan_renames_the_table(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _migrated(cli, table(1, "companies", field(1, "name", unique=True), field(2, "city")))
    await db.execute("INSERT INTO companies (name, city) VALUES ('Acme', 'Lyon')")
    await db.execute("ALTER TABLE companies RENAME COLUMN name TO legal_name")
    cli.db_ok("drift", "--accept", "--reason", "the column is read by a report under this name")

    # `companies_name_key` follows the table's new name; its column keeps the name accepted.
    write_schema(schema, app_schema(table(1, "firms", field(1, "name", unique=True), field(2, "city"))))
    cli.db_ok("migrate", schema)
    assert "firms_name_key" in await _constraints(db, "firms")
    assert await db.fetchval("SELECT legal_name FROM firms") == "Acme"
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute("INSERT INTO firms (legal_name) VALUES ('Acme')")
    assert cli.db("drift").returncode == 0

    cli.db_ok("rollback", "--reason", "the old name", "--yes")
    assert "companies_name_key" in await _constraints(db, "companies")
    assert await db.fetchval("SELECT legal_name FROM companies") == "Acme"
    assert cli.db("drift").returncode == 0


async def test_a_view_made_by_hand_follows_a_table_the_plan_renames_and_goes_with_one_it_drops(
    cli: Cli, db: asyncpg.Connection
) -> None:
    companies, deals = table(1, "companies", field(1, "name")), table(2, "deals", field(1, "title"))
    schema = _migrated(cli, companies, deals)
    await db.execute("INSERT INTO companies (name) VALUES ('Acme')")
    await db.execute("CREATE VIEW company_names AS SELECT name FROM companies")
    cli.db_ok("drift", "--accept", "--reason", "a view for the reporting tool")

    write_schema(schema, app_schema(table(1, "firms", field(1, "name")), deals))
    cli.db_ok("migrate", schema)
    assert await db.fetchval("SELECT name FROM company_names") == "Acme"
    assert "firms" in await db.fetchval("SELECT pg_get_viewdef('company_names'::regclass)")
    assert cli.db("drift").returncode == 0

    # Dropping the table it reads (destructive: allowed) takes the view along, saying so. No version recorded the
    # view, so rolling back makes the table again (its rows went with the drop), not the view.
    write_schema(schema, app_schema(deals))
    migrated = cli.db_ok("migrate", schema, "--allow-destructive")
    assert "drop view company_names (accepted drift reading what this plan drops" in migrated.stderr + migrated.stdout
    assert await db.fetchval("SELECT to_regclass('company_names')") is None
    assert cli.db("drift").returncode == 0
    cli.db_ok("rollback", "--reason", "the report still needs it", "--yes")
    assert await db.fetchval("SELECT to_regclass('firms')") is not None
    assert await db.fetchval("SELECT to_regclass('company_names')") is None
    assert cli.db("drift").returncode == 0

    cli.db_ok("rollback", "--to", "0", "--reason", "start again", "--force", "--yes")
    assert await db.fetchval("SELECT to_regclass('company_names')") is None


async def test_an_index_and_a_rule_added_by_hand_go_with_the_column_the_plan_drops(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _migrated(cli, table(1, "companies", field(1, "name"), field(2, "city")))
    await db.execute(
        "CREATE INDEX by_city ON companies (lower(city));"
        "ALTER TABLE companies ADD CONSTRAINT city_named CHECK (city <> '');"
        "ALTER TABLE companies ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY outside_paris ON companies USING (city <> 'Paris');"
        "CREATE POLICY everyone ON companies USING (true)"
    )
    cli.db_ok("drift", "--accept", "--reason", "tuned by hand")

    write_schema(schema, app_schema(table(1, "companies", field(1, "name"))))
    cli.db_ok("migrate", schema, "--allow-destructive")
    assert "companies_city_named" not in await _constraints(db, "companies")
    assert "by_city" not in await _indexes(db, "companies")
    policies = await _names(db, "SELECT polname FROM pg_policy WHERE polrelid = $1::regclass", "companies")
    assert policies == ["everyone"], "the policy reading the column goes with it; the other stays"
    assert cli.db("drift").returncode == 0

    cli.db_ok("rollback", "--reason", "the city is back", "--force", "--yes")
    assert "city" in await _names(db, "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass", "companies")
    assert "everyone" in await _names(db, "SELECT polname FROM pg_policy WHERE polrelid = $1::regclass", "companies")
    assert cli.db("drift").returncode == 0


async def test_a_table_dropped_with_accepted_drift_on_it_comes_back_as_recorded_when_the_drop_is_undone(
    cli: Cli, db: asyncpg.Connection
) -> None:
    deals = table(2, "deals", field(1, "title"))
    schema = _migrated(cli, table(1, "companies", field(1, "name")), deals)
    recorded = await _constraints(db, "companies")
    await db.execute(
        "ALTER TABLE companies ADD CONSTRAINT named CHECK (name <> '');"
        "ALTER TABLE companies ENABLE ROW LEVEL SECURITY;"
        "ALTER TABLE companies ADD COLUMN note text"
    )
    cli.db_ok("drift", "--accept", "--reason", "tuned by hand")

    write_schema(schema, app_schema(deals))
    cli.db_ok("migrate", schema, "--allow-destructive")
    assert cli.db("drift").returncode == 0
    cli.db_ok("rollback", "--reason", "companies again", "--yes")
    assert await _constraints(db, "companies") == recorded
    assert await db.fetchval("SELECT relrowsecurity FROM pg_class WHERE oid = 'companies'::regclass") is False
    assert cli.db("drift").returncode == 0


async def test_reverting_a_column_renamed_by_hand_that_a_formula_reads(cli: Cli, db: asyncpg.Connection) -> None:
    prices = table(1, "prices", field(1, "amount", "integer"), field(2, "doubled", "formula", formula="amount * 2"))
    _migrated(cli, prices)
    await db.execute("INSERT INTO prices (amount) VALUES (21)")
    await db.execute("ALTER TABLE prices RENAME COLUMN amount TO cost")
    assert cli.db("drift").returncode == 3

    # The plan cannot know it was a rename: it drops `cost` (its values: confirmed) and adds `amount` back. The
    # formula's column reads the dropped one, so it is made again after, reading the new column.
    written = cli.db_ok("drift", "--revert-plan", "--reason", "renamed by mistake", "--json").json()
    cli.db_ok("apply", written["path"], "--yes", "--allow-destructive")
    await db.execute("INSERT INTO prices (amount) VALUES (5)")
    assert int(await db.fetchval("SELECT doubled FROM prices WHERE amount = 5")) == 10
    assert cli.db("drift").returncode == 0


async def test_undoing_a_plan_made_over_accepted_drift_gives_back_the_database_it_started_from(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = _migrated(cli, table(1, "companies", field(1, "name"), field(2, "city")))
    await db.execute("ALTER TABLE companies RENAME COLUMN city TO town")
    cli.db_ok("drift", "--accept", "--reason", "a report reads it as town")
    write_schema(schema, app_schema(table(1, "companies", field(1, "name"), field(2, "place"))))
    cli.db_ok("migrate", schema)  # the field's rename finds no `city`: the accepted `town` stays as it is
    columns = "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
    before = await _names(db, columns, "companies")

    # Changing the field's type adds `place` (it is not there to change); undoing that drops it again, which is
    # the database version 2 left, though not what its snapshot alone would say.
    write_schema(schema, app_schema(table(1, "companies", field(1, "name"), field(2, "place", "integer"))))
    cli.db_ok("migrate", schema, "--allow-destructive")
    assert "place" in await _names(db, columns, "companies")
    cli.db_ok("rollback", "--reason", "place was text", "--yes")
    assert await _names(db, columns, "companies") == before
    assert cli.db("drift").returncode == 0


async def test_an_offline_plan_passes_over_what_accepted_drift_already_dropped(
    cli: Cli, db: asyncpg.Connection
) -> None:
    fields = (field(1, "city", indexed=True), field(2, "fax"))
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "companies", *fields)))
    cli.ok("plan", schema, "--offline")
    cli.db_ok("apply", "--yes")
    await db.execute("DROP INDEX idx_companies_city; ALTER TABLE companies DROP COLUMN fax")
    cli.db_ok("drift", "--accept", "--reason", "the index slowed down the nightly import; nobody sends faxes")

    # Plans made offline know nothing of the drift: renaming the table renames the index, dropping `indexed`
    # drops it, dropping the field drops its column. None is there; each step is passed over, saying why.
    write_schema(schema, app_schema(table(1, "firms", *fields)))
    cli.ok("plan", schema, "--offline")
    write_schema(schema, app_schema(table(1, "firms", field(1, "city"))))
    cli.ok("plan", schema, "--offline")
    applied = cli.db_ok("apply", "--yes")
    assert "rename index idx_companies_city to idx_firms_city: already done by drift accepted" in applied.stderr
    assert "drop index idx_firms_city on firms: already done by drift accepted on this database" in applied.stderr
    assert "drop column firms.fax and its values: already done by drift accepted" in applied.stderr
    assert cli.db("drift").returncode == 0
    cli.ok("check", schema)

    # Left out of the version recorded, they are not undone either.
    cli.db_ok("rollback", "--reason", "keep the index", "--yes")
    assert await _indexes(db, "firms") == ["firms_pkey", "idx_firms_deleted_at"]
    assert cli.db("drift").returncode == 0


async def test_an_offline_plan_meeting_accepted_drift_fails_saying_what_to_do(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "companies", field(1, "name"), field(2, "city"))))
    cli.ok("plan", schema, "--offline")
    cli.db_ok("apply", "--yes")
    await db.execute("ALTER TABLE companies DROP COLUMN city")
    cli.db_ok("drift", "--accept", "--reason", "nobody filled it in")

    write_schema(schema, app_schema(table(1, "companies", field(1, "name"), field(2, "city", indexed=True))))
    cli.ok("plan", schema, "--offline")
    failed = cli.db_fails("apply", "--yes")
    assert 'column "city" does not exist' in failed.stderr
    assert "this database has drift accepted since version 1's schema (1 difference" in failed.stderr
    assert "apply the schema with `sovrium migrate SCHEMA`" in failed.stderr

    # Migrated against the database instead, nothing is made on the column the drift dropped; the schema is
    # recorded, and the plan's version counts as applied.
    cli.db_ok("migrate", schema)
    cli.db_ok("apply", "--yes")
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 2
    assert cli.db("drift").returncode == 0
    cli.ok("check", schema)


async def test_a_table_dropped_by_hand_is_no_step_s_to_pass_over(cli: Cli, db: asyncpg.Connection) -> None:
    notes = table(2, "notes", field(1, "text"), field(2, "fax"))
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "companies", field(1, "name")), notes))
    cli.ok("plan", schema, "--offline")
    cli.db_ok("apply", "--yes")
    await db.execute("DROP TABLE notes")
    cli.db_ok("drift", "--accept", "--reason", "notes moved to another tool")

    # Dropping a field of the table is not "already done": the plan's target still has the table.
    write_schema(schema, app_schema(table(1, "companies", field(1, "name")), table(2, "notes", field(1, "text"))))
    cli.ok("plan", schema, "--offline")
    failed = cli.db_fails("apply", "--yes")
    assert 'relation "public.notes" does not exist; this database has drift accepted since version 1' in failed.stderr
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 1
