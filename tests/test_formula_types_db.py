"""Formula type mistakes are refused at validation, and only those PostgreSQL itself refuses: random formulas over
typed fields are judged by the validator and by PostgreSQL (the same SQL, stored in a column of the formula's
`resultType`, assigned as a generated column's value is), and every refusal must be one of PostgreSQL's."""

from __future__ import annotations

import json
import random
import re

import asyncpg
import pytest

from sovrium_tui.catalog import compile_app
from sovrium_tui.catalog.formula import column_type, translate
from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.schema import parse_app
from sovrium_tui.schema.model import Field
from tests.roundtrip import build

# The typed fields every formula here reads, and the column each has.
TYPED = {
    "n": ("integer", "integer"),
    "x": ("decimal", "numeric"),
    "s": ("single-line-text", "text"),
    "d": ("date", "date"),
    "ts": ("datetime", "timestamptz"),
    "b": ("checkbox", "boolean"),
    "du": ("duration", "interval"),
    "t": ("time", "time"),
    "l": ("array", "text[]"),
    "j": ("json", "jsonb"),
}
RESULT_TYPES = [None, "decimal", "integer", "boolean", "text", "date", "datetime"]


def _app(formula: str, result_type: str | None) -> str:
    fields: list[dict[str, object]] = [
        {"id": number, "name": name, "type": kind} for number, (name, (kind, _)) in enumerate(TYPED.items(), start=1)
    ]
    fields.append({"id": 99, "name": "f", "type": "formula", "formula": formula})
    if result_type is not None:
        fields[-1]["resultType"] = result_type
    return json.dumps({"name": "typed", "tables": [{"id": 1, "name": "probe", "fields": fields}]})


def _type_refusal(formula: str, result_type: str | None) -> str | None:
    """The validator's refusal of the formula (as `sovrium validate` checks it), or None when it accepts it."""
    try:
        compile_app(parse_app(_app(formula, result_type), source="typed.json"))
    except SchemaInvalid as refused:
        return "; ".join(problem.message for problem in refused.problems)
    return None


async def _postgresql_refusal(db: asyncpg.Connection, formula: str, result_type: str | None) -> str | None:
    """PostgreSQL's refusal of the formula's SQL stored in a column of its result type (an assignment, as a
    generated column and a trigger's are), or None when it takes it. Parsed only: nothing runs."""
    table = parse_app(_app("'x'", result_type), source="typed.json").tables[0]
    field = Field(id=99, name="f", type="formula", formula=formula, result_type=result_type)
    sql = translate(formula, table)
    try:
        async with db.transaction():
            await db.execute(f"CREATE TEMP TABLE target (f {column_type(field)})")
            await db.execute(f"PREPARE probe AS INSERT INTO target (f) SELECT {sql} FROM source")
            await db.execute("DEALLOCATE probe")
            raise _TakenBack
    except asyncpg.PostgresError as refused:
        return str(refused)
    except _TakenBack:
        return None


class _TakenBack(Exception):
    """Ends the probe's transaction without keeping anything."""


@pytest.fixture
async def source(db: asyncpg.Connection) -> asyncpg.Connection:
    columns = ", ".join(f"{name} {sql_type}" for name, (_, sql_type) in TYPED.items())
    await db.execute(f"CREATE TEMP TABLE source ({columns})")
    return db


def _random_formula(rng: random.Random, depth: int = 0) -> str:
    leaves = [*TYPED, "1", "2.5", "'a'", "TRUE", "'2024-01-02'"]
    if depth >= 2 or rng.random() < 0.25:
        return rng.choice(leaves)
    a, b, c = (_random_formula(rng, depth + 1) for _ in range(3))
    shapes = [
        f"{a} + {b}",
        f"{a} - {b}",
        f"{a} * {b}",
        f"{a} / {b}",
        f"{a} = {b}",
        f"{a} > {b}",
        f"{a} AND {b}",
        f"NOT {a}",
        f"{a} || {b}",
        f"UPPER({a})",
        f"LENGTH({a})",
        f"LEFT({a}, 2)",
        f"TRIM({a})",
        f"ROUND({a})",
        f"ABS({a})",
        f"SQRT({a})",
        f"FLOOR({a})",
        f"EXTRACT(YEAR FROM {a})",
        f"COALESCE({a}, {b})",
        f"CASE WHEN {a} THEN {b} ELSE {c} END",
        f"IF({a}, {b}, {c})",
        f"CAST({a} AS text)",
        f"CAST({a} AS integer)",
        f"CONCAT({a}, {b})",
        f"({a})",
        f"{a} LIKE 'a%'",
        f"MOD({a}, {b})",
        f"DATE_TRUNC('month', {a})",
    ]
    return rng.choice(shapes)


async def test_every_type_refusal_is_one_postgresql_makes_too(source: asyncpg.Connection) -> None:
    rng = random.Random(20261201)
    refused = 0
    for _ in range(400):
        formula, result_type = _random_formula(rng), rng.choice(RESULT_TYPES)
        ours = _type_refusal(formula, result_type)
        if ours is None or "not a valid SQL expression" in ours:  # sqlglot's grammar, not a type: judged elsewhere
            continue
        refused += 1
        theirs = await _postgresql_refusal(source, formula, result_type)
        assert theirs is not None, f"{formula} ({result_type}) refused, but PostgreSQL takes it: {ours}"
    assert refused > 100  # the generator reaches the checks


# Every operator and function between fields of every kind: the validator refuses exactly what PostgreSQL refuses.
PAIRED = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / {b}", "{a} || {b}", "{a} = {b}", "{a} < {b}"]
PAIRED += ["{a} IN ({b}, {b})", "{a} BETWEEN {b} AND {b}", "NULLIF({a}, {b})", "COALESCE({a}, {b})"]
PAIRED += ["GREATEST({a}, {b})", "LEAST({a}, {b})", "AGE({a}, {b})"]
SINGLE = ["UPPER({a})", "LENGTH({a})", "LEFT({a}, 2)", "ROUND({a}, 2)", "ABS({a})", "SQRT({a})", "-{a}", "NOT {a}"]
SINGLE += ["EXTRACT(YEAR FROM {a})", "DATE_TRUNC('month', {a})", "{a} LIKE 'a%'", "MOD({a}, 2)", "CONCAT({a}, 'x')"]
SINGLE += ["CASE WHEN {a} THEN 1 ELSE 0 END", "{a} IS NULL", "TO_CHAR({a}, 'YYYY')", "AGE({a})", "INITCAP({a})"]
SINGLE += [f"CAST({{a}} AS {t})" for t in ("text", "integer", "bigint", "numeric", "boolean", "date", "timestamptz")]
SINGLE += [f"CAST({{a}} AS {t})" for t in ("time", "interval")]
NOT_YET_JUDGED = {"CAST(x AS boolean)"}  # a decimal field has no cast to boolean; an integer one has


async def test_every_pair_of_kinds_is_judged_as_postgresql_judges_it(source: asyncpg.Connection) -> None:
    formulas = [shape.format(a=a, b=b) for shape in PAIRED for a in TYPED for b in TYPED]
    formulas += [shape.format(a=a) for shape in SINGLE for a in TYPED]
    disagree = []
    for formula in formulas:
        ours = _type_refusal(formula, "text")  # anything is stored as text: only the expression is judged
        theirs = await _postgresql_refusal(source, formula, "text")
        if (ours is None) != (theirs is None) and formula not in NOT_YET_JUDGED:
            disagree.append(f"{formula}: ours {ours!r}, PostgreSQL's {theirs!r}")
    assert not disagree, "\n".join(disagree)


@pytest.mark.parametrize(
    ("formula", "result_type", "said"),
    [
        ("UPPER(s)", "decimal", "gives text (UPPER(s)), but its resultType decimal holds a number"),
        ("CASE WHEN n > 0 THEN 'yes' ELSE 'no' END", "boolean", "gives text"),
        ("COALESCE(s, 'none')", "integer", "gives text"),
        ("n * 2", "boolean", "gives a number"),
        ("d - d", "date", "gives a number"),
        ("UPPER(n)", None, "UPPER takes text, and n is a number"),
        ("ROUND(s, 2)", None, "ROUND takes a number, and s is text"),
        ("NOT n", None, "NOT takes true/false values, and n is a number"),
        ("IF(n, 'a', 'b')", None, "IF takes a condition, and n is a number"),
        ("CASE WHEN s THEN 1 ELSE 0 END", "integer", "CASE WHEN takes a condition, and s is text"),
        ("s = 1", "boolean", "PostgreSQL cannot compare text with a number (s = 1)"),
        ("b > 0", "boolean", "cannot compare a true/false value with a number"),
        ("n || n", None, "|| joins text, not a number and a number"),
        ("EXTRACT(YEAR FROM s)", "integer", "EXTRACT reads a date, a time or a duration, not text"),
        ("DATE_TRUNC('month', n)", "datetime", "DATE_TRUNC truncates a date, a time, a date and time or a duration"),
        ("DATE_TRUNC('day', b)", "datetime", "DATE_TRUNC truncates a date, a time, a date and time or a duration"),
        ("x LIKE 'a%'", "boolean", "LIKE takes text, and x is a number"),
        ("d ILIKE 'a%'", "boolean", "ILIKE takes text, and d is a date"),
        ("MOD(UPPER(s), 2)", "integer", "% (MOD) takes a number, and UPPER(s) is text"),
        ("du % 2", None, "% (MOD) takes a number, and du is a duration"),
        ("du + 1", None, "PostgreSQL has no operator for a duration + a number"),
        ("(n > 1) * 2", "integer", "PostgreSQL has no operator for a true/false value * a number"),
        ("UPPER(s) + 1", None, "PostgreSQL has no operator for text + a number"),
        ("COALESCE(n, s)", None, "COALESCE mixes a number and text"),
        ("IF(b, s, d)", None, "CASE mixes text and a date"),
        # lists and JSON: no text functions, no arithmetic (JSON's `-` deletes a key), no order with other kinds
        ("UPPER(l)", None, "UPPER takes text, and l is a list"),
        ("LENGTH(l)", "integer", "LENGTH takes text, and l is a list"),
        ("UPPER(l || l)", None, "UPPER takes text, and l || l is a list"),
        ("l + 1", None, '"l" holds a list (array)'),
        ("j * 2", None, '"j" holds JSON (json)'),
        ("(j || j) + 1", None, "PostgreSQL has no operator for JSON + a number"),
        ("ABS(j)", None, "ABS takes a number, and j is JSON"),
        ("l > 1", "boolean", "PostgreSQL cannot compare a list with a number"),
        ("j = n", "boolean", "PostgreSQL cannot compare JSON with a number"),
        ("COALESCE(l, s)", None, "COALESCE mixes a list and text"),
        ("IF(l, 1, 2)", None, "IF takes a condition, and l is a list; compare it instead, e.g. l IS NOT NULL"),
        ("EXTRACT(YEAR FROM j)", "integer", "EXTRACT reads a date, a time or a duration, not JSON"),
        ("l", "decimal", "gives a list (l), but its resultType decimal holds a number"),
        ("j", "boolean", "gives JSON (j), but its resultType boolean holds a true/false value"),
        ("CAST(d AS integer)", None, "PostgreSQL cannot cast a date to a number (CAST(d AS INT)); e.g. EXTRACT("),
        ("CAST(b AS numeric)", None, "PostgreSQL casts a true/false value to an integer only"),
        ("-s", None, "PostgreSQL has no minus sign for text"),
        ("NULLIF(d, s)", None, "PostgreSQL cannot compare a date with text"),
        ("ts IN (1, 2)", "boolean", "PostgreSQL cannot compare a date and time with a number"),
        ("n BETWEEN 1 AND d", "boolean", "PostgreSQL cannot compare a number with a date"),
        ("d + d", None, "PostgreSQL has no operator for a date + a date"),
        ("n / du", None, "PostgreSQL has no operator for a number / a duration"),
        ("COALESCE(t, d)", None, "COALESCE mixes a time and a date"),
        ("d + x", None, '"x" holds a decimal number (decimal)'),
    ],
)
async def test_a_type_mistake_is_refused_with_its_expression_as_postgresql_refuses_it(
    source: asyncpg.Connection, formula: str, result_type: str | None, said: str
) -> None:
    ours = _type_refusal(formula, result_type)
    assert ours is not None and said in ours, ours
    assert await _postgresql_refusal(source, formula, result_type) is not None


@pytest.mark.parametrize(
    ("formula", "result_type"),
    [
        ("n > 1", "boolean"),
        ("ts", "date"),
        ("d", "datetime"),
        ("d + 1", "datetime"),
        ("'2024-01-01'", "date"),
        ("'true'", "boolean"),
        ("n * 2", "text"),
        ("ROUND(n, 2)", "integer"),
        ("s || n", None),
        ("CONCAT(n, b, d)", None),
        ("CASE n WHEN 1 THEN 'one' ELSE 'other' END", None),
        ("CASE WHEN b THEN n ELSE 0 END", "integer"),
        ("COALESCE(n, 0) + x", "decimal"),
        ("d > ts", "boolean"),
        ("EXTRACT(EPOCH FROM du)", "decimal"),
        ("LENGTH(s) > 3 AND b", "boolean"),
        ("t * 2", None),  # a time is a duration since midnight where PostgreSQL needs one
        ("2.5 * t", "text"),
        ("t = du", "boolean"),
        ("COALESCE(d, ts)", "datetime"),
        ("DATE_TRUNC('hour', t)", "text"),  # a time truncates as a duration
        ("du = DATE_TRUNC('month', t)", "boolean"),  # … and compares with one
        ("s LIKE 'a%' AND n % 2 = 1", "boolean"),
        ("x % 2.5", "decimal"),
        ("l || l", None),  # a list appended to a list
        ("l || s", None),  # an element appended to a list
        ("j || j", None),  # JSON merged into JSON
        ("j - 'key'", None),  # a key deleted from JSON
        ("j - 1", None),  # an element deleted from a JSON array
        ("CARDINALITY(l) + 1", "integer"),  # what the list refusal suggests
        ("CAST(j ->> 'key' AS numeric) * 2", "decimal"),  # what the JSON refusal suggests
        ("CONCAT(s, l, j)", None),
        ("l = l", "boolean"),
        ("l", "text"),
        ("j", "text"),
        ("d + t", "datetime"),  # a date at a time
        ("ts - d", None),
        ("CAST(b AS integer)", "integer"),
        ("CAST(j AS numeric)", "decimal"),
        ("CAST(ts AS time)", None),
        ("-du", None),
        ("j - s", None),  # JSON minus a key (a text field)
        ("j - l", None),  # … minus keys
    ],
)
async def test_formulas_postgresql_takes_are_accepted(
    source: asyncpg.Connection, formula: str, result_type: str | None
) -> None:
    assert _type_refusal(formula, result_type) is None
    assert await _postgresql_refusal(source, formula, result_type) is None


async def test_a_formula_computed_by_a_trigger_converts_its_value_through_text(db: asyncpg.Connection) -> None:
    # TO_CHAR makes the formula volatile, so a trigger computes it; PL/pgSQL assigns through text, so the year
    # goes into the integer column (a generated column would have been refused: no cast from text to integer).
    schema = _app("TO_CHAR(d, 'YYYY')", "integer")
    assert _type_refusal("TO_CHAR(d, 'YYYY')", "integer") is None
    await build(db, parse_app(schema, source="typed.json"))
    await db.execute("INSERT INTO probe (d) VALUES ('2024-03-01')")
    assert await db.fetchval("SELECT f FROM probe") == 2024


# A trigger-computed formula (NOW() or a volatile call makes it one) whose value's text never reads as its column's
# kind: PL/pgSQL's assignment fails at every write. (formula, resultType, a value of the formula's kind)
NEVER_STORED = [
    ("DATE_TRUNC('month', ts) + (NOW() - NOW())", "integer", "now()"),
    ("NOW() - ts", "decimal", "interval '1 hour'"),
    ("NOW() > ts", "integer", "true"),
    ("NOW()", "boolean", "now()"),
    ("NOW() > ts", "date", "true"),
    ("CURRENT_TIME::TIME", "datetime", "time '10:00'"),
]


@pytest.mark.parametrize(("formula", "result_type", "value"), NEVER_STORED)
async def test_a_trigger_formula_whose_value_can_never_be_stored_is_refused_as_plpgsql_refuses_it(
    db: asyncpg.Connection, formula: str, result_type: str, value: str
) -> None:
    refusal = _type_refusal(formula, result_type)
    assert refusal is not None and "which its trigger can never store as" in refusal
    sql_type = {"integer": "integer", "decimal": "numeric", "boolean": "boolean", "date": "date"}.get(
        result_type, "timestamptz"
    )
    with pytest.raises(asyncpg.PostgresError):  # PL/pgSQL's assignment: an assignment cast, else through text
        await db.execute(f"DO $$ DECLARE v {sql_type}; BEGIN v := ({value}); END $$")


# --- rollups: an aggregation PostgreSQL has for the related field's values ---------------------------------------


def _rollup_app(related_type: str) -> str:
    return json.dumps(
        {
            "name": "rolled",
            "tables": [
                {"id": 1, "name": "projects", "fields": [{"id": 1, "name": "title", "type": "single-line-text"}]},
                {
                    "id": 2,
                    "name": "tasks",
                    "fields": [
                        {"id": 1, "name": "value", "type": related_type},
                        {"id": 2, "name": "project", "type": "relationship", "relatedTable": "projects"},
                    ],
                },
            ],
        }
    )


def _with_rollup(text: str, aggregation: str) -> str:
    document = json.loads(text)
    rollup = {"id": 2, "name": "total", "type": "rollup", "relationshipField": "tasks", "relatedField": "value"}
    tasks = {"id": 3, "name": "tasks", "type": "relationship", "relatedTable": "tasks", "relationType": "one-to-many"}
    document["tables"][0]["fields"] += [tasks, {**rollup, "id": 4, "aggregation": aggregation}]
    return json.dumps(document)


@pytest.mark.parametrize(
    ("related_type", "aggregation", "sql_type", "said"),
    [
        ("single-line-text", "SUM", "varchar", "SUM adds numbers"),
        ("duration", "SUM", "interval", "SUM adds numbers"),  # an empty sum is 0, which no duration is
        ("date", "AVG", "date", "AVG averages numbers or durations"),
        ("checkbox", "MAX", "boolean", "MAX needs values in an order"),
        ("array", "SUM", "text[]", "SUM adds numbers"),
        ("json", "MIN", "jsonb", "MIN needs values in an order"),
    ],
)
async def test_a_rollup_postgresql_has_no_aggregate_for_is_refused(
    db: asyncpg.Connection, related_type: str, aggregation: str, sql_type: str, said: str
) -> None:
    with pytest.raises(SchemaInvalid, match=said):
        parse_app(_with_rollup(_rollup_app(related_type), aggregation), source="rolled.json")
    empty = "0" if aggregation == "SUM" else "NULL"
    with pytest.raises(asyncpg.PostgresError):
        await db.execute(f"SELECT COALESCE({aggregation}(v), {empty}) FROM (SELECT NULL::{sql_type} AS v) AS t")


@pytest.mark.parametrize(
    ("related_type", "aggregation"),
    [
        ("integer", "SUM"),
        ("duration", "AVG"),
        ("date", "MAX"),
        ("single-line-text", "MIN"),
        ("checkbox", "COUNTA"),
        ("array", "MAX"),  # lists are in an order (element by element)
    ],
)
async def test_a_rollup_postgresql_can_aggregate_applies(
    db: asyncpg.Connection, related_type: str, aggregation: str
) -> None:
    target = parse_app(_with_rollup(_rollup_app(related_type), aggregation), source="rolled.json")
    await build(db, target)
    await db.execute("INSERT INTO projects (title) VALUES ('p')")
    assert await db.fetchval("SELECT count(*) FROM projects") == 1


async def test_a_count_whose_back_reference_points_at_a_third_table_is_refused(db: asyncpg.Connection) -> None:
    document = {
        "name": "org",
        "tables": [
            {
                "id": 1,
                "name": "employees",
                "fields": [
                    {"id": 1, "name": "title", "type": "single-line-text"},
                    {"id": 2, "name": "manager", "type": "relationship", "relatedTable": "employees"},
                ],
            },
            {
                "id": 2,
                "name": "teams",
                "primaryKey": {"type": "uuid"},
                "fields": [
                    {"id": 1, "name": "manager", "type": "relationship", "relatedTable": "employees"},
                    {"id": 2, "name": "reports", "type": "count", "relationshipField": "manager"},
                ],
            },
        ],
    }
    with pytest.raises(SchemaInvalid, match=r'column "employees.manager" points at "employees", not back at this'):
        parse_app(json.dumps(document), source="org.json")
    # What the view would have compared: this table's uuid ids with another table's integer ids.
    await db.execute("CREATE TABLE employees (id serial PRIMARY KEY, manager integer)")
    with pytest.raises(asyncpg.UndefinedFunctionError, match="operator does not exist: integer = uuid"):
        await db.execute(
            "SELECT (SELECT count(*) FROM employees e WHERE e.manager = t.id) FROM (SELECT gen_random_uuid() AS id) t"
        )


def _counted_owners(owner_field: dict[str, object] | None) -> str:
    """tasks.owner is a many-to-one relationship to people; tasks.watchers counts the people whose column named
    like the relationship (`people.owner`, Sovrium's back-reference rule) holds the task's id."""
    people: list[dict[str, object]] = [{"id": 1, "name": "name", "type": "single-line-text"}]
    if owner_field is not None:
        people.append({"id": 2, "name": "owner", **owner_field})
    return json.dumps(
        {
            "name": "work",
            "tables": [
                {"id": 1, "name": "people", "fields": people},
                {
                    "id": 2,
                    "name": "tasks",
                    "fields": [
                        {"id": 1, "name": "owner", "type": "relationship", "relatedTable": "people"},
                        {"id": 2, "name": "watchers", "type": "count", "relationshipField": "owner"},
                    ],
                },
            ],
        }
    )


@pytest.mark.parametrize(
    ("owner_field", "holds"),
    [({"type": "single-line-text"}, "character varying(255)"), ({"type": "date"}, "date")],
)
def test_a_count_whose_back_reference_cannot_hold_this_tables_ids_is_refused(
    owner_field: dict[str, object], holds: str
) -> None:
    expected = (
        f'Count field "tasks.watchers": the related table\'s column "people.owner" ({holds}) cannot hold this '
        'table\'s "id" (integer), so the two cannot be matched; set foreignKey on the relationship "owner"'
    )
    with pytest.raises(SchemaInvalid, match=re.escape(expected)):
        compile_app(parse_app(_counted_owners(owner_field), source="work.json"))


def test_a_count_whose_back_reference_is_a_system_timestamp_is_refused() -> None:
    document = json.loads(_counted_owners(None))
    tasks = document["tables"][1]
    tasks["fields"][0]["name"] = tasks["fields"][1]["relationshipField"] = "updated_at"
    with pytest.raises(SchemaInvalid, match=r'"people.updated_at" \(timestamp with time zone\) cannot hold'):
        compile_app(parse_app(json.dumps(document), source="work.json"))


@pytest.mark.parametrize("owner_type", ["integer", "decimal"])
async def test_a_count_whose_back_reference_holds_numbers_applies_and_counts(
    db: asyncpg.Connection, owner_type: str
) -> None:
    await build(db, parse_app(_counted_owners({"type": owner_type}), source="work.json"))
    await db.execute("INSERT INTO tasks (owner) VALUES (NULL)")
    await db.execute("INSERT INTO people (name, owner) VALUES ('a', 1), ('b', 1), ('c', 2)")
    assert await db.fetchval("SELECT watchers FROM tasks") == 2


def _formatted(formula: str) -> str:
    return json.dumps(
        {
            "name": "dates",
            "tables": [
                {
                    "id": 1,
                    "name": "events",
                    "fields": [
                        {"id": 1, "name": "d", "type": "date"},
                        {"id": 2, "name": "t", "type": "time"},
                        {"id": 3, "name": "du", "type": "duration"},
                        {"id": 4, "name": "tags", "type": "multi-select", "options": ["a", "b"]},
                        {"id": 5, "name": "made", "type": "created-at"},
                        {"id": 6, "name": "n", "type": "integer"},
                        {"id": 7, "name": "shown", "type": "formula", "formula": formula, "resultType": "text"},
                    ],
                }
            ],
        }
    )


@pytest.mark.parametrize(
    ("formula", "shown"),
    [
        ("d::TEXT", "2024-05-06"),
        ("CAST(d AS TEXT)", "2024-05-06"),
        ("'due ' || d", "due 2024-05-06"),
        ("t::TEXT", "10:30:00"),
        ("du::TEXT", "01:30:00"),
        ("tags::TEXT", "{a,b}"),
        ("LEFT(made::TEXT, 2)", "20"),
        ("'n' || n", "n7"),
    ],
)
async def test_a_date_time_duration_or_list_shown_as_text_applies_and_is_computed(
    db: asyncpg.Connection, formula: str, shown: str
) -> None:
    """PostgreSQL's text for these follows the session's styles (or TO_CHAR, which Sovrium writes for dates), so no
    generated column can hold it: the formula is computed by a trigger instead. Numbers keep a generated column."""
    app = parse_app(_formatted(formula), source="dates.json")
    await build(db, app)
    await db.execute("INSERT INTO events (d, t, du, tags, n) VALUES ('2024-05-06', '10:30', '90 minutes', '{a,b}', 7)")
    assert await db.fetchval("SELECT shown FROM events") == shown
    generated = await db.fetchval(
        "SELECT attgenerated <> '' FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'shown'"
    )
    assert generated == (formula == "'n' || n")
