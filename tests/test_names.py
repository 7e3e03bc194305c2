"""Sovrium's name rules, word by word (interop §2): its 75 reserved words are refused, every other keyword-like
name is accepted, quoted wherever SQL is written, and works on a real database, triggers included."""

from __future__ import annotations

import json

import asyncpg
import pytest

from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.identifiers import QUOTED_KEYWORDS, quote_ident, requote_identifiers
from sovrium_tui.planning.statements import statement_problem
from sovrium_tui.schema import parse_app
from sovrium_tui.schema.model import physical_table_name
from sovrium_tui.schema.names import RESERVED_WORDS
from tests.roundtrip import app, build, differences, run_steps

# src/domain/validators/database-identifier.ts, SQL_RESERVED_KEYWORDS, in Sovrium's order.
SOVRIUM_RESERVED = """
select insert update delete from where join inner outer left right full cross on as table create alter drop
truncate add column constraint primary foreign key references unique index view database schema grant revoke
transaction commit rollback union intersect except group having order limit offset distinct all any some exists
in between like ilike and or not null is true false case when then else end cast default check user current_user
session_user current_date current_time current_timestamp
""".split()

# Words PostgreSQL (15 or 18) quotes as names but Sovrium allows: each must work as a table and a field name.
KEYWORD_LIKE = sorted(QUOTED_KEYWORDS - RESERVED_WORDS)


def test_exactly_sovriums_75_words_are_reserved() -> None:
    assert len(SOVRIUM_RESERVED) == 75
    assert frozenset(SOVRIUM_RESERVED) == RESERVED_WORDS
    assert {"values", "position", "time", "json", "row", "interval", "with", "only"} <= set(KEYWORD_LIKE)


def one_table(table_name: str = "things", field_name: str = "title") -> str:
    table, field = json.dumps(table_name), json.dumps(field_name)
    return f"name: app\ntables:\n  - name: {table}\n    fields:\n      - {{name: {field}, type: integer}}\n"


def problem_of(text: str) -> str:
    with pytest.raises(SchemaInvalid) as caught:
        parse_app(text)
    (problem,) = caught.value.problems
    return problem.message


@pytest.mark.parametrize("word", SOVRIUM_RESERVED)
def test_each_reserved_word_is_refused_as_a_field_name(word: str) -> None:
    assert problem_of(one_table(field_name=word)) == (
        f"Cannot use reserved SQL keyword '{word}' as field name. Reserved keywords like SELECT, INSERT, UPDATE, "
        "DELETE, etc. are restricted to prevent SQL syntax conflicts. Choose a descriptive alternative name "
        "(e.g., 'user_record' instead of 'user', 'selection' instead of 'select')."
    )


@pytest.mark.parametrize("word", SOVRIUM_RESERVED)
def test_each_reserved_word_is_refused_as_a_table_name_however_it_is_written(word: str) -> None:
    spellings = {
        word,
        word.upper(),
        word.title(),
        f" {word} ",
        f"{word}-",
        word.replace("_", " "),
        word.replace("_", "-"),
    }
    for name in spellings:
        assert problem_of(one_table(table_name=name)) == (
            f"Table name '{name}' resolves to reserved SQL keyword '{word}'. Reserved keywords like SELECT, INSERT, "
            "UPDATE, DELETE, etc. are restricted to prevent SQL syntax conflicts. Choose a different name."
        )


@pytest.mark.parametrize("word", KEYWORD_LIKE)
def test_each_keyword_sovrium_allows_is_accepted(word: str) -> None:
    (table,) = parse_app(one_table(table_name=word, field_name=word)).tables
    assert (table.physical_name, table.fields[0].name) == (word, word)


@pytest.mark.parametrize(
    ("name", "physical"),
    [
        ("Order Items", "order_items"),
        ("my-table", "my_table"),
        ("  Spaced   Out  ", "spaced_out"),
        ("a\tb", "a_b"),
        ("Users--2024", "users_2024"),
        ("Select Options", "select_options"),  # a reserved word inside a longer name is fine
    ],
)
def test_table_names_with_spaces_and_hyphens_are_sanitised_as_sovrium_does(name: str, physical: str) -> None:
    (table,) = parse_app(one_table(table_name=name)).tables
    assert (table.name, table.physical_name) == (name, physical)
    assert physical_table_name(name) == physical


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1users", "Invalid table name '1users': name must start with a letter"),
        (" 2users", "Invalid table name ' 2users': name must start with a letter"),
        ("_users", "Invalid table name '_users': name must start with a letter and contain only letters, numbers, "),
        ("user.s", "Invalid table name 'user.s': name must start with a letter and contain only letters, numbers, "),
        ("t" * 64, "Maximum length is 63 characters"),
        ("", "This field is required"),
    ],
)
def test_other_table_name_rules_keep_sovriums_words(name: str, message: str) -> None:
    assert problem_of(one_table(table_name=name)).startswith(message)


def test_sanitised_names_that_collide_are_refused() -> None:
    text = (
        "name: app\ntables:\n  - {name: Order Items, fields: [{name: a, type: integer}]}\n"
        "  - {name: order-items, fields: [{name: a, type: integer}]}\n"
    )
    assert problem_of(text) == "Table names must be unique within the schema"


# ---------------------------------------------------------------------------------------------------------------
# On a real database


_VARIANTS = (
    "type: single-line-text",
    "type: integer, min: 0, max: 10",
    "type: single-select, options: [a, b]",
    "type: single-line-text, indexed: true",
    "type: single-line-text, unique: true",
)
# Fields the generated triggers write by name, and two the test below writes to.
_CHOSEN = {
    "timestamp": "type: created-at",
    "window": "type: updated-at",
    "fetch": "type: autonumber",
    "both": "type: updated-by",
    "position": "type: integer, min: 0, max: 10",
    "time": "type: single-line-text",
}


def keyword_app() -> str:
    """Table `values` with every keyword-like word as a field, constraints, indexes and triggers on them; and a
    table named after every other keyword-like word, each with its automatic timestamp triggers."""
    lines = ["name: keywords", "tables:", "  - id: 1", "    name: values", "    fields:"]
    for number, word in enumerate(KEYWORD_LIKE, start=1):
        spec = _CHOSEN.get(word, _VARIANTS[number % len(_VARIANTS)])
        lines.append(f"      - {{id: {number}, name: {word}, {spec}}}")
    others = [word for word in KEYWORD_LIKE if word != "values"]
    for number, word in enumerate(others, start=2):
        lines += [
            f"  - id: {number}",
            f"    name: {word}",
            "    fields:",
            "      - {id: 1, name: label, type: long-text}",
        ]
    return "\n".join(lines) + "\n"


async def test_keyword_like_names_are_migrated_and_their_triggers_fire(db: asyncpg.Connection) -> None:
    target = app(keyword_app())
    assert len(target.tables) == len(KEYWORD_LIKE)
    plan = await build(db, target)
    statements = [sql for step in plan.steps for sql in (*step.forward, *step.reverse)]
    assert [(sql, problem) for sql in statements if (problem := statement_problem(sql)) is not None] == []
    assert await differences(db, target) == [], "the database reads back exactly what was compiled"

    values = quote_ident("values")
    await db.execute(f"INSERT INTO public.{values} ({quote_ident('position')}, {quote_ident('time')}) VALUES (5, 'x')")
    row = await db.fetchrow(f"SELECT * FROM public.{values}")
    assert row["position"] == 5 and row["time"] == "x"
    assert row["timestamp"] is not None and row["fetch"] == 1, "created-at and autonumber triggers fired"
    await db.execute(
        f"UPDATE public.{values} SET {quote_ident('timestamp')} = '2000-01-01', {quote_ident('fetch')} = 99, "
        f"{quote_ident('both')} = 'someone'"
    )
    after = await db.fetchrow(f"SELECT * FROM public.{values}")
    assert (after["timestamp"], after["fetch"]) == (row["timestamp"], 1), "immutable columns kept by their triggers"
    assert after["window"] >= row["window"] and after["both"] == "someone"
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(f"INSERT INTO public.{values} ({quote_ident('position')}) VALUES (11)")

    for word in KEYWORD_LIKE:
        if word != "values":
            await db.execute(f"INSERT INTO public.{quote_ident(word)} (label) VALUES ($1)", word)
            assert await db.fetchval(f"SELECT created_at FROM public.{quote_ident(word)}") is not None

    await run_steps(db, plan.steps, forward=False)
    assert await db.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


def test_names_an_older_server_prints_bare_are_quoted_as_ours() -> None:
    # PostgreSQL 15 does not reserve `json`; 18 does, and prints it quoted. Literals, casts and calls stay.
    pg15 = "CHECK (((json >= 0) AND (json_object(x) IS NOT NULL) AND ('json'::text = (json)::text) AND (y::json = z)))"
    assert requote_identifiers(pg15, frozenset({"json", "json_object"})) == (
        'CHECK ((("json" >= 0) AND (json_object(x) IS NOT NULL) AND (\'json\'::text = ("json")::text) '
        "AND (y::json = z)))"
    )
    # A word the server quotes and we do not is unquoted; other names are untouched.
    assert requote_identifiers('UNIQUE ("recheck", "Mixed")', frozenset({"recheck"})) == 'UNIQUE (recheck, "Mixed")'
    assert requote_identifiers("UNIQUE (json)", frozenset()) == "UNIQUE (json)"
