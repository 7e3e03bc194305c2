"""Field details Sovrium has and the first version got wrong (interop §3), each on a real database: whole-number
currency and percentage, free-text barcode formats, unique geolocation, and the updated-by trigger."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import asyncpg
import pytest
import yaml

from sovrium_tui.catalog import compile_app
from sovrium_tui.errors import SchemaInvalid
from tests.acceptance_support import Cli, constraint_names, write_schema
from tests.roundtrip import app, build, differences, plan_change, run_steps


def schema(*fields: str, name: str = "things") -> str:
    lines = "".join(f"      - {field}\n" for field in fields)
    return f"name: app\ntables:\n  - id: 1\n    name: {name}\n    fields:\n{lines}"


async def column_type(db: asyncpg.Connection, table: str, column: str) -> str:
    return str(
        await db.fetchval(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2",
            f"public.{table}",
            column,
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# precision 0


async def test_currency_and_percentage_with_precision_0_hold_whole_numbers(db: asyncpg.Connection) -> None:
    target = app(
        schema(
            "{id: 1, name: price, type: currency, currency: JPY, precision: 0, min: 0}",
            "{id: 2, name: share, type: percentage, precision: 0, default: 50}",
        )
    )
    await build(db, target)
    assert await differences(db, target) == []
    assert await column_type(db, "things", "price") == "numeric(18,0)"
    assert await column_type(db, "things", "share") == "numeric(18,0)"
    await db.execute("INSERT INTO things (price) VALUES (1234.5)")
    assert await db.fetchrow("SELECT price, share FROM things") == (1235, 50)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO things (price) VALUES (-1)")


# ---------------------------------------------------------------------------------------------------------------
# barcode formats


async def test_any_barcode_format_is_accepted_and_only_known_ones_are_checked(db: asyncpg.Connection) -> None:
    target = app(
        schema(
            "{id: 1, name: isbn, type: barcode, format: ISBN-13}",
            "{id: 2, name: qr, type: barcode, format: qr code}",
            "{id: 3, name: ean, type: barcode, format: EAN-13}",
        )
    )
    await build(db, target)
    assert await differences(db, target) == []
    assert await constraint_names(db, "things") == {"things_pkey", "check_ean_format"}
    insert = "INSERT INTO things (isbn, qr, ean) VALUES ('978-3-16-148410-0', 'https://x.test/?a=1', $1)"
    await db.execute(insert, "4" * 13)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO things (ean) VALUES ('not a barcode')")


# ---------------------------------------------------------------------------------------------------------------
# unique geolocation


GEO = schema("{id: 1, name: label, type: single-line-text}", "{id: 2, name: spot, type: geolocation, unique: true}")


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


async def test_a_unique_geolocation_is_planned_applied_and_enforced(cli: Cli, db: asyncpg.Connection) -> None:
    (cli.cwd / "app.yaml").write_text(GEO)
    cli.db_ok("plan", "app.yaml")  # refused with an internal error before: EXCLUDE inside CREATE TABLE
    (plan_file,) = (cli.cwd / "plans").iterdir()
    forward = [sql for step in yaml.safe_load(plan_file.read_text())["steps"] for sql in step["forward"]]
    assert "ALTER TABLE public.things ADD CONSTRAINT things_spot_key EXCLUDE USING gist (spot WITH ~=)" in forward
    assert not any("EXCLUDE" in sql for sql in forward if sql.startswith("CREATE TABLE"))
    cli.db_ok("apply", "--yes")

    await db.execute("INSERT INTO things (label, spot) VALUES ('a', point(1, 2)), ('b', point(2, 1))")
    with pytest.raises(asyncpg.ExclusionViolationError):
        await db.execute("INSERT INTO things (label, spot) VALUES ('c', point(1, 2))")
    assert cli.db_ok("migrate", "app.yaml", "--json").json()["status"] == "up-to-date"
    assert cli.db_ok("drift", "--json").returncode == 0


def test_sql_adds_the_exclusion_after_the_table(cli: Cli) -> None:
    (cli.cwd / "app.yaml").write_text(GEO)
    statements = cli.ok("sql", "app.yaml", "--json").json()["statements"]
    create = next(i for i, s in enumerate(statements) if s.startswith("CREATE TABLE public.things"))
    assert "EXCLUDE" not in statements[create]
    assert statements[create + 1] == (
        "ALTER TABLE public.things ADD CONSTRAINT things_spot_key EXCLUDE USING gist (spot WITH ~=)"
    )


async def test_migrate_creates_and_then_adds_or_drops_the_exclusion(cli: Cli, db: asyncpg.Connection) -> None:
    schema_file = cli.cwd / "app.yaml"
    schema_file.write_text(GEO)
    assert cli.db_ok("migrate", "app.yaml", "--json").json()["status"] == "migrated"
    assert "things_spot_key" in await constraint_names(db, "things")

    schema_file.write_text(GEO.replace(", unique: true", ""))
    assert cli.db_ok("migrate", "app.yaml", "--json").json()["status"] == "migrated"
    assert "things_spot_key" not in await constraint_names(db, "things")
    await db.execute("INSERT INTO things (spot) VALUES (point(0, 0)), (point(3, 3))")

    schema_file.write_text(GEO)
    assert cli.db_ok("migrate", "app.yaml", "--json").json()["status"] == "migrated"
    assert "things_spot_key" in await constraint_names(db, "things")


# ---------------------------------------------------------------------------------------------------------------
# updated-by


NOTES = textwrap.dedent("""\
    name: app
    tables:
      - id: 1
        name: notes
        fields:
          - {id: 1, name: body, type: long-text}
      - id: 2
        name: tasks
        fields:
          - {id: 1, name: title, type: single-line-text}
    """)
WITH_EDITORS = NOTES.replace("long-text}\n", "long-text}\n      - {id: 2, name: editor, type: updated-by}\n").replace(
    "single-line-text}\n", "single-line-text}\n      - {id: 2, name: changed_by, type: updated-by}\n"
)


async def set_updated_by_calls(db: asyncpg.Connection, update: str) -> int:
    """How often `set_updated_by()` ran for one UPDATE (function statistics of the current transaction)."""
    async with db.transaction():
        await db.execute("SET LOCAL track_functions = 'pl'")
        await db.execute(update)
        return int(await db.fetchval("SELECT pg_stat_get_xact_function_calls('public.set_updated_by'::regproc)"))


async def test_updated_by_fields_get_the_set_updated_by_trigger(db: asyncpg.Connection) -> None:
    before, after = app(NOTES), app(WITH_EDITORS)
    await build(db, before)
    plan = await plan_change(db, before, after)
    assert plan is not None
    assert [(step.op, step.target) for step in plan.steps] == [
        ("create_auth_users", "auth.user"),  # updated-by values are Better Auth user ids
        ("create_function", "set_updated_by()"),
        ("add_column", "notes.editor"),
        ("add_column", "tasks.changed_by"),
        ("create_trigger", "notes.set_updated_by"),
        ("create_trigger", "tasks.set_updated_by"),
    ]
    await run_steps(db, plan.steps)
    assert await differences(db, after) == [], "the trigger and its function read back as compiled"

    triggers = await db.fetch(
        "SELECT tgrelid::regclass::text AS table_name, pg_get_triggerdef(oid) AS definition FROM pg_trigger "
        "WHERE tgname = 'set_updated_by' ORDER BY 1"
    )
    assert [(t["table_name"], t["definition"]) for t in triggers] == [
        (
            table,
            f"CREATE TRIGGER set_updated_by BEFORE UPDATE ON public.{table} FOR EACH ROW "
            "EXECUTE FUNCTION set_updated_by()",
        )
        for table in ("notes", "tasks")
    ]
    await db.execute("INSERT INTO notes (body) VALUES ('draft')")
    assert await set_updated_by_calls(db, "UPDATE notes SET body = 'final', editor = 'user-1'") == 1
    assert await db.fetchrow("SELECT body, editor FROM notes") == ("final", "user-1")

    # The plan's reverse takes them away again.
    await run_steps(db, plan.steps, forward=False)
    assert await differences(db, before) == []
    assert await db.fetchval("SELECT count(*) FROM pg_proc WHERE proname = 'set_updated_by'") == 0

    # Removing the fields drops both triggers and then the shared function.
    await run_steps(db, plan.steps)
    removal = await plan_change(db, after, before)
    assert removal is not None
    await run_steps(db, removal.steps)
    assert await differences(db, before) == []
    assert await db.fetchval("SELECT count(*) FROM pg_proc WHERE proname = 'set_updated_by'") == 0


# ---------------------------------------------------------------------------------------------------------------
# geolocation in btree indexes, unique rules and keys


@pytest.mark.parametrize(
    ("table_keys", "said"),
    [
        ("indexes: [{name: by_place, fields: [place]}]", 'Index "by_place" cannot hold geolocation field "place"'),
        ("uniqueConstraints: [{name: one_place, fields: [title, place]}]", 'Unique constraint "one_place" cannot'),
        ("primaryKey: {type: composite, fields: [title, place]}", "The primary key cannot hold geolocation field"),
    ],
)
async def test_a_plain_index_unique_rule_or_key_on_a_geolocation_is_refused_as_postgresql_refuses_it(
    db: asyncpg.Connection, table_keys: str, said: str
) -> None:
    text = schema("{id: 1, name: title, type: single-line-text}", "{id: 2, name: place, type: geolocation}")
    with pytest.raises(SchemaInvalid, match=said):
        app(f"{text}    {table_keys}\n")
    await db.execute("CREATE TABLE probe (title text, place point)")
    with pytest.raises(asyncpg.UndefinedObjectError, match="data type point has no default operator class"):
        await db.execute("CREATE INDEX ON probe (title, place)")
    await build(db, app(text.replace("type: geolocation}", "type: geolocation, indexed: true, unique: true}")))


# ---------------------------------------------------------------------------------------------------------------
# date and time defaults


@pytest.mark.parametrize(
    ("field", "said"),
    [
        ("{id: 1, name: due, type: date, default: now}", "'now' is read once, when the column is made"),
        ("{id: 1, name: due, type: date, default: today}", "write CURRENT_DATE for the moment of each insert"),
        ("{id: 1, name: at, type: datetime, default: now}", "write NOW() for the moment of each insert"),
        ("{id: 1, name: due, type: date, default: soon}", "write a date or time default as ISO 8601 (e.g. 2024-01-31)"),
        ("{id: 1, name: due, type: date, default: 'Jan 2 2024'}", "the database would never match the schema"),
        ("{id: 1, name: span, type: duration, default: 1 hour}", "a number of seconds (5400) or HH:MM:SS"),
        ("{id: 1, name: at, type: time, default: CURRENT_DATE}", "CURRENT_DATE is a date, which PostgreSQL cannot"),
        ("{id: 1, name: day, type: date, default: LOCALTIME}", "LOCALTIME is a time of day, which PostgreSQL cannot"),
        ("{id: 1, name: at, type: datetime, default: CURRENT_TIME}", "write NOW() for the moment of each insert"),
    ],
)
async def test_a_default_postgresql_reads_once_or_cannot_read_is_refused(
    db: asyncpg.Connection, field: str, said: str
) -> None:
    with pytest.raises(SchemaInvalid, match=re.escape(said)):
        compile_app(app(schema(field)))


async def test_defaults_that_are_one_fixed_value_or_each_inserts_moment_apply_and_match(
    db: asyncpg.Connection,
) -> None:
    target = app(
        schema(
            "{id: 1, name: opened, type: date, default: CURRENT_DATE}",
            "{id: 2, name: ends, type: date, default: infinity}",
            "{id: 3, name: starts, type: datetime, default: epoch}",
            "{id: 4, name: due, type: date, default: 2024-1-2}",
            "{id: 5, name: span, type: duration, default: '1:30'}",
            "{id: 6, name: midnight, type: time, default: allballs}",
            "{id: 7, name: lunch, type: time, default: '12:30'}",
            "{id: 8, name: clocked, type: time, default: NOW()}",
            "{id: 9, name: since, type: datetime, default: CURRENT_DATE}",
        )
    )
    await build(db, target)
    assert await differences(db, target) == []
    await db.execute("INSERT INTO things DEFAULT VALUES")
    row = await db.fetchrow("SELECT opened, ends, starts, due, span, midnight, lunch FROM things")
    assert row["opened"] == await db.fetchval("SELECT CURRENT_DATE")
    assert await db.fetchval("SELECT ends = 'infinity' FROM things")
    assert (row["starts"].year, str(row["due"]), str(row["span"])) == (1970, "2024-01-02", "1:30:00")
    assert (str(row["midnight"]), str(row["lunch"])) == ("00:00:00", "12:30:00")
    assert await db.fetchval("SELECT clocked IS NOT NULL AND since = CURRENT_DATE FROM things")


async def test_defaults_at_the_edge_of_their_fields_rules_are_added_to_rows_and_inserted(
    db: asyncpg.Connection,
) -> None:
    """A default is checked against the field's own rule (range, length, format, item count) at validation; one
    just inside it fills the rows already there and every insert, as PostgreSQL checks it then."""
    before = app(schema("{id: 1, name: title, type: single-line-text}"))
    await build(db, before)
    await db.execute("INSERT INTO things (title) VALUES ('a'), ('b')")
    edge = [
        "{id: 2, name: stars, type: rating, max: 3, default: 1}",
        "{id: 3, name: phone, type: phone-number, default: '%s'}" % ("9" * 255),
        "{id: 4, name: note, type: rich-text, maxLength: 4, default: four}",
        "{id: 5, name: code, type: barcode, format: UPC-A, default: '036000291452'}",
        "{id: 6, name: tags, type: array, maxItems: 2, default: [x, y]}",
        "{id: 7, name: big, type: decimal, precision: 2, default: 999999999999999999}",
    ]
    after = app(schema("{id: 1, name: title, type: single-line-text}", *edge))
    plan = await plan_change(db, before, after)
    assert plan is not None
    await run_steps(db, plan.steps)
    await db.execute("INSERT INTO things DEFAULT VALUES")
    rows = await db.fetch("SELECT stars, length(phone) AS phone, note, code, tags, big::text AS big FROM things")
    expected = (1, 255, "four", "036000291452", ["x", "y"], "999999999999999999.00")
    assert [tuple(row) for row in rows] == [expected] * 3
    for field, refused in [
        ("{id: 2, name: stars, type: rating, max: 3, default: 0}", "outside the allowed range (min 1, max 3)"),
        ("{id: 3, name: phone, type: phone-number, default: '%s'}" % ("9" * 256), "holds at most 255"),
        ("{id: 4, name: note, type: rich-text, maxLength: 3, default: four}", "more than maxLength (3)"),
        ("{id: 5, name: code, type: barcode, format: UPC-A, default: '0360'}", "is not a valid UPC-A barcode"),
        ("{id: 6, name: tags, type: array, maxItems: 1, default: [x, y]}", "more than maxItems (1)"),
        ("{id: 7, name: big, type: decimal, precision: 2, default: 1000000000000000000}", "does not fit"),
    ]:
        with pytest.raises(SchemaInvalid, match=re.escape(refused)):
            app(schema(field))


# ---------------------------------------------------------------------------------------------------------------
# the columns raw SQL reads


@pytest.mark.parametrize(
    ("expression", "unknown"),
    [
        ("PRICE > 0", None),  # unquoted: folded to lower case, as PostgreSQL reads it
        ('"Price" > 0', "Price"),  # quoted: as written
        ("a IS NORMALIZED", None),
        ("A > 0 AND current_user <> 'x' AND created_at < now()", None),
        ("length(nmae) > 0", "nmae"),
        ('"nope" IS NULL OR a > 0', "nope"),
        ("tags[1] IS NOT NULL AND deleted_at IS NULL", None),
    ],
)
async def test_a_check_or_index_predicate_reads_only_its_tables_columns_as_postgresql_reads_names(
    db: asyncpg.Connection, expression: str, unknown: str | None
) -> None:
    fields = (
        "{id: 1, name: a, type: single-line-text}",
        "{id: 2, name: price, type: decimal}",
        "{id: 3, name: tags, type: multi-select, options: [x]}",
    )
    await build(db, app(schema(*fields)))
    checked = f"    constraints: [{{name: rule, check: {json.dumps(expression)}}}]\n"
    predicate = f"    indexes: [{{name: part, fields: [a], where: {json.dumps(expression)}}}]\n"
    for table_keys, key in ((checked, "check"), (predicate, "where")):
        if unknown is None:
            app(schema(*fields) + table_keys)
        else:
            with pytest.raises(SchemaInvalid, match=f'{key} references non-existent column "{unknown}"'):
                app(schema(*fields) + table_keys)
    try:
        async with db.transaction():
            await db.execute(f"ALTER TABLE things ADD CONSTRAINT probe CHECK ({expression})")
            raise asyncpg.PostgresError("taken back")
    except asyncpg.UndefinedColumnError as refused:
        assert unknown is not None and f'column "{unknown}" does not exist' in str(refused)
    except asyncpg.PostgresError:
        assert unknown is None


# ---------------------------------------------------------------------------------------------------------------
# table-level foreign keys between unlike types


@pytest.mark.parametrize(
    ("local", "remote", "refused"),
    [
        ("single-line-text", "integer", True),
        ("checkbox", "integer", True),
        ("date", "single-line-text", True),
        ("single-line-text", "long-text", False),  # varchar(255) and text compare
        ("integer", "decimal", False),  # a whole number references a numeric through a cast
        ("decimal", "integer", True),  # not the other way
        ("duration", "integer", True),
        ("array", "integer", True),
        ("date", "datetime", False),  # dates and date-times compare
    ],
)
async def test_a_foreign_key_between_unlike_types_is_refused_as_postgresql_refuses_it(
    db: asyncpg.Connection, local: str, remote: str, refused: bool
) -> None:
    text = (
        "name: app\ntables:\n"
        f"  - id: 1\n    name: targets\n    fields:\n      - {{id: 1, name: code, type: {remote}, unique: true}}\n"
        f"  - id: 2\n    name: pointers\n    fields:\n      - {{id: 1, name: ref, type: {local}}}\n"
        "    foreignKeys: [{name: points, fields: [ref], referencedTable: targets, referencedFields: [code]}]\n"
    )
    schema_app = app(text)
    if refused:
        with pytest.raises(SchemaInvalid, match=r'Foreign key "points": column "ref" \(.*\) cannot reference'):
            compile_app(schema_app)
        await build(db, app(text.replace("    foreignKeys: [", "#    foreignKeys: [")))
        with pytest.raises(asyncpg.PostgresError, match="cannot be implemented"):
            await db.execute("ALTER TABLE pointers ADD FOREIGN KEY (ref) REFERENCES targets (code)")
    else:
        await build(db, schema_app)
        assert await differences(db, schema_app) == []


# ---------------------------------------------------------------------------------------------------------------
# unique rules repeated under other names


@pytest.mark.parametrize(
    "rules",
    [
        "    uniqueConstraints: [{name: first_rule, fields: [code]}, {name: second_rule, fields: [code]}]\n",
        "    uniqueConstraints: [{name: second_rule, fields: [id]}]\n",  # the primary key's columns
    ],
)
async def test_unique_rules_on_the_same_columns_are_refused_since_postgresql_keeps_one(
    db: asyncpg.Connection, rules: str
) -> None:
    text = schema("{id: 1, name: code, type: single-line-text}") + rules
    with pytest.raises(SchemaInvalid, match=r'Unique rules "\w+" and "\w+" of table "things" cover the same'):
        compile_app(app(text))
    await db.execute(
        "CREATE TABLE probe (id integer PRIMARY KEY, code text, CONSTRAINT a UNIQUE (code), CONSTRAINT b UNIQUE (code))"
    )
    kept = await db.fetchval("SELECT count(*) FROM pg_constraint WHERE conrelid = 'probe'::regclass AND contype = 'u'")
    assert kept == 1  # the reason: a CREATE TABLE drops the repeat


async def test_unique_rules_on_the_same_columns_in_another_order_are_both_kept(db: asyncpg.Connection) -> None:
    text = schema("{id: 1, name: code, type: single-line-text}", "{id: 2, name: kind, type: single-line-text}")
    target = app(
        text + "    uniqueConstraints: [{name: one, fields: [code, kind]}, {name: two, fields: [kind, code]}]\n"
    )
    await build(db, target)
    assert await differences(db, target) == []


async def test_a_rule_reading_a_field_made_again_is_made_again_by_an_offline_plan(
    cli: Cli, db: asyncpg.Connection
) -> None:
    rule = "    constraints: [{name: named, check: '\"title\" IS NOT NULL'}]\n"
    text = schema("{id: 1, name: title, type: single-line-text}", "{id: 2, name: slug, type: single-line-text}")
    cli.ok("plan", write_schema(cli.cwd / "app.yaml", text + rule), "--offline")
    formula = text.replace("type: single-line-text}", "type: formula, formula: 'UPPER(slug)'}", 1)
    cli.ok("plan", write_schema(cli.cwd / "app.yaml", formula + rule), "--offline")  # title dropped and added again
    cli.db_ok("apply", "plans", "--yes", "--allow-destructive")
    assert await db.fetchval("SELECT count(*) FROM pg_constraint WHERE conname = 'named'") == 1
    assert "no drift" in cli.db_ok("drift").stdout
