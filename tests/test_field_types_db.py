"""Every field type on a real PostgreSQL: the DDL runs, the database prints back the compiled texts, rules hold."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

import asyncpg
import pytest

from sovrium_tui.catalog import Catalog, Column, Constraint, Function, Index, Table, Trigger, compile_app
from sovrium_tui.identifiers import quote_ident
from sovrium_tui.planning.ddl import create_catalog_sql, create_index_sql
from sovrium_tui.schema.field_types import COLUMN_TYPES, LEGACY_ALIASES
from sovrium_tui.schema.model import App, Field, ForeignKeySpec, IndexSpec, PrimaryKey, UniqueSpec
from sovrium_tui.schema.model import Table as SchemaTable
from tests.test_compile import FIELD_CASES, RELATED, f, one_table_app

# --- reading the database back, straight from pg_catalog ------------------------------------------------------

_COLUMNS = """
SELECT c.relname AS table_name, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_text,
       pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL AS serial
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT c.relname AS table_name, con.conname AS name, con.contype::text AS kind,
       pg_get_constraintdef(con.oid) AS definition,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.pos) AS columns,
       ref.relname AS referenced
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class ref ON ref.oid = con.confrelid
WHERE n.nspname = 'public' AND con.contype IN ('p', 'u', 'f', 'c', 'x')
"""

_INDEXES = """
SELECT t.relname AS table_name, ic.relname AS name, i.indisunique AS is_unique, am.amname AS method,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, false) FROM generate_series(1, i.indnkeyatts) k ORDER BY k)
           AS keys,
       pg_get_expr(i.indpred, i.indrelid) AS predicate, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = t.oid)
"""

_TRIGGERS = """
SELECT c.relname AS table_name, t.tgname AS name, t.tgtype AS bits, p.proname AS function_name
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE n.nspname = 'public' AND NOT t.tgisinternal
"""

_FUNCTIONS = """
SELECT p.proname AS name, p.prosrc AS body FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public'
"""

_KINDS = {"p": "primary_key", "u": "unique", "f": "foreign_key", "c": "check", "x": "exclude"}
_EVENTS = ((1 << 2, "INSERT"), (1 << 4, "UPDATE"), (1 << 3, "DELETE"))


async def database_catalog(db: asyncpg.Connection) -> tuple[Catalog, dict[str, str]]:
    """What the database prints for `public`, as a Catalog, plus every index's pg_get_indexdef text."""
    columns: dict[str, list[Column]] = {}
    for row in await db.fetch(_COLUMNS):
        default = None if row["serial"] else row["default_text"]
        column = Column(row["name"], row["type"], not row["not_null"], default, row["serial"])
        columns.setdefault(row["table_name"], []).append(column)
    constraints: dict[str, list[Constraint]] = {}
    for row in await db.fetch(_CONSTRAINTS):
        kind = _KINDS[row["kind"]]
        constraint = Constraint(row["name"], kind, row["definition"], tuple(row["columns"]), row["referenced"])  # type: ignore[arg-type]
        constraints.setdefault(row["table_name"], []).append(constraint)
    indexes: dict[str, list[Index]] = {}
    index_definitions = {}
    for row in await db.fetch(_INDEXES):
        index = Index(
            row["name"], row["table_name"], tuple(row["keys"]), row["is_unique"], row["method"], row["predicate"]
        )
        indexes.setdefault(row["table_name"], []).append(index)
        index_definitions[row["name"]] = row["definition"]
    triggers: dict[str, list[Trigger]] = {}
    for row in await db.fetch(_TRIGGERS):
        timing: Literal["BEFORE", "AFTER"] = "BEFORE" if row["bits"] & 2 else "AFTER"
        events = tuple(event for bit, event in _EVENTS if row["bits"] & bit)
        trigger = Trigger(row["name"], row["table_name"], timing, events, row["function_name"])
        triggers.setdefault(row["table_name"], []).append(trigger)
    tables = tuple(
        Table(
            name,
            tuple(table_columns),
            tuple(constraints.get(name, ())),
            tuple(indexes.get(name, ())),
            tuple(triggers.get(name, ())),
        )
        for name, table_columns in columns.items()
    )
    functions = tuple(Function(row["name"], row["body"]) for row in await db.fetch(_FUNCTIONS))
    return Catalog(tables, functions), index_definitions


async def create(db: asyncpg.Connection, app: App) -> Catalog:
    """Compile `app`, run its whole script, and prove the database prints back exactly the compiled texts."""
    catalog = compile_app(app)
    for statement in create_catalog_sql(catalog):
        await db.execute(statement)
    printed, index_definitions = await database_catalog(db)
    for table in catalog.tables:
        assert printed.table(table.name) == table
        for index in table.indexes:
            assert index_definitions[index.name] == create_index_sql(index)
    assert printed == catalog
    return catalog


def _cast_type(pg_type: str) -> str:
    return re.sub(r"\(\d+(?:,\d+)?\)", "", pg_type)


async def insert(db: asyncpg.Connection, column: Column, value: str | None, table: str = "t") -> None:
    """Insert one value, given as text and converted with the column type's input function."""
    sql = (
        f"INSERT INTO public.{quote_ident(table)} ({quote_ident(column.name)}) "
        f"VALUES (CAST($1::text AS {_cast_type(column.type)}))"
    )
    await db.execute(sql, value)


# --- every field type ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A field and, as text, values its column must take and values it must refuse (with the error)."""

    field: Field
    accepts: tuple[str | None, ...] = (None,)
    refuses: tuple[tuple[str, type[Exception]], ...] = ()


CHECK = asyncpg.CheckViolationError
TOO_LONG = asyncpg.StringDataRightTruncationError
MISSING_ROW = asyncpg.ForeignKeyViolationError

RULES = [
    Rule(f(required=True, default="it's; -- ü"), ("a", "ü" * 255), (("x" * 256, TOO_LONG),)),
    Rule(f(type="long-text", default="x"), ("x" * 10_000,)),
    Rule(f(type="rich-text", max_length=5, full_text_search=True), ("short", None), (("longer", CHECK),)),
    Rule(f(type="email"), ("a@b.c",)),
    Rule(f(type="url"), ("https://x",)),
    Rule(f(type="phone-number"), ("+1 555",)),
    Rule(f(type="integer", min=0, max=120, default=7), ("0", "120"), (("-1", CHECK), ("121", CHECK))),
    Rule(f(type="integer", min=-5, default=-5), ("-5",), (("-6", CHECK),)),
    Rule(f(type="decimal", min=0, max=99.5, default=1.5), ("99.5", "0"), (("99.51", CHECK), ("-0.1", CHECK))),
    Rule(f(type="currency", precision=2, min=-1.5, max=3000000000, default=3), ("-1.5",), (("-1.51", CHECK),)),
    Rule(f(type="percentage", min=-5, max=100), ("100", "-5"), (("100.01", CHECK), ("-5.5", CHECK))),
    Rule(f(type="rating", max=5, default=3), ("1", "5"), (("0", CHECK), ("6", CHECK))),
    Rule(f(type="rating"), ("-100",)),
    Rule(f(type="progress", required=True), ("0", "100"), (("101", CHECK), ("-1", CHECK))),
    Rule(f(type="autonumber")),
    Rule(f(type="checkbox", default=True), ("false",)),
    Rule(f(type="boolean", default=False), ("true",)),
    Rule(f(type="date", default="CURRENT_DATE"), ("2024-02-29",)),
    Rule(f(type="date", default="2024-01-02")),
    Rule(f(type="datetime", default="NOW()"), ("2024-01-02 03:04:05+02",)),
    Rule(f(type="datetime", default="2024-01-02T03:04:05.25+02:00")),
    Rule(f(type="time", default="12:30"), ("23:59:59",)),
    Rule(f(type="duration", default=90000.5), ("1 day",)),
    Rule(f(type="duration", default=-10)),
    Rule(f(type="single-select", options=("a", "it's"), default="a"), ("a", "it's", None), (("b", CHECK),)),
    Rule(f(type="status", options=("todo", "done"), indexed=True), ("todo",), (("Todo", CHECK),)),
    Rule(f(type="multi-select", options=("a", "b"), default=("b",)), ("{a,b}", "{}"), (("{a,c}", CHECK),)),
    Rule(f(type="multi-select", options=("a",), default=())),
    Rule(f(type="array", default=("x", "it's")), ("{p,q}",)),
    Rule(
        f(type="array", item_type="integer", max_items=2, indexed=True, default=("1", "-2")),
        ("{1,2}",),
        (("{1,2,3}", CHECK),),
    ),
    Rule(f(type="array", item_type="bigint", default=("1", "-3000000000"))),
    Rule(f(type="array", item_type="smallint", default=("1", "-2"))),
    Rule(f(type="array", item_type="numeric", default=("1.5", "2", "-3", "-0.5"))),
    Rule(f(type="array", item_type="double precision", default=("1.5", "-2", "1e20", "0.00001"))),
    Rule(f(type="array", item_type="boolean", default=("true", "off"))),
    Rule(f(type="array", item_type="date", default=("2024-01-02",))),
    Rule(f(type="array", item_type="timestamptz", default=("2024-01-02 03:04:05",))),
    Rule(f(type="array", item_type="time", default=("01:02",))),
    Rule(f(type="array", item_type="interval", default=("90",))),
    Rule(f(type="array", item_type="uuid", default=("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",))),
    Rule(f(type="array", item_type="varchar", default=("x",))),
    Rule(f(type="array", item_type="varchar", default=())),
    Rule(f(type="json", indexed=True, default='{"bb": 1.50, "a": [1e5, "x\\n"], "ab": -0}'), ('{"a": 1}',)),
    Rule(f(type="geolocation", indexed=True, unique=True), ("(1,2)",)),
    Rule(f(type="single-attachment"), ("file.png",)),
    Rule(f(type="single-attachment", store_metadata=True), ('{"name": "file.png"}',)),
    Rule(f(type="multiple-attachments", max_files=2), ("[1, 2]", "[]"), (("[1, 2, 3]", CHECK),)),
    Rule(f(type="attachment"), ("[]",)),
    Rule(f(type="barcode", format="EAN-13"), ("1234567890123",), (("123", CHECK), ("123456789012a", CHECK))),
    Rule(f(type="barcode", format="EAN-8"), ("12345678",), (("1234567", CHECK),)),
    Rule(f(type="barcode", format="UPC-A"), ("123456789012",), (("1234567890123", CHECK),)),
    Rule(f(type="barcode", format="UPC-E"), ("123456", "12345678"), (("12345", CHECK),)),
    Rule(f(type="barcode", format="CODE-128"), ("abc ~!",), (("é", CHECK),)),
    Rule(f(type="barcode", format="CODE-39"), ("ABC-1 $/+%.",), (("abc", CHECK),)),
    Rule(
        f(type="color", default="#ff0000"), ("#A1b2C3",), (("red", CHECK), ("#12345g", CHECK), ("#1234567", TOO_LONG))
    ),
    Rule(f(type="code"), ("print('x')",)),
    Rule(f(type="user"), ("any-user-id",)),
    Rule(f(type="created-by"), ("someone",)),
    Rule(f(type="updated-by")),
    Rule(f(type="deleted-by")),
    Rule(f(type="created-at")),
    Rule(f(type="updated-at")),
    Rule(f(type="deleted-at"), ("2024-01-02 03:04:05",)),
    Rule(f(type="number"), ("1.25",)),
    Rule(
        f(type="relationship", related_table="authors", on_delete="cascade", on_update="set-null"),
        (None,),
        (("999", MISSING_ROW),),
    ),
    Rule(
        f(type="relationship", related_table="uuid_authors", relation_type="one-to-one"),
        (None,),
        (("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", MISSING_ROW),),
    ),
    Rule(f(type="relationship", related_table="text_authors", on_delete="restrict"), (None,), (("nope", MISSING_ROW),)),
    Rule(f(type="relationship", related_table="big_authors", on_update="set-default"), (None,), (("9", MISSING_ROW),)),
    Rule(f(type="relationship", related_table="authors", related_field="name"), (None,), (("nobody", MISSING_ROW),)),
]


def _rule_id(rule: Rule) -> str:
    settings = [name for name in ("item_type", "format", "related_table", "default") if getattr(rule.field, name)]
    return "-".join([rule.field.type, *(str(getattr(rule.field, name)) for name in settings)])[:60]


# Formula and AI columns are computed (generated or filled by triggers): test_every_field_type_db.py and
# test_computed_fields_db.py check them through the table, values included.
COMPUTED_TYPES = frozenset({"formula"} | {t for t in COLUMN_TYPES if t.startswith("ai-")})


def test_the_rules_cover_every_column_type_and_legacy_alias() -> None:
    assert {rule.field.type for rule in RULES} == (set(COLUMN_TYPES) - COMPUTED_TYPES) | set(LEGACY_ALIASES)


@pytest.mark.parametrize("rule", RULES, ids=[_rule_id(r) for r in RULES])
async def test_field_type_on_a_real_database(db: asyncpg.Connection, rule: Rule) -> None:
    catalog = await create(db, one_table_app(rule.field, others=RELATED))
    table = catalog.table("t")
    assert table is not None
    column = table.column("f")
    assert column is not None
    if column.nullable or column.default or column.serial:
        await db.execute("INSERT INTO public.t DEFAULT VALUES")
    for value in rule.accepts:
        if value is not None or column.nullable:
            await insert(db, column, value)
    for value, error in rule.refuses:
        with pytest.raises(error):
            await insert(db, column, value)


async def test_all_field_types_in_one_table_print_back_as_compiled(db: asyncpg.Connection) -> None:
    plain = [case for case in FIELD_CASES if case[0].type not in COMPUTED_TYPES]
    fields = [replace(case[0], id=n + 1, name=f"f{n}") for n, case in enumerate(plain)]
    catalog = await create(db, one_table_app(*fields, others=RELATED))
    assert len(catalog.table("t").columns) == len(fields) + 4  # type: ignore[union-attr]


async def test_information_schema_sees_the_types_sovrium_specs_expect(db: asyncpg.Connection) -> None:
    expected = {
        "single-line-text": ("character varying", 255),
        "long-text": ("text", None),
        "integer": ("integer", None),
        "decimal": ("numeric", None),
        "checkbox": ("boolean", None),
        "date": ("date", None),
        "datetime": ("timestamp with time zone", None),
        "created-at": ("timestamp without time zone", None),
        "time": ("time without time zone", None),
        "duration": ("interval", None),
        "multi-select": ("ARRAY", None),
        "json": ("jsonb", None),
        "geolocation": ("point", None),
    }
    fields = [
        f("c_" + kind.replace("-", "_"), kind, options=("a",) if kind == "multi-select" else ()) for kind in expected
    ]
    await create(db, one_table_app(*fields))
    rows = await db.fetch(
        "SELECT column_name, data_type, character_maximum_length, ordinal_position FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 't' ORDER BY ordinal_position"
    )
    assert [r["column_name"] for r in rows[:4]] == ["id", "created_at", "updated_at", "deleted_at"]
    found = {r["column_name"]: (r["data_type"], r["character_maximum_length"]) for r in rows}
    assert {kind: found["c_" + kind.replace("-", "_")] for kind in expected} == expected


# --- behaviour ---------------------------------------------------------------------------------------------------

HOSTILE = ("'); DROP TABLE t; --", "a'b", "semi;colon", "dash--dash", "ünï☃ 𝄞", "back\\slash", "$$x$$", "", "{a,b}")


async def test_hostile_option_values_and_defaults_round_trip_byte_exactly(db: asyncpg.Connection) -> None:
    app = one_table_app(
        f("s", "single-select", options=HOSTILE, default=HOSTILE[0]),
        f("m", "multi-select", options=HOSTILE, default=HOSTILE[:3]),
        f("txt", "long-text", default=HOSTILE[4] + HOSTILE[5]),
    )
    await create(db, app)
    await db.execute("INSERT INTO public.t DEFAULT VALUES")
    row = await db.fetchrow("SELECT s, m, txt FROM public.t")
    assert (row["s"], tuple(row["m"]), row["txt"]) == (HOSTILE[0], HOSTILE[:3], HOSTILE[4] + HOSTILE[5])
    for value in HOSTILE:
        await db.execute("INSERT INTO public.t (s, m) VALUES ($1, $2)", value, [value])
    for near_miss in ("a'b ", "A'B", "ünï☃", "back\\\\slash"):
        with pytest.raises(asyncpg.CheckViolationError):
            await db.execute("INSERT INTO public.t (s) VALUES ($1)", near_miss)
        with pytest.raises(asyncpg.CheckViolationError):
            await db.execute("INSERT INTO public.t (m) VALUES ($1)", [near_miss])
    assert await db.fetchval("SELECT to_regclass('public.t') IS NOT NULL")


async def test_defaults_fill_in(db: asyncpg.Connection) -> None:
    app = one_table_app(
        f("title", default="it's"),
        f("count", "integer", default=-5),
        f("price", "decimal", precision=2, default=1.5),
        f("flag", "checkbox", default=True),
        f("day", "date", default="2024-01-02"),
        f("wait", "duration", default=90),
        f("tags", "multi-select", options=("a", "b"), default=("b", "a")),
        f("doc", "json", default='{"b": [1, 2], "a": null}'),
        f("level", "progress", required=True),
    )
    await create(db, app)
    await db.execute("INSERT INTO public.t DEFAULT VALUES")
    row = await db.fetchrow(
        "SELECT title, count, price::text, flag, day::text, wait::text, tags, doc::text, level, "
        "created_at IS NOT NULL AS stamped FROM public.t"
    )
    assert dict(row) == {
        "title": "it's",
        "count": -5,
        "price": "1.50",
        "flag": True,
        "day": "2024-01-02",
        "wait": "00:01:30",
        "tags": ["b", "a"],
        "doc": '{"a": null, "b": [1, 2]}',
        "level": 0,
        "stamped": True,
    }


async def test_uniqueness_rules(db: asyncpg.Connection) -> None:
    app = one_table_app(
        f("code", unique=True),
        f("spot", "geolocation", unique=True),
        f("a"),
        f("b"),
        unique_constraints=(UniqueSpec(("a", "b")),),
        indexes=(IndexSpec("idx_partial", ("code",), unique=True, where="a IS NOT NULL"),),
    )
    catalog = compile_app(app)
    for statement in create_catalog_sql(catalog):
        await db.execute(statement)
    await db.execute("INSERT INTO public.t (code, spot, a, b) VALUES ('x', '(1,2)', 'p', 'q')")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute("INSERT INTO public.t (code) VALUES ('x')")
    with pytest.raises(asyncpg.ExclusionViolationError):
        await db.execute("INSERT INTO public.t (spot) VALUES ('(1,2)')")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute("INSERT INTO public.t (a, b) VALUES ('p', 'q')")
    printed, _ = await database_catalog(db)
    table = printed.table("t")
    assert table is not None
    # The user's WHERE is reprinted by PostgreSQL; this one happens to be written in its printed form.
    compiled = catalog.table("t").index("idx_partial")  # type: ignore[union-attr]
    assert compiled is not None and compiled.verbatim
    assert table.index("idx_partial") == replace(compiled, verbatim=False)


async def test_foreign_key_actions(db: asyncpg.Connection) -> None:
    authors = SchemaTable(1, "authors", (f("name"),))
    posts = SchemaTable(
        2,
        "posts",
        (
            f("author", "relationship", related_table="authors", on_delete="cascade"),
            f("editor", "relationship", related_table="authors", on_delete="set-null"),
            f("owner", "relationship", related_table="authors", on_delete="restrict"),
        ),
    )
    await create(db, App("x", (posts, authors)))
    await db.execute("INSERT INTO public.authors (name) VALUES ('a'), ('b'), ('c')")
    await db.execute("INSERT INTO public.posts (author, editor, owner) VALUES (1, 2, 3), (2, 1, 3)")
    await db.execute("DELETE FROM public.authors WHERE id = 1")
    assert [tuple(r) for r in await db.fetch("SELECT author, editor, owner FROM public.posts")] == [(2, None, 3)]
    # PostgreSQL 18 reports RESTRICT as restrict_violation (23001), 15 as foreign_key_violation (23503).
    with pytest.raises((asyncpg.RestrictViolationError, asyncpg.ForeignKeyViolationError)):
        await db.execute("DELETE FROM public.authors WHERE id = 3")


async def test_composite_keys_and_foreign_keys(db: asyncpg.Connection) -> None:
    tenants = SchemaTable(
        1, "memberships", (f("tenant", "integer"), f("email")), primary_key=PrimaryKey("composite", ("tenant", "email"))
    )
    logins = SchemaTable(
        2,
        "logins",
        (f("tenant", "integer"), f("email")),
        foreign_keys=(
            ForeignKeySpec("logins_member_fkey", ("tenant", "email"), "memberships", ("tenant", "email"), "cascade"),
        ),
    )
    await create(db, App("x", (logins, tenants)))
    await db.execute("INSERT INTO public.memberships (tenant, email) VALUES (1, 'a@x')")
    await db.execute("INSERT INTO public.logins (tenant, email) VALUES (1, 'a@x')")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO public.logins (tenant, email) VALUES (2, 'a@x')")
    with pytest.raises(asyncpg.NotNullViolationError):
        await db.execute("INSERT INTO public.memberships (tenant) VALUES (3)")
    await db.execute("DELETE FROM public.memberships")
    assert await db.fetchval("SELECT count(*) FROM public.logins") == 0


async def test_junction_table_links_both_sides(db: asyncpg.Connection) -> None:
    students = SchemaTable(
        1, "students", (f("courses", "relationship", related_table="courses", relation_type="many-to-many"),)
    )
    courses = SchemaTable(2, "courses", (f("title"),), primary_key=PrimaryKey("uuid"))
    await create(db, App("school", (students, courses)))
    student = await db.fetchval("INSERT INTO public.students DEFAULT VALUES RETURNING id")
    course = await db.fetchval("INSERT INTO public.courses (title) VALUES ('maths') RETURNING id")
    await db.execute("INSERT INTO public.students_courses (student_id, course_id) VALUES ($1, $2)", student, course)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute("INSERT INTO public.students_courses (student_id, course_id) VALUES ($1, $2)", student, course)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO public.students_courses (student_id, course_id) VALUES (999, $1)", course)


async def test_cycles_are_created(db: asyncpg.Connection) -> None:
    a = SchemaTable(1, "a", (f("b", "relationship", related_table="b"),))
    b = SchemaTable(2, "b", (f("a", "relationship", related_table="a"), f("parent", "relationship", related_table="b")))
    await create(db, App("x", (a, b)))
    await db.execute("INSERT INTO public.b DEFAULT VALUES")
    await db.execute("INSERT INTO public.a (b) VALUES (1)")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO public.a (b) VALUES (2)")


async def test_timestamps_and_autonumbers_guard_themselves(db: asyncpg.Connection) -> None:
    app = one_table_app(f("title"), f("num", "autonumber"), f("made", "created-at"), f("touched", "updated-at"))
    await create(db, app)
    await db.execute("INSERT INTO public.t (title, created_at, made) VALUES ('a', NULL, NULL), ('b', NULL, NULL)")
    rows = await db.fetch("SELECT id, num, created_at, made FROM public.t ORDER BY id")
    assert [r["num"] for r in rows] == [1, 2]
    assert all(r["created_at"] is not None and r["made"] is not None for r in rows)
    await db.execute(
        "UPDATE public.t SET num = 99, created_at = '2000-01-01', made = '2000-01-01', "
        "updated_at = '2000-01-01', touched = '2000-01-01' WHERE id = 1"
    )
    after = await db.fetchrow("SELECT num, created_at, made, updated_at, touched FROM public.t WHERE id = 1")
    assert (after["num"], after["created_at"], after["made"]) == (1, rows[0]["created_at"], rows[0]["made"])
    assert after["updated_at"].year > 2000 and after["touched"].year > 2000


async def test_user_fields_reference_auth_users_when_auth_is_on(db: asyncpg.Connection) -> None:
    await db.execute('CREATE SCHEMA auth; CREATE TABLE auth."user" (id text PRIMARY KEY)')
    await db.execute("INSERT INTO auth.\"user\" (id) VALUES ('u1')")
    app = one_table_app(f("owner", "user"), f("author", "created-by"), auth=True)
    await create(db, app)
    await db.execute("INSERT INTO public.t (owner, author) VALUES ('u1', 'u1')")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO public.t (owner, author) VALUES ('u2', 'u1')")
    with pytest.raises(asyncpg.NotNullViolationError):
        await db.execute("INSERT INTO public.t (owner) VALUES ('u1')")


async def test_primary_key_variants(db: asyncpg.Connection) -> None:
    tables = (
        SchemaTable(1, "serials", (f("a"),)),
        SchemaTable(2, "uuids", (f("a"),), primary_key=PrimaryKey("uuid")),
        SchemaTable(3, "texts", (f("a"),), primary_key=PrimaryKey("text")),
        SchemaTable(4, "bigs", (f("a"),), primary_key=PrimaryKey("bigserial")),
        SchemaTable(5, "ids", (f("id", "integer", required=True),), primary_key=PrimaryKey("composite", ("id",))),
        SchemaTable(6, "own_ids", (f("id", "integer", required=True), f("a"))),
        SchemaTable(7, "pairs", (f("a"),), primary_key=PrimaryKey("composite", ("id", "a"))),
    )
    await create(db, App("x", tables))
    await db.execute("INSERT INTO public.own_ids (id) VALUES (1), (1)")  # a field `id` without a key
    await db.execute("INSERT INTO public.ids DEFAULT VALUES")
    for name in ("serials", "uuids", "texts", "bigs", "pairs"):
        await db.execute(f"INSERT INTO public.{name} (a) VALUES ('x')")
    ids = await db.fetch(
        "SELECT (SELECT id::text FROM public.serials) AS serial, (SELECT id::text FROM public.uuids) AS uuid, "
        "(SELECT id FROM public.texts) AS text, (SELECT id::text FROM public.bigs) AS big, "
        "(SELECT id::text FROM public.ids) AS own, (SELECT id::text FROM public.pairs) AS pair"
    )
    assert ids[0]["serial"] == ids[0]["big"] == ids[0]["own"] == ids[0]["pair"] == "1"
    assert len(ids[0]["uuid"]) == len(ids[0]["text"]) == 36


async def test_names_needing_quotes_survive(db: asyncpg.Connection) -> None:
    app = App(
        "x",
        (
            SchemaTable(
                1,
                "Order Items",
                (
                    f("position", "integer", min=1, indexed=True, unique=True),
                    f("time", "single-select", options=("a",)),
                ),
                indexes=(IndexSpec("idx_pos_time", ("position", "time")),),
            ),
        ),
    )
    catalog = await create(db, app)
    assert catalog.table("order_items") is not None
