"""Plan SQL read with PostgreSQL's own parser: what may be in a plan, and what a statement can destroy.

Also the promise the planner relies on when it writes plans without parsing them again: every statement the
renderer writes, forward and reverse, for every change kind and every field type, is one valid statement.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from sovrium_tui.catalog import compile_app
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.planning.diff import diff
from sovrium_tui.planning.planner import steps_for
from sovrium_tui.planning.render import forward_sql, reverse_sql
from sovrium_tui.planning.statements import analyse, generated_facts, statement_problem
from tests.test_compile import FIELD_CASES, RELATED, one_table_app
from tests.test_diff import CASES


def _every_field_type_app() -> Catalog:
    fields = [replace(case[0], id=n + 1, name=f"f{n}") for n, case in enumerate(FIELD_CASES)]
    return compile_app(one_table_app(*fields, others=RELATED))


def test_every_statement_the_renderer_writes_for_every_field_type_parses() -> None:
    catalog = _every_field_type_app()
    steps = steps_for(diff(Catalog(), catalog)) + steps_for(diff(catalog, Catalog()))
    statements = [s for step in steps for s in (*step.forward, *step.reverse)]
    assert len(statements) > 50
    assert [(s, statement_problem(s)) for s in statements if statement_problem(s)] == []


@pytest.mark.parametrize(("current", "desired", "renames"), [c[1:4] for c in CASES], ids=[c[0] for c in CASES])
def test_every_change_kind_renders_statements_that_parse(current: Catalog, desired: Catalog, renames: object) -> None:
    for change in diff(current, desired, renames):  # type: ignore[arg-type]
        for statement in (*forward_sql(change), *reverse_sql(change)):
            assert statement_problem(statement) is None, statement


def test_generated_statements_taken_as_written_are_those_analysis_finds_nothing_in() -> None:
    """`apply` does not parse again what the tool wrote to create (digest intact); analysed, it finds no problem,
    effect nor relation there, and every other statement is still analysed."""
    catalog = _every_field_type_app()
    steps = steps_for(diff(Catalog(), catalog)) + steps_for(diff(catalog, Catalog()))
    statements = [s for step in steps for s in (*step.forward, *step.reverse)]
    taken = [s for s in statements if generated_facts(s) is not analyse(s)]
    assert len(taken) > 20 and len(taken) < len(statements)
    for statement in taken:
        facts = analyse(statement)
        assert (facts.problem, facts.effects, facts.relations) == (None, (), ()), statement
    for statement in statements:
        if statement not in taken:
            assert generated_facts(statement) == analyse(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)",
        "DROP TABLE t",
        "ALTER TABLE t DROP COLUMN c",
        "CREATE CONSTRAINT TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
        "create table t (a int)",  # not how the tool writes it
        # a plan whose digest was forged over a statement smuggled after a creation
        "CREATE TABLE a (b int); DROP TABLE c",
        "CREATE TABLE a (b text DEFAULT 'x;y'); DROP TABLE c",
        'CREATE TABLE a ("b;" int);DROP TABLE c',
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; DROP TABLE c",
        "CREATE TABLE a (b text DEFAULT E'it\\'s'); DROP TABLE c",
        "CREATE TABLE a (b int) /* ; */",
        "CREATE TABLE a (b text DEFAULT 'open)",
        "CREATE TRIGGER t BEFORE DELETE ON system.migration_history FOR EACH ROW EXECUTE FUNCTION f()",
        "CREATE INDEX i ON a (b) WHERE current_setting('standard_conforming_strings') = 'on'",
        # quotes that only seem to pair up: a dollar-quoted body or a comment holds one of them
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$SELECT 'it''s'$$; DROP TABLE c; SELECT '",
        "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$SELECT 'x$$; DROP TABLE c; SELECT $$'$$",
        "CREATE TABLE a (b int) -- it's\n; DROP TABLE c; SELECT '",
    ],
)
def test_what_the_tool_never_writes_to_create_is_still_analysed(statement: str) -> None:
    assert generated_facts(statement) is analyse(statement)


@pytest.mark.parametrize(
    "statement",
    [
        'CREATE TABLE a (b text DEFAULT \'x;y\', "c ""d""" int)',
        "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN\n  NEW.a := ''x'';\n"
        "  RETURN NEW;\nEND;'",
        "COMMENT ON COLUMN a.b IS 'it''s -- not a comment; nor /* this */'",
        "CREATE INDEX idx_t_a ON public.t USING btree (a)",
        "CREATE TABLE t (c text, CONSTRAINT check_c CHECK ((c ~ '^#[0-9a-f]{6}$'::text)))",
        "CREATE UNIQUE INDEX t_a_key ON public.t (lower(a)) WHERE (a IS NOT NULL)",
        "CREATE TRIGGER tr BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.f()",
    ],
)
def test_creations_written_as_the_tool_writes_them_are_taken_as_written(statement: str) -> None:
    assert generated_facts(statement) is not analyse(statement)
    assert analyse(statement).problem is None and not analyse(statement).effects


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("", "empty statement"),
        ("-- a comment only", "only comments"),
        ("SELECT 1; SELECT 2", "more than one statement"),
        ("SELEC 1", 'syntax error at or near "SELEC" at character 1'),
        ("SELECT 1\nFROM WHERE", 'syntax error at or near "WHERE" at line 2, column 6'),
        ("COMMIT", "transaction control (COMMIT)"),
        ("CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
        ("VACUUM t", "VACUUM cannot run inside a transaction block"),
        ("COPY t FROM STDIN", "needs a client data stream"),
        ("SET standard_conforming_strings = off", "standard_conforming_strings"),
        ("RESET ALL", "RESET ALL is not allowed"),
    ],
)
def test_what_cannot_be_in_a_plan_says_why(statement: str, problem: str) -> None:
    reason = statement_problem(statement)
    assert reason is not None and problem in reason, reason


@pytest.mark.parametrize(
    ("statement", "kinds"),
    [
        ("CREATE TABLE t (a int)", []),
        ("CREATE INDEX i ON t (a)", []),
        ("ALTER TABLE t ADD COLUMN b int", []),
        ("DROP TABLE t", ["drop_table"]),
        ("DROP TABLE IF EXISTS a, s.b CASCADE", ["drop_table", "drop_table"]),
        ("ALTER TABLE t DROP COLUMN c", ["drop_column"]),
        ("ALTER TABLE t ALTER COLUMN c TYPE int USING c::int", ["alter_type"]),
        ("ALTER TABLE t ADD CONSTRAINT k CHECK (a > 0)", ["add_check"]),
        ("ALTER TABLE t ADD CONSTRAINT k CHECK (a > 0) NOT VALID", []),
        ("TRUNCATE a, b", ["truncate", "truncate"]),
        ("DELETE FROM t WHERE a = 1", ["delete"]),
        ("UPDATE t SET a = 1 WHERE a IS NULL", []),  # a backfill: only empty values are written
        ("UPDATE t SET a = 1, b = 2 WHERE t.a IS NULL AND b IS NULL AND id > 3", []),
        ("UPDATE t SET a = 1, b = 2 WHERE a IS NULL", ["update"]),  # b may hold a value
        ("UPDATE t SET a = 1 WHERE a IS NULL OR id = 1", ["update"]),
        ("UPDATE t SET a = 1 FROM u WHERE a IS NULL", ["update"]),
        ("UPDATE t SET a = 1 WHERE a = 2", ["update"]),
        ("WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", ["delete"]),
        ("INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2", ["update"]),
        ("DO $$ BEGIN NULL; END $$", ["opaque"]),
        ("CALL archive()", ["opaque"]),
        ("SELECT purge_everything()", ["opaque"]),
        ("SELECT setval('s', 10)", []),
        ("DROP SCHEMA s CASCADE", ["opaque"]),
        ("DROP SCHEMA s", []),
        ("MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE", ["opaque"]),
    ],
)
def test_what_a_statement_can_destroy_comes_from_the_statement(statement: str, kinds: list[str]) -> None:
    facts = analyse(statement)
    assert facts.problem is None
    assert [effect.kind for effect in facts.effects] == kinds


def test_effects_carry_what_counting_needs() -> None:
    [change] = analyse("ALTER TABLE public.customers ALTER COLUMN name TYPE varchar(10) USING left(name, 10)").effects
    assert (change.relation and change.relation.sql, change.column, change.expression) == (
        "public.customers",
        "name",
        "varchar(10)",
    )
    assert change.using is not None and "left" in change.using
    [update] = analyse("UPDATE items AS i SET note = upper(i.title), n = DEFAULT WHERE i.id > 3").effects
    assert (update.alias, update.expression, update.countable) == ("i", "i.id > 3", False)
    assert update.assignments == (("note", "upper(i.title)"), ("n", None))


def test_relations_a_statement_changes_are_the_ones_locked_first() -> None:
    assert [r.sql for r in analyse('ALTER TABLE public."order" ADD COLUMN x int').relations] == ['public."order"']
    assert [r.sql for r in analyse("ALTER INDEX i RENAME TO j").relations] == []
    assert [r.sql for r in analyse("CREATE TABLE t (a int)").relations] == []
    assert [r.sql for r in analyse("INSERT INTO log SELECT 1").relations] == ["log"]


def test_the_bookkeeping_a_step_may_not_change_is_every_table_the_store_creates() -> None:
    from sovrium_tui.execution.store import CREATE_STATEMENTS, SYSTEM_SCHEMA
    from sovrium_tui.planning.statements import BOOKKEEPING_SCHEMA, BOOKKEEPING_TABLES

    created = {
        m.group(1) for s in CREATE_STATEMENTS for m in re.finditer(r"CREATE TABLE IF NOT EXISTS system\.(\w+)", s)
    }
    assert SYSTEM_SCHEMA == BOOKKEEPING_SCHEMA
    assert created == set(BOOKKEEPING_TABLES)
