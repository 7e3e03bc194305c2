"""Computed fields on a real database: values read and written through each table's own name, as Sovrium
defines them."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from sovrium_tui.errors import SchemaInvalid
from tests.acceptance_support import yaml_text
from tests.roundtrip import app, build, differences

# --- formulas ----------------------------------------------------------------------------------------------------

ITEMS = {
    "name": "shop",
    "tables": [
        {
            "id": 1,
            "name": "items",
            "fields": [
                {"id": 1, "name": "name", "type": "single-line-text"},
                {"id": 2, "name": "price", "type": "decimal"},
                {"id": 3, "name": "qty", "type": "integer"},
                {"id": 4, "name": "due", "type": "date"},
                {"id": 5, "name": "total", "type": "formula", "formula": "price * qty", "resultType": "decimal"},
                {
                    "id": 6,
                    "name": "code",
                    "type": "formula",
                    "formula": "UPPER(SUBSTR(name, 1, 3)) || '-' || qty",
                    "resultType": "text",
                },
                {"id": 7, "name": "size", "type": "formula", "formula": "IF(qty > 10, 'big', 'small')"},
                {
                    "id": 8,
                    "name": "days_left",
                    "type": "formula",
                    "formula": "due - CURRENT_DATE",
                    "resultType": "integer",
                },
                {"id": 9, "name": "with_tax", "type": "formula", "formula": "total * 1.2", "resultType": "decimal"},
                {"id": 10, "name": "unit", "type": "formula", "formula": "qty / qty", "resultType": "decimal"},
                {
                    "id": 11,
                    "name": "tier",
                    "type": "formula",
                    "formula": "CASE WHEN price >= 100 THEN 'premium' ELSE 'standard' END",
                },
                {
                    "id": 12,
                    "name": "root",
                    "type": "formula",
                    "formula": "ROUND(SQRT(qty), 2)",
                    "resultType": "decimal",
                },
            ],
        }
    ],
}


async def _kinds(db: asyncpg.Connection, table: str) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT a.attname, a.attgenerated::text AS generated, col_description(a.attrelid, a.attnum) AS comment "
        "FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        f"public.{table}",
    )
    return {
        r["attname"]: "generated" if r["generated"] == "s" else "trigger" if r["comment"] else "stored" for r in rows
    }


async def test_each_formula_kind_computes_what_sovrium_defines(db: asyncpg.Connection) -> None:
    await build(db, app(yaml_text(ITEMS)))
    kinds = await _kinds(db, "items")
    assert {k: kinds[k] for k in ("code", "size", "tier", "root", "unit")} == dict.fromkeys(
        ("code", "size", "tier", "root", "unit"), "generated"
    )
    assert kinds["days_left"] == "trigger", "CURRENT_DATE is volatile: a trigger fills it"
    assert kinds["with_tax"] == kinds["total"] == "trigger", "a formula over a formula: both by the trigger, in order"
    due = datetime.date.today() + datetime.timedelta(days=5)
    row = await db.fetchrow("INSERT INTO items (name, price, qty, due) VALUES ('widget', 2.5, 3, $1) RETURNING *", due)
    assert row["total"] == Decimal("7.5")
    assert row["code"] == "WID-3"
    assert row["size"] == "small"
    assert row["days_left"] == 5
    assert row["unit"] == 1, "numeric division: qty / qty is 1, not integer-divided"
    assert row["tier"] == "standard"
    assert row["root"] == Decimal("1.73")
    assert row["with_tax"] == Decimal("9.00")
    await db.execute("UPDATE items SET qty = 20, price = 150")
    after = await db.fetchrow("SELECT * FROM items")
    assert (after["total"], after["size"], after["tier"], after["code"]) == (
        Decimal("3000"),
        "big",
        "premium",
        "WID-20",
    )
    # Sovrium's own expressions over the same row give the same values
    expected = await db.fetchrow(
        "SELECT price * qty AS total, CASE WHEN qty > 10 THEN 'big' ELSE 'small' END AS size, "
        "due - CURRENT_DATE AS days_left FROM items"
    )
    assert (after["total"], after["size"], after["days_left"]) == tuple(expected)
    assert await differences(db, app(yaml_text(ITEMS))) == []


async def test_a_formula_over_another_formula_is_computed_in_order(db: asyncpg.Connection) -> None:
    await build(db, app(yaml_text(ITEMS)))
    await db.execute("INSERT INTO items (name, price, qty, due) VALUES ('a', 10, 2, CURRENT_DATE)")
    assert await db.fetchval("SELECT with_tax FROM items") == Decimal("24.0")


# --- lookups, rollups, counts --------------------------------------------------------------------------------------

SCHOOL = {
    "name": "school",
    "tables": [
        {
            "id": 1,
            "name": "customers",
            "fields": [
                {"id": 1, "name": "name", "type": "single-line-text"},
                {
                    "id": 2,
                    "name": "orders",
                    "type": "relationship",
                    "relatedTable": "orders",
                    "relationType": "one-to-many",
                    "foreignKey": "customer",
                },
                {"id": 3, "name": "order_refs", "type": "lookup", "relationshipField": "orders", "relatedField": "ref"},
                {
                    "id": 4,
                    "name": "refs_back",
                    "type": "lookup",
                    "relationshipField": "customer",
                    "relatedField": "ref",
                },
                {
                    "id": 10,
                    "name": "n_sum",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "amount",
                    "aggregation": "SUM",
                },
                {
                    "id": 11,
                    "name": "n_count",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "note",
                    "aggregation": "COUNT",
                },
                {
                    "id": 12,
                    "name": "n_avg",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "amount",
                    "aggregation": "avg",
                },
                {
                    "id": 13,
                    "name": "n_min",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "amount",
                    "aggregation": "MIN",
                },
                {
                    "id": 14,
                    "name": "n_max",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "amount",
                    "aggregation": "MAX",
                },
                {
                    "id": 15,
                    "name": "n_counta",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "note",
                    "aggregation": "COUNTA",
                },
                {
                    "id": 16,
                    "name": "n_countall",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "amount",
                    "aggregation": "COUNTALL",
                },
                {
                    "id": 17,
                    "name": "n_unique",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "note",
                    "aggregation": "ARRAYUNIQUE",
                },
                {
                    "id": 18,
                    "name": "big_sum",
                    "type": "rollup",
                    "relationshipField": "orders",
                    "relatedField": "amount",
                    "aggregation": "SUM",
                    "filters": {"field": "amount", "operator": "greaterThan", "value": 10},
                },
                {"id": 19, "name": "n_orders", "type": "count", "relationshipField": "orders"},
                {
                    "id": 20,
                    "name": "n_open",
                    "type": "count",
                    "relationshipField": "orders",
                    "filters": {
                        "or": [
                            {"field": "note", "operator": "equals", "value": "open"},
                            {"field": "note", "operator": "isNull", "value": None},
                        ]
                    },
                },
                {"id": 21, "name": "vip", "type": "formula", "formula": "n_sum >= 100", "resultType": "boolean"},
            ],
        },
        {
            "id": 2,
            "name": "orders",
            "fields": [
                {"id": 1, "name": "ref", "type": "single-line-text"},
                {"id": 2, "name": "amount", "type": "integer"},
                {"id": 3, "name": "note", "type": "single-line-text"},
                {"id": 4, "name": "customer", "type": "relationship", "relatedTable": "customers"},
                {
                    "id": 5,
                    "name": "customer_name",
                    "type": "lookup",
                    "relationshipField": "customer",
                    "relatedField": "name",
                },
                {
                    "id": 6,
                    "name": "vip_customer",
                    "type": "lookup",
                    "relationshipField": "customer",
                    "relatedField": "name",
                    "filters": {"field": "name", "operator": "startsWith", "value": "A"},
                },
            ],
        },
        {
            "id": 3,
            "name": "students",
            "fields": [
                {"id": 1, "name": "name", "type": "single-line-text"},
                {
                    "id": 2,
                    "name": "courses",
                    "type": "relationship",
                    "relatedTable": "courses",
                    "relationType": "many-to-many",
                },
                {
                    "id": 3,
                    "name": "course_titles",
                    "type": "lookup",
                    "relationshipField": "courses",
                    "relatedField": "title",
                },
                {"id": 4, "name": "course_count", "type": "count", "relationshipField": "courses"},
            ],
        },
        {"id": 4, "name": "courses", "fields": [{"id": 1, "name": "title", "type": "single-line-text"}]},
    ],
}


@pytest.fixture
async def school(db: asyncpg.Connection) -> asyncpg.Connection:
    await build(db, app(yaml_text(SCHOOL)))
    await db.execute("INSERT INTO customers (name) VALUES ('Ann'), ('Bob'), ('Cy')")
    await db.execute(
        "INSERT INTO orders (ref, amount, note, customer) VALUES "
        "('o1', 5, 'open', 1), ('o2', 50, 'done', 1), ('o3', 70, 'open', 1), ('o4', 9, '', 2), ('o5', 1000, NULL, 1)"
    )
    await db.execute("UPDATE orders SET deleted_at = now() WHERE ref = 'o5'")  # soft-deleted: left out of rollups
    return db


async def test_lookups_follow_many_to_one_one_to_many_and_many_to_many(school: asyncpg.Connection) -> None:
    db = school
    orders = {r["ref"]: r for r in await db.fetch("SELECT * FROM orders")}
    assert orders["o1"]["customer_name"] == "Ann" and orders["o4"]["customer_name"] == "Bob"
    assert orders["o1"]["vip_customer"] == "Ann" and orders["o4"]["vip_customer"] is None
    ann = await db.fetchrow("SELECT * FROM customers WHERE name = 'Ann'")
    assert ann["order_refs"] == "o1, o2, o3, o5", "lookups list soft-deleted rows too, as Sovrium's do"
    assert ann["refs_back"] == ann["order_refs"]
    cy = await db.fetchrow("SELECT * FROM customers WHERE name = 'Cy'")
    assert cy["order_refs"] is None
    await db.execute("INSERT INTO students (name) VALUES ('Sam'), ('Tia')")
    await db.execute("INSERT INTO courses (title) VALUES ('Math'), ('Art')")
    await db.execute("INSERT INTO students_courses (student_id, course_id) VALUES (1, 1), (1, 2), (2, 2)")
    students = {r["name"]: r for r in await db.fetch("SELECT * FROM students")}
    assert students["Sam"]["course_titles"] == "Art, Math" and students["Sam"]["course_count"] == 2
    assert students["Tia"]["course_titles"] == "Art" and students["Tia"]["course_count"] == 1


async def test_every_rollup_aggregation_with_and_without_filters(school: asyncpg.Connection) -> None:
    ann = await school.fetchrow("SELECT * FROM customers WHERE name = 'Ann'")
    assert ann["n_sum"] == 125
    assert ann["n_count"] == 3
    assert round(ann["n_avg"], 4) == Decimal("41.6667")
    assert (ann["n_min"], ann["n_max"]) == (5, 70)
    assert ann["n_counta"] == 3
    assert ann["n_countall"] == 3
    assert ann["n_unique"] == ["done", "open"]
    assert ann["big_sum"] == 120
    assert ann["n_orders"] == 3
    assert ann["n_open"] == 2
    assert ann["vip"] is True, "a formula over a rollup is computed in the view"
    bob = await school.fetchrow("SELECT * FROM customers WHERE name = 'Bob'")
    assert (bob["n_counta"], bob["n_countall"], bob["vip"]) == (0, 1, False)
    cy = await school.fetchrow("SELECT * FROM customers WHERE name = 'Cy'")
    assert (cy["n_sum"], cy["n_avg"], cy["n_unique"], cy["n_orders"]) == (0, None, [], 0)


async def test_writes_through_the_view_behave_like_a_table(school: asyncpg.Connection) -> None:
    db = school
    row = await db.fetchrow(
        "INSERT INTO orders (ref, amount, customer) VALUES ('o6', 30, 2) RETURNING id, customer_name"
    )
    assert row["customer_name"] == "Bob" and row["id"] == 6
    await db.execute("UPDATE orders SET amount = 31 WHERE ref = 'o6'")
    assert await db.fetchval("SELECT n_sum FROM customers WHERE name = 'Bob'") == 40
    await db.execute("DELETE FROM orders WHERE ref = 'o6'")
    assert await db.fetchval("SELECT count(*) FROM orders_base WHERE ref = 'o6'") == 0
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO orders (ref, customer) VALUES ('x', 99)")
    assert await differences(db, app(yaml_text(SCHOOL))) == []


# --- plans that add, change, rename and remove computed fields and views, both ways ----------------------------

BASE_FIELDS = [
    {"id": 1, "name": "name", "type": "single-line-text", "unique": True},
    {"id": 2, "name": "price", "type": "integer", "indexed": True},
]
CHILD = {
    "id": 2,
    "name": "lines",
    "fields": [
        {"id": 1, "name": "qty", "type": "integer"},
        {"id": 2, "name": "product", "type": "relationship", "relatedTable": "products", "onDelete": "cascade"},
    ],
}
PRODUCT_LINES = {
    "id": 3,
    "name": "lines",
    "type": "relationship",
    "relatedTable": "lines",
    "relationType": "one-to-many",
    "foreignKey": "product",
}


def shop(*extra: dict[str, object], views: list[dict[str, object]] | None = None) -> str:
    products: dict[str, object] = {"id": 1, "name": "products", "fields": [*BASE_FIELDS, PRODUCT_LINES, *extra]}
    if views:
        products["views"] = views
    return yaml_text({"name": "shop", "tables": [products, CHILD]})


STEPS = [
    ("plain", shop()),
    (
        "add a formula",
        shop({"id": 10, "name": "double", "type": "formula", "formula": "price * 2", "resultType": "integer"}),
    ),
    (
        "change it",
        shop({"id": 10, "name": "double", "type": "formula", "formula": "price * 3", "resultType": "integer"}),
    ),
    (
        "rename it",
        shop({"id": 10, "name": "triple", "type": "formula", "formula": "price * 3", "resultType": "integer"}),
    ),
    ("add a count: view-backed", shop({"id": 11, "name": "n_lines", "type": "count", "relationshipField": "lines"})),
    (
        "change it to a rollup",
        shop(
            {
                "id": 11,
                "name": "n_lines",
                "type": "rollup",
                "relationshipField": "lines",
                "relatedField": "qty",
                "aggregation": "SUM",
            }
        ),
    ),
    (
        "add a formula over it and a view",
        shop(
            {
                "id": 11,
                "name": "n_lines",
                "type": "rollup",
                "relationshipField": "lines",
                "relatedField": "qty",
                "aggregation": "SUM",
            },
            {"id": 12, "name": "busy", "type": "formula", "formula": "n_lines > 2", "resultType": "boolean"},
            views=[{"id": "cheap", "name": "Cheap", "query": "SELECT name FROM products WHERE price < 10"}],
        ),
    ),
    (
        "change the view's query, make another materialized",
        shop(
            {
                "id": 11,
                "name": "n_lines",
                "type": "rollup",
                "relationshipField": "lines",
                "relatedField": "qty",
                "aggregation": "SUM",
            },
            views=[
                {"id": "cheap", "name": "Cheap", "query": "SELECT name, price FROM products WHERE price < 5"},
                {
                    "id": "stats",
                    "name": "Stats",
                    "query": "SELECT count(*) AS n FROM lines",
                    "materialized": True,
                    "refreshOnMigration": True,
                },
            ],
        ),
    ),
    ("back to a plain table", shop()),
]


async def _snapshot(db: asyncpg.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await db.fetch("SELECT p.id, p.name, p.price FROM products p ORDER BY p.id")]


@pytest.mark.parametrize("number", range(1, len(STEPS)), ids=[s[0] for s in STEPS[1:]])
async def test_each_change_applies_and_reverses_keeping_every_row(db: asyncpg.Connection, number: int) -> None:
    from tests.roundtrip import plan_change, run_steps

    before, after = app(STEPS[number - 1][1]), app(STEPS[number][1])
    # build the state before this step through the plans up to it, so renames are known by id
    await build(db, app(STEPS[0][1]))
    for earlier in range(1, number):
        plan = await plan_change(db, app(STEPS[earlier - 1][1]), app(STEPS[earlier][1]))
        if plan is not None:
            await run_steps(db, plan.steps)
    await db.execute("INSERT INTO products (name, price) VALUES ('pen', 2), ('ink', 20)")
    await db.execute("INSERT INTO lines (qty, product) VALUES (1, 1), (2, 1), (5, 2)")
    rows = await _snapshot(db)
    plan = await plan_change(db, before, after)
    assert plan is not None
    destructive = [s.summary for s in plan.steps if "data-loss" in s.hazards]
    assert destructive == [], "computed fields and views are derived: no step loses data"
    await run_steps(db, plan.steps)
    assert await differences(db, after) == [], "forward yields the new schema"
    assert await _snapshot(db) == rows
    assert await db.fetchval("SELECT count(*) FROM lines") == 3, "the other table's foreign key follows"
    with pytest.raises(asyncpg.UniqueViolationError):  # the unique constraint is kept
        await db.execute("INSERT INTO products (name, price) VALUES ('pen', 1)")
    await run_steps(db, plan.steps, forward=False)
    assert await differences(db, before) == [], "reverse yields the old schema"
    assert await _snapshot(db) == rows


async def test_views_changed_outside_migrations_are_drift(db: asyncpg.Connection) -> None:
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.catalog.introspect import introspect
    from sovrium_tui.planning.drift import find_drift

    target = app(STEPS[7][1])
    await build(db, target)
    await db.execute("DROP VIEW cheap")
    await db.execute("CREATE VIEW extra_view AS SELECT 1 AS one")
    await db.execute("COMMENT ON MATERIALIZED VIEW stats IS 'sovrium-source: SELECT 2 AS n'")
    found = {(d.table, d.kind, d.detail) for d in find_drift(compile_app(target), await introspect(db))}
    assert found == {
        ("cheap", "missing", "view cheap is missing"),
        ("extra_view", "extra", "view extra_view exists but was not recorded"),
        ("stats", "changed", "materialized view stats differs from the recorded one (its query or triggers changed)"),
    }


async def test_a_field_a_formula_reads_can_change_type(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL refuses to change the type of a column a generation expression reads: the formula's column is
    dropped before the change and added after it, computed again from the converted values."""
    from sovrium_tui import services

    schema = tmp_path / "app.yaml"

    def write(qty_type: str) -> Path:
        fields = [
            {"id": 1, "name": "qty", "type": qty_type},
            {"id": 2, "name": "total", "type": "formula", "formula": "qty * 2 + 1", "resultType": "decimal"},
        ]
        schema.write_text(yaml_text({"name": "shop", "tables": [{"id": 1, "name": "items", "fields": fields}]}))
        return schema

    await services.migrate(write("integer"), database_url=database_url)
    await db.execute("INSERT INTO items (qty) VALUES (4), (NULL)")
    await services.migrate(write("decimal"), database_url=database_url)
    await db.execute("UPDATE items SET qty = 4.5 WHERE qty = 4")
    assert await db.fetch("SELECT qty, total FROM items ORDER BY id") == [(Decimal("4.5"), Decimal(10)), (None, None)]
    assert (await services.drift(database_url=database_url)).differences == ()

    await services.rollback(reason="back", force=True, database_url=database_url)
    assert await db.fetch("SELECT qty, total FROM items ORDER BY id") == [(5, Decimal(11)), (None, None)]
    assert (await services.drift(database_url=database_url)).differences == ()

    # to text, the formula could not be made again (text * integer): refused before anything runs
    with pytest.raises(SchemaInvalid, match='"qty" holds text'):
        await services.migrate(write("single-line-text"), database_url=database_url, allow_destructive=True)
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 1

    # to autonumber, a sequence is attached to the column: its numbers are kept, its empty rows numbered after the
    # largest, and the formula computes from them
    await services.migrate(write("autonumber"), database_url=database_url)
    assert await db.fetch("SELECT qty, total FROM items ORDER BY qty") == [(5, Decimal(11)), (6, Decimal(13))]
    assert (await services.drift(database_url=database_url)).differences == ()
    await services.rollback(reason="numbers were a mistake", force=True, database_url=database_url)
    assert (await services.drift(database_url=database_url)).differences == ()


async def test_formulas_a_trigger_computes_are_computed_for_the_rows_already_there(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """The trigger fills only rows written later: the rows already there get the new formulas computed by the plan,
    by the trigger, as a write would (a formula reading another after it; a text result converted to an integer
    as PL/pgSQL converts it), without being a write: `updated_at` keeps its value. Undone by dropping the
    columns."""
    from sovrium_tui import services

    schema = tmp_path / "app.yaml"
    base = [
        {"id": 1, "name": "title", "type": "single-line-text"},
        {"id": 2, "name": "due", "type": "date"},
        {"id": 3, "name": "seen", "type": "formula", "formula": "NOW()", "resultType": "datetime"},
    ]
    added = [  # declared before what it reads: computed after it
        {"id": 5, "name": "shout", "type": "formula", "formula": "UPPER(label)", "resultType": "text"},
        {"id": 4, "name": "label", "type": "formula", "formula": "'due ' || due", "resultType": "text"},
        {"id": 6, "name": "year", "type": "formula", "formula": "TO_CHAR(due, 'YYYY')", "resultType": "integer"},
    ]

    def write(fields: list[dict[str, object]]) -> Path:
        schema.write_text(yaml_text({"name": "todo", "tables": [{"id": 1, "name": "tasks", "fields": fields}]}))
        return schema

    await services.migrate(write(base), database_url=database_url)
    await db.execute("INSERT INTO tasks (title, due) VALUES ('a', '2024-01-02'), ('b', NULL)")
    before = await db.fetch("SELECT id, updated_at FROM tasks ORDER BY id")

    result = await services.migrate(write(base + added), database_url=database_url)

    assert result.status == "migrated"
    rows = await db.fetch("SELECT label, shout, year FROM tasks ORDER BY id")
    assert [tuple(row) for row in rows] == [("due 2024-01-02", "DUE 2024-01-02", 2024), (None, None, None)]
    assert await db.fetch("SELECT id, updated_at FROM tasks ORDER BY id") == before
    assert await db.fetchval("SELECT bool_and(tgenabled = 'O') FROM pg_trigger WHERE tgrelid = 'tasks'::regclass")
    assert (await services.drift(database_url=database_url)).differences == ()
    await db.execute("UPDATE tasks SET due = '2025-03-04' WHERE title = 'b'")  # the trigger computes later writes
    assert await db.fetchval("SELECT shout FROM tasks WHERE title = 'b'") == "DUE 2025-03-04"

    await services.rollback(reason="back", database_url=database_url)
    assert (
        await db.fetchval("SELECT count(*) FROM pg_attribute WHERE attrelid = 'tasks'::regclass AND attname = 'label'")
        == 0
    )
    assert (await services.drift(database_url=database_url)).differences == ()


async def test_a_changed_formula_a_trigger_computes_is_computed_again_and_back(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """The trigger computes only rows written later: a changed formula is computed again for every row, with the
    formulas reading it, and computed back by the rollback. A renamed field it reads is no change. Not a write:
    `updated_at` keeps its values."""
    from sovrium_tui import services

    schema = tmp_path / "app.yaml"

    def write(due: str, label: str) -> Path:
        fields = [
            {"id": 1, "name": "title", "type": "single-line-text"},
            {"id": 2, "name": due, "type": "date"},
            {"id": 3, "name": "label", "type": "formula", "formula": label, "resultType": "text"},
            {"id": 4, "name": "shout", "type": "formula", "formula": "UPPER(label)", "resultType": "text"},
            {"id": 5, "name": "seen", "type": "formula", "formula": "NOW()", "resultType": "datetime"},
        ]
        schema.write_text(yaml_text({"name": "todo", "tables": [{"id": 1, "name": "tasks", "fields": fields}]}))
        return schema

    async def computed() -> list[tuple[object, ...]]:
        return [tuple(r) for r in await db.fetch("SELECT label, shout FROM tasks ORDER BY id")]

    await services.migrate(write("due", "'due ' || due"), database_url=database_url)
    await db.execute("INSERT INTO tasks (title, due) VALUES ('a', '2024-01-02'), ('b', NULL)")
    unwritten = await db.fetch("SELECT id, updated_at FROM tasks ORDER BY id")

    renamed = await services.migrate(write("deadline", "'due ' || deadline"), database_url=database_url)
    assert renamed.steps == 2  # the rename and the trigger's body: nothing computed again
    await services.migrate(write("deadline", "'by ' || deadline"), database_url=database_url, allow_destructive=False)

    assert await computed() == [("by 2024-01-02", "BY 2024-01-02"), (None, None)]
    assert await db.fetch("SELECT id, updated_at FROM tasks ORDER BY id") == unwritten
    assert (await services.drift(database_url=database_url)).differences == ()

    await services.rollback(to_version=1, reason="back", database_url=database_url)
    assert await computed() == [("due 2024-01-02", "DUE 2024-01-02"), (None, None)]
    assert await db.fetch("SELECT id, updated_at FROM tasks ORDER BY id") == unwritten
    assert (await services.drift(database_url=database_url)).differences == ()


async def test_formula_columns_a_rollback_brings_back_are_computed_for_every_row(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """Dropping a formula loses nothing (its values are derived); undoing the drop brings the column back and
    computes it for every row (one formula reading the other after it), without a write (`updated_at` stays)."""
    from sovrium_tui import services

    schema = tmp_path / "app.yaml"
    kept = [
        {"id": 1, "name": "title", "type": "single-line-text"},
        {"id": 5, "name": "seen", "type": "formula", "formula": "NOW()", "resultType": "datetime"},
    ]
    dropped = [
        {"id": 3, "name": "shout", "type": "formula", "formula": "UPPER(label)", "resultType": "text"},
        {"id": 2, "name": "label", "type": "formula", "formula": "'re: ' || title", "resultType": "text"},
    ]

    def write(fields: list[dict[str, object]]) -> Path:
        schema.write_text(yaml_text({"name": "todo", "tables": [{"id": 1, "name": "tasks", "fields": fields}]}))
        return schema

    await services.migrate(write(kept + dropped), database_url=database_url)
    await db.execute("INSERT INTO tasks (title) VALUES ('a'), (NULL)")
    unwritten = await db.fetch("SELECT id, updated_at FROM tasks ORDER BY id")
    await services.migrate(write(kept), database_url=database_url)  # not destructive: derived values

    await services.rollback(reason="want them back", database_url=database_url)

    rows = await db.fetch("SELECT label, shout FROM tasks ORDER BY id")
    assert [tuple(row) for row in rows] == [("re: a", "RE: A"), (None, None)]
    assert await db.fetch("SELECT id, updated_at FROM tasks ORDER BY id") == unwritten
    assert (await services.drift(database_url=database_url)).differences == ()


async def test_a_formula_reading_no_field_is_computed_by_the_trigger(db: asyncpg.Connection) -> None:
    """A generated column reading no column has no collation for its text: PostgreSQL refuses `UPPER('x')` there
    (could not determine which collation to use); the trigger computes it."""
    fields = [
        {"id": 1, "name": "body", "type": "single-line-text"},
        {"id": 2, "name": "shout", "type": "formula", "formula": "UPPER('x')"},
        {"id": 3, "name": "low", "type": "formula", "formula": "LOWER('A' || 'B')"},
    ]
    target = app(yaml_text({"name": "consts", "tables": [{"id": 1, "name": "notes", "fields": fields}]}))
    await build(db, target)
    await db.execute("INSERT INTO notes (body) VALUES ('a')")
    assert tuple(await db.fetchrow("SELECT shout, low FROM notes")) == ("X", "ab")
    kinds = await _kinds(db, "notes")
    assert (kinds["body"], kinds["shout"], kinds["low"]) == ("stored", "trigger", "trigger")
    assert await differences(db, target) == []


# --- arithmetic PostgreSQL has operators for -----------------------------------------------------------------------

_TIMED = {
    "d": ("duration", "interval"),
    "ts": ("datetime", "timestamptz"),
    "dt": ("date", "date"),
    "t": ("time", "time"),
}


def _timed_app(*formulas: str) -> str:
    fields = [{"id": n, "name": name, "type": kind} for n, (name, (kind, _)) in enumerate(_TIMED.items(), start=1)]
    fields.append({"id": 5, "name": "n", "type": "integer"})
    fields += [{"id": 10 + n, "name": f"f{n}", "type": "formula", "formula": f} for n, f in enumerate(formulas)]
    return yaml_text({"name": "clock", "tables": [{"id": 1, "name": "times", "fields": fields}]})


@pytest.mark.parametrize(
    "formula", ["d + 1", "d * 2 + 1", "-d - 1", "ts + 1", "ts - n", "t + 1", "d * d", "d / d", "(ts - ts) + 1"]
)
async def test_arithmetic_postgresql_has_no_operator_for_is_refused_before_anything_runs(
    db: asyncpg.Connection, formula: str
) -> None:
    with pytest.raises(SchemaInvalid, match="PostgreSQL has no operator for"):
        app(_timed_app(formula))
    # PostgreSQL refuses the same arithmetic on values of those types.
    typed = formula
    for name, (_, sql_type) in {**_TIMED, "n": ("integer", "integer")}.items():
        typed = re.sub(rf"\b{name}\b", f"NULL::{sql_type}", typed)
    with pytest.raises(asyncpg.UndefinedFunctionError, match="operator does not exist"):
        await db.execute(f"SELECT {typed}")


async def test_arithmetic_of_dates_times_and_durations_postgresql_has_operators_for_applies(
    db: asyncpg.Connection,
) -> None:
    formulas = ["d * 2", "d + d", "ts - ts", "dt + 1", "dt - n", "dt - dt", "ts + d", "dt + d", "t - t", "(d + d) / 2"]
    await build(db, app(_timed_app(*formulas, "d * 1.5", "(ts - ts) * 2", "IF(n > 1, d * 2, d)")))
    await db.execute("INSERT INTO times (d, ts, dt, t, n) VALUES ('1 hour', now(), current_date, '10:00', 3)")
    assert await db.fetchval("SELECT f0 FROM times") == "02:00:00"


FILTERED = """
name: todo
tables:
  - id: 1
    name: tasks
    fields:
      - {id: 1, name: title, type: single-line-text}
      - {id: 2, name: hours, type: integer}
      - {id: 3, name: done, type: checkbox}
      - {id: 4, name: due, type: date}
    views:
      - {id: picked, name: Picked, filters: {and: [%s]}}
"""


@pytest.mark.parametrize(
    ("condition", "why"),
    [
        ("{field: done, operator: contains, value: x}", '"done" (a true/false value): `contains` matches text only'),
        ("{field: hours, operator: startsWith, value: 1}", '"hours" (a number): `startsWith` matches text only'),
        ("{field: due, operator: isEmpty}", '"due" (a date): `isEmpty` matches text only'),
        ("{field: title, operator: isTrue}", '"title" (text): `isTrue` tests a checkbox only'),
        ("{field: done, operator: greaterThan, value: 1}", "`greaterThan` compares it with 1, which is not a true/"),
        ("{field: hours, operator: equals, value: ten}", '`equals` compares it with "ten", which is not a number'),
        ("{field: title, operator: equals, value: 5}", "`equals` compares it with 5, which is not text"),
        ("{field: due, operator: in, value: [1, 2]}", "`in` compares it with 1, which is not a date"),
    ],
)
def test_a_filter_postgresql_cannot_evaluate_on_its_field_is_refused(condition: str, why: str) -> None:
    with pytest.raises(SchemaInvalid, match=re.escape(why)):
        app(FILTERED % condition)


async def test_filters_that_fit_their_fields_make_a_view_that_filters(db: asyncpg.Connection) -> None:
    """The same view with conditions of each kind PostgreSQL can evaluate (Sovrium's sql views: an id that is
    text makes one)."""
    conditions = ", ".join(
        (
            "{field: title, operator: contains, value: a}",
            "{field: hours, operator: greaterThan, value: '2'}",
            "{field: done, operator: isFalse}",
            "{field: done, operator: equals, value: 'false'}",
            "{field: due, operator: lessThan, value: '2030-01-01'}",
            "{field: hours, operator: in, value: [3, 4.5]}",
        )
    )
    await build(db, app(FILTERED % conditions))
    await db.execute(
        "INSERT INTO tasks (title, hours, done, due) VALUES ('a', 3, false, '2024-01-01'), ('a', 1, false, NULL),"
        " ('b', 3, false, '2024-01-01'), ('a', 3, true, '2024-01-01')"
    )
    assert await db.fetchval('SELECT count(*) FROM "picked"') == 1


async def test_a_rollback_to_a_formula_the_rows_cannot_compute_says_what_to_do(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """The earlier formula divided by a field now 0 in a row: computing it back fails the rollback, which changes
    nothing and says what the rows need; fixed, the rollback computes it."""
    from sovrium_tui import services
    from sovrium_tui.errors import SovriumError

    schema = tmp_path / "app.yaml"

    def write(formula: str) -> Path:
        fields = [
            {"id": 1, "name": "qty", "type": "integer"},
            {"id": 2, "name": "per", "type": "formula", "formula": formula, "resultType": "decimal"},
        ]
        schema.write_text(yaml_text({"name": "shop", "tables": [{"id": 1, "name": "items", "fields": fields}]}))
        return schema

    await services.migrate(write("100 / qty + EXTRACT(DAY FROM NOW()) * 0"), database_url=database_url)
    await services.migrate(write("100 / NULLIF(qty, 0) + EXTRACT(DAY FROM NOW()) * 0"), database_url=database_url)
    await db.execute("INSERT INTO items (qty) VALUES (4), (0)")

    with pytest.raises(SovriumError) as refused:
        await services.rollback(reason="back", database_url=database_url)
    assert "division by zero" in refused.value.message
    assert "rows there now that the earlier version's formula cannot compute" in refused.value.message
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 2

    await db.execute("UPDATE items SET qty = 5 WHERE qty = 0")
    await services.rollback(reason="back", database_url=database_url)
    assert [r["per"] for r in await db.fetch("SELECT per FROM items ORDER BY id")] == [25, 20]
