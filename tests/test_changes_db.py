"""Every change kind on a real database: forward reaches the target, reverse restores the original exactly,
and data survives wherever the change does not destroy it."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import pytest

from tests.roundtrip import app, build, differences, plan_change, run_steps


def schema(*tables: str) -> str:
    return "name: shop\ntables:\n" + "".join(tables)


CUSTOMERS = """
  - id: 1
    name: customers
    fields:
      - {id: 1, name: email, type: email, required: true, unique: true}
      - {id: 2, name: nickname, type: single-line-text}
      - {id: 3, name: age, type: integer}
"""


def customers(*extra_fields: str, replace: dict[str, str] | None = None, table_extra: str = "") -> str:
    text = CUSTOMERS
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text + "".join(f"      - {field}\n" for field in extra_fields) + table_extra


ORDERS = """
  - id: 2
    name: orders
    fields:
      - {id: 1, name: total, type: decimal, precision: 2}
      - {id: 2, name: customer, type: relationship, relatedTable: customers, onDelete: cascade}
"""


def buyers(column: str, field_type: str) -> str:
    """A table whose own foreign key (not a relationship) references customers(`column`)."""
    return f"""
  - id: 3
    name: buyers
    fields:
      - {{id: 1, name: {column}, type: {field_type}}}
    foreignKeys:
      - {{name: fk_buyers_{column}, fields: [{column}], referencedTable: customers, referencedFields: [{column}]}}
"""


BUYERS = buyers("email", "email")
BUYERS_OF_CODE = buyers("code", "single-line-text")
BUYERS_OF_NICKNAME = buyers("nickname", "single-line-text")

NOTES = """
  - id: 2
    name: %s
    fields:
      - {id: 1, name: %s, type: email}
"""

SEED = "INSERT INTO customers (email, nickname, age) VALUES ('a@x.io', 'ann', 31), ('b@x.io', NULL, NULL)"


ADULTS = """    constraints:
      - {{name: adult_nickname, check: "{column} IS NULL OR {column} >= 18"}}
    indexes:
      - {{name: idx_adults, fields: [nickname], where: "{column} >= 18"}}
"""


@dataclass(frozen=True)
class Case:
    name: str
    before: str
    after: str
    expected_ops: tuple[str, ...]
    after_forward: tuple[tuple[str, object], ...] = ()  # (query, expected value) once forward ran
    kept_after_reverse: str = "SELECT count(*) FROM customers"  # data that must survive the round trip


CASES = [
    Case(
        "add column",
        schema(customers()),
        schema(customers("{id: 4, name: phone, type: phone-number}")),
        ("add_column",),
        (("SELECT count(*) FROM customers WHERE phone IS NULL", 2),),
    ),
    Case(
        "add required column with default fills existing rows",
        schema(customers()),
        schema(customers("{id: 4, name: tier, type: single-line-text, required: true, default: basic}")),
        ("add_column",),
        (("SELECT count(*) FROM customers WHERE tier = 'basic'", 2),),
    ),
    Case(
        "drop column (allowed by the table)",
        schema(customers()),
        schema(
            customers(
                replace={"      - {id: 3, name: age, type: integer}\n": ""}, table_extra="    allowDestructive: true\n"
            )
        ),
        ("drop_column",),
        (
            (
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'customers' AND column_name = 'age'",
                0,
            ),
        ),
    ),
    Case(
        "rename column keeps values, index and constraint",
        schema(customers()),
        schema(customers(replace={"name: email, type: email": "name: contact_email, type: email"})),
        ("rename_column", "rename_constraint"),
        (("SELECT contact_email FROM customers ORDER BY id LIMIT 1", "a@x.io"),),
    ),
    Case(
        "swapping two column names keeps each value with its field id",
        schema(customers()),
        schema(
            customers(
                replace={
                    "name: email, type: email, required: true, unique: true": "name: nickname, type: email, "
                    "required: true, unique: true",
                    "name: nickname, type: single-line-text": "name: email, type: single-line-text",
                }
            )
        ),
        ("rename_column", "rename_constraint"),
        (
            ("SELECT nickname FROM customers ORDER BY id LIMIT 1", "a@x.io"),
            ("SELECT email FROM customers ORDER BY id LIMIT 1", "ann"),
            ("SELECT count(*) FROM information_schema.columns WHERE column_name LIKE '%renaming%'", 0),
        ),
        kept_after_reverse="SELECT string_agg(email || '/' || coalesce(nickname, '-'), ',' ORDER BY id) FROM customers",
    ),
    Case(
        "a chain of column renames (age to nickname to alias) keeps every value",
        schema(customers()),
        schema(
            customers(
                replace={
                    "name: nickname, type: single-line-text": "name: alias, type: single-line-text",
                    "name: age, type: integer": "name: nickname, type: integer",
                }
            )
        ),
        ("rename_column",),
        (("SELECT alias || ' ' || nickname FROM customers ORDER BY id LIMIT 1", "ann 31"),),
        kept_after_reverse="SELECT string_agg(coalesce(nickname, '-') || age, ',' ORDER BY id) FROM customers",
    ),
    Case(
        "renaming a field a formula reads can be undone",
        schema(customers("{id: 4, name: next_age, type: formula, formula: 'age + 1', resultType: integer}")),
        schema(
            customers(
                "{id: 4, name: next_age, type: formula, formula: 'years + 1', resultType: integer}",
                replace={"name: age, type: integer": "name: years, type: integer"},
            )
        ),
        ("rename_column", "drop_column", "add_column"),
        (("SELECT next_age FROM customers WHERE email = 'a@x.io'", 32),),
        kept_after_reverse="SELECT string_agg(coalesce(next_age, 0)::text, ',' ORDER BY id) FROM customers",
    ),
    Case(
        "renaming a field a hand-written rule and index predicate read can be undone",
        schema(customers(table_extra=ADULTS.format(column="age"))),
        schema(
            customers(
                replace={"name: age, type: integer": "name: years, type: integer"},
                table_extra=ADULTS.format(column="years"),
            )
        ),
        ("rename_column", "drop_constraint", "drop_index", "add_constraint", "create_index"),
        (("SELECT count(*) FROM customers WHERE years = 31", 1),),
    ),
    Case(
        "a primary key made again with its column (serial to uuid) comes back on both sides",
        schema(customers()),
        schema(customers(table_extra="    primaryKey: {type: uuid}\n")),
        ("drop_constraint", "drop_column", "add_column", "add_constraint"),
        (("SELECT count(*) FROM customers WHERE id IS NOT NULL", 2),),
    ),
    Case(
        "a referenced key changing type (uuid to text) takes its foreign keys along",
        schema(customers(table_extra="    primaryKey: {type: uuid}\n"), ORDERS),
        schema(customers(table_extra="    primaryKey: {type: text}\n"), ORDERS),
        ("drop_constraint", "alter_column_type", "add_constraint"),
        (("SELECT data_type FROM information_schema.columns WHERE column_name = 'customer'", "text"),),
    ),
    Case(
        "a referenced key changing type as the referencing table goes drops that table's key first",
        schema(customers(table_extra="    primaryKey: {type: uuid}\n"), ORDERS),
        schema(customers(table_extra="    primaryKey: {type: text}\n")),
        ("drop_constraint", "drop_table", "alter_column_type"),
        (
            (
                "SELECT data_type FROM information_schema.columns WHERE (table_name, column_name) = ('customers','id')",
                "text",
            ),
        ),
    ),
    Case(
        "a new table referencing a key made again in the same plan gets its foreign key after the key",
        schema(customers()),
        schema(customers(table_extra="    primaryKey: {type: uuid}\n"), ORDERS),
        ("drop_column", "create_table", "add_column", "add_constraint"),
        (("SELECT count(*) FROM pg_constraint WHERE conname = 'orders_customer_fkey'", 1),),
    ),
    Case(
        "a referenced key dropped as the referencing table goes drops that table's key first",
        schema(customers(), ORDERS),
        schema(
            customers(
                replace={"required: true, unique: true": "required: true"},
                table_extra="    primaryKey: {type: composite, fields: [email]}\n",
            )
        ),
        ("drop_constraint", "drop_table", "drop_column", "add_constraint"),
        (("SELECT count(*) FROM information_schema.columns WHERE (table_name, column_name) = ('customers','id')", 0),),
    ),
    Case(
        "a unique rule replaced by a unique index remakes the foreign key relying on it around them",
        schema(customers(), BUYERS),
        schema(
            customers(
                replace={"required: true, unique: true": "required: true"},
                table_extra="    indexes:\n      - {name: uq_email, fields: [email], unique: true}\n",
            ),
            BUYERS,
        ),
        ("drop_constraint", "create_index", "add_constraint"),
        (("SELECT count(*) FROM pg_constraint WHERE conname = 'fk_buyers_email'", 1),),
    ),
    Case(
        "a new table referencing a column added in the same plan gets its key after the column",
        schema(customers()),
        schema(customers("{id: 4, name: code, type: single-line-text, unique: true}"), BUYERS_OF_CODE),
        ("create_table", "add_column", "add_constraint"),
        (("SELECT count(*) FROM pg_constraint WHERE conname = 'fk_buyers_code'", 1),),
    ),
    Case(
        "a new table referencing a column made unique in the same plan gets its key after the rule",
        schema(customers()),
        schema(
            customers(replace={"type: single-line-text}": "type: single-line-text, unique: true}"}),
            BUYERS_OF_NICKNAME,
        ),
        ("create_table", "add_constraint"),
        (("SELECT count(*) FROM pg_constraint WHERE conname = 'fk_buyers_nickname'", 1),),
    ),
    Case(
        "a chain of table renames (customers to clients, notes to customers) keeps each table's rows and renames",
        schema(customers(), NOTES % ("notes", "email")),
        schema(customers().replace("name: customers", "name: clients"), NOTES % ("customers", "contact")),
        ("rename_table", "rename_column"),
        (
            ("SELECT count(*) FROM clients", 2),
            ("SELECT count(*) FROM customers", 0),  # the notes table, under its new name
            (
                "SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_name = 'customers'"
                " AND column_name IN ('email', 'contact')",
                "contact",
            ),
        ),
    ),
    Case(
        "swapping two table names keeps each table's rows with its id",
        schema(customers(), NOTES % ("notes", "email")),
        schema(customers().replace("name: customers", "name: notes"), NOTES % ("customers", "email")),
        ("rename_table", "rename_constraint", "rename_index"),
        (
            ("SELECT count(*) FROM notes", 2),
            ("SELECT nickname FROM notes ORDER BY id LIMIT 1", "ann"),
            ("SELECT count(*) FROM pg_class WHERE relname LIKE '%renaming%'", 0),
        ),
    ),
    Case(
        "a table renamed onto the name of a table the schema drops takes its place; the other is dropped",
        schema(customers(), NOTES % ("notes", "email")),
        schema(NOTES % ("customers", "email")),
        ("rename_table", "drop_table"),
        (
            ("SELECT count(*) FROM customers", 0),  # the notes table, under its new name
            ("SELECT count(*) FROM pg_class WHERE relname LIKE '%dropped%'", 0),
        ),
        kept_after_reverse="SELECT count(*) FROM notes",
    ),
    Case(
        "rename table keeps rows and derived names",
        schema(customers()),
        schema(customers(replace={"name: customers": "name: clients"})),
        ("rename_table", "rename_function", "rename_constraint", "rename_index", "rename_trigger"),
        (("SELECT count(*) FROM clients", 2),),
        kept_after_reverse="SELECT count(*) FROM customers",
    ),
    Case(
        "widen text type keeps values",
        schema(customers()),
        schema(customers(replace={"name: nickname, type: single-line-text": "name: nickname, type: long-text"})),
        ("alter_column_type",),
        (("SELECT nickname FROM customers WHERE email = 'a@x.io'", "ann"),),
    ),
    Case(
        "integer to decimal keeps values",
        schema(customers()),
        schema(customers(replace={"name: age, type: integer": "name: age, type: decimal"})),
        ("alter_column_type",),
        (("SELECT age::text FROM customers WHERE email = 'a@x.io'", "31"),),
    ),
    Case(
        "set a default leaves existing rows alone",
        schema(customers()),
        schema(customers(replace={"name: age, type: integer": "name: age, type: integer, default: 18"})),
        ("set_default",),
        (("SELECT count(*) FROM customers WHERE age IS NULL", 1),),
    ),
    Case(
        "required with a default backfills NULLs",
        schema(customers()),
        schema(
            customers(replace={"name: age, type: integer": "name: age, type: integer, required: true, default: 18"})
        ),
        ("set_default", "set_not_null"),
        (("SELECT age FROM customers WHERE email = 'b@x.io'", 18),),
    ),
    Case(
        "add unique",
        schema(customers()),
        schema(
            customers(
                replace={
                    "name: nickname, type: single-line-text": "name: nickname, type: single-line-text, unique: true"
                }
            )
        ),
        ("add_constraint",),
    ),
    Case(
        "add index",
        schema(customers()),
        schema(customers(replace={"name: age, type: integer": "name: age, type: integer, indexed: true"})),
        ("create_index",),
    ),
    Case(
        "add a range check",
        schema(customers()),
        schema(customers(replace={"name: age, type: integer": "name: age, type: integer, min: 0, max: 150"})),
        ("add_constraint",),
    ),
    Case(
        "add a select with options, then its check follows the options",
        schema(customers("{id: 4, name: plan, type: single-select, options: [free, pro]}")),
        schema(customers("{id: 4, name: plan, type: single-select, options: [free, pro, team]}")),
        ("drop_constraint", "add_constraint"),
    ),
    Case(
        "new table referencing an existing one",
        schema(customers()),
        schema(customers(), ORDERS),
        ("create_table",),
        (("SELECT count(*) FROM orders", 0),),
    ),
    Case(
        "drop a table (and its trigger functions)",
        schema(customers(), ORDERS),
        schema(customers()),
        ("drop_table",),
        (("SELECT to_regclass('public.orders') IS NULL", True),),
    ),
    Case(
        "many-to-many adds a junction table",
        schema(customers(), ORDERS),
        schema(
            customers(
                "{id: 4, name: favourites, type: relationship, relatedTable: orders, relationType: many-to-many}"
            ),
            ORDERS,
        ),
        ("create_table",),
        (("SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers_orders'", 1),),
    ),
    Case(
        "a custom check and a partial index are kept as written",
        schema(customers()),
        schema(
            customers(
                table_extra=(
                    '    constraints:\n      - {name: adult_nickname, check: "age IS NULL OR age >= 18"}\n'
                    '    indexes:\n      - {name: idx_adults, fields: [age], where: "age >= 18"}\n'
                )
            )
        ),
        ("add_constraint", "create_index"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_change_round_trips(db: asyncpg.Connection, case: Case) -> None:
    before, after = app(case.before), app(case.after)
    await build(db, before)
    await db.execute(SEED)
    kept = await db.fetchval(case.kept_after_reverse)

    plan = await plan_change(db, before, after)
    assert plan is not None
    ops = tuple(dict.fromkeys(step.op for step in plan.steps))
    assert set(case.expected_ops) <= set(ops), f"got {ops}"
    await run_steps(db, plan.steps)
    assert await differences(db, after) == []
    for query, expected in case.after_forward:
        assert await db.fetchval(query) == expected, query

    await run_steps(db, plan.steps, forward=False)
    assert await differences(db, before) == []
    assert await db.fetchval(case.kept_after_reverse) == kept


async def test_required_without_default_fails_on_existing_nulls_and_changes_nothing(db: asyncpg.Connection) -> None:
    before = app(schema(customers()))
    after = app(schema(customers(replace={"name: age, type: integer": "name: age, type: integer, required: true"})))
    await build(db, before)
    await db.execute(SEED)
    plan = await plan_change(db, before, after)
    assert plan is not None and "fails-on-existing-rows" in plan.hazards
    with pytest.raises(
        asyncpg.NotNullViolationError, match=r'column "age" of relation "customers" contains null values'
    ):
        await run_steps(db, plan.steps)
    assert await differences(db, before) == []


async def test_narrowing_a_type_is_marked_destructive(db: asyncpg.Connection) -> None:
    before = app(
        schema(customers(replace={"name: nickname, type: single-line-text": "name: nickname, type: long-text"}))
    )
    after = app(schema(customers()))
    await build(db, before)
    plan = await plan_change(db, before, after)
    assert plan is not None
    step = next(s for s in plan.steps if s.op == "alter_column_type")
    assert {"data-loss", "narrowing"} <= set(step.hazards)
    assert "USING left(nickname, 255)" in step.forward[0]


async def test_a_foreign_key_cycle_is_created_and_removed(db: asyncpg.Connection) -> None:
    cyclic = schema(
        "\n  - id: 1\n    name: teams\n    fields:\n"
        "      - {id: 1, name: captain, type: relationship, relatedTable: players}\n",
        "\n  - id: 2\n    name: players\n    fields:\n"
        "      - {id: 1, name: team, type: relationship, relatedTable: teams}\n",
    )
    target = app(cyclic)
    plan = await build(db, target)
    assert [s.op for s in plan.steps].count("add_constraint") == 1, "one key of the cycle is added afterwards"
    assert await differences(db, target) == []
    await run_steps(db, plan.steps, forward=False)
    assert await db.fetchval("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == 0


async def test_tables_declared_before_the_tables_they_reference(db: asyncpg.Connection) -> None:
    target = app(schema(ORDERS, customers()))
    plan = await build(db, target)
    created = [s.target for s in plan.steps if s.op == "create_table"]
    assert created.index("customers") < created.index("orders")
    assert await differences(db, target) == []


async def test_renaming_a_table_keeps_its_many_to_many_links(db: asyncpg.Connection) -> None:
    m2m = "{id: 4, name: favourites, type: relationship, relatedTable: %s, relationType: many-to-many}"
    before = app(schema(customers(m2m % "orders"), ORDERS))
    after = app(schema(customers(m2m % "purchases"), ORDERS.replace("name: orders", "name: purchases")))
    await build(db, before)
    await db.execute(SEED)
    await db.execute("INSERT INTO orders (total) VALUES (9.5)")
    await db.execute("INSERT INTO customers_orders SELECT c.id, o.id FROM customers c, orders o")
    plan = await plan_change(db, before, after)
    assert plan is not None and not plan.destructive_steps
    await run_steps(db, plan.steps)
    assert await differences(db, after) == []
    assert await db.fetchval("SELECT count(*) FROM customers_purchases WHERE purchase_id IS NOT NULL") == 2
    await run_steps(db, plan.steps, forward=False)
    assert await differences(db, before) == []
    assert await db.fetchval("SELECT count(*) FROM customers_orders") == 2
