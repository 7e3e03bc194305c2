"""Inputs a fuzzer found crashing or misleading the offline commands: each is now one readable error and a
non-zero exit (or, where the input is sound, a plan that works), through the real `sovrium` command."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sovrium_tui import services
from sovrium_tui.catalog.model import Column, Constraint, Table
from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.planning.changes import CreateTable
from sovrium_tui.planning.render import forward_sql
from sovrium_tui.planning.statements import analyse
from tests.acceptance_support import run_sovrium

TABLE = "name: shop\ntables:\n  - id: 1\n    name: items\n    fields:\n"


def _schema(tmp_path: Path, fields: str, extra: str = "") -> Path:
    schema = tmp_path / "app.yaml"
    schema.write_text(TABLE + fields + extra)
    return schema


# --- files the schema names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "shown"), [('"t\\u0000.yaml"', "t\\x00.yaml"), ('"\\ud800.yaml"', "\\ud800.yaml")]
)
def test_a_reference_no_file_can_have_is_reported_not_raised(tmp_path: Path, reference: str, shown: str) -> None:
    (tmp_path / "app.json").write_text(f'{{"name": "shop", "tables": [{{"$ref": {reference}}}]}}')
    result = run_sovrium("validate", "app.json", cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.error_lines
    assert line.endswith(f"tables[0].$ref: Referenced file not found: {shown} (no file can have this name)")


def test_a_reference_to_a_device_is_refused_instead_of_read_forever(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "app.yaml").write_text("name: shop\ntables:\n  - $ref: ./zero.yaml\n")
    result = run_sovrium("validate", "app.yaml", cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    assert "Cannot read referenced file zero.yaml: not a file (a device or a socket)" in result.stderr
    device = run_sovrium("validate", "/dev/zero", cwd=tmp_path, timeout=30)
    assert device.error_lines == ["error: /dev/zero: Cannot read the schema file: not a file (a device or a socket)"]


def test_a_schema_read_from_a_pipe_works_and_a_pipe_nobody_writes_to_does_not_hang(tmp_path: Path) -> None:
    fed, idle = tmp_path / "fed.yaml", tmp_path / "idle.yaml"
    os.mkfifo(fed)
    os.mkfifo(idle)
    text = TABLE + "      - {id: 1, name: title, type: single-line-text}\n"
    writer = threading.Thread(target=fed.write_text, args=(text,))
    writer.start()
    result = run_sovrium("validate", "fed.yaml", cwd=tmp_path, timeout=30)
    writer.join()
    assert result.returncode == 0, result
    assert "valid — app 'shop', 1 table, 1 field" in result.stdout
    nobody = run_sovrium("validate", "idle.yaml", cwd=tmp_path, timeout=30)
    assert nobody.error_lines == ["error: idle.yaml: The schema file is empty"]


def test_a_plans_directory_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    _schema(tmp_path, "      - {id: 1, name: title, type: single-line-text}\n")
    (tmp_path / "afile").write_text("not a directory")
    result = run_sovrium("plan", "app.yaml", "--offline", "--plans", "afile/plans", cwd=tmp_path)
    assert result.returncode != 0
    assert result.error_lines == [
        "error: afile/plans/0001_new_table_items.yaml: cannot write the plan file: Not a directory: afile/plans"
    ]
    assert not list(tmp_path.glob("**/.*.partial"))


# --- SQL a schema holds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "extra", "message"),
    [
        (
            "      - {id: 1, name: f, type: formula, formula: \"E'\\\\x00'\"}\n",
            "",
            'tables[0].fields[0].formula: Formula of field "f": the formula is not valid PostgreSQL: '
            'invalid byte sequence for encoding "UTF8": 0x00',
        ),
        (
            "      - {id: 1, name: f, type: single-line-text}\n",
            "    constraints:\n      - {name: c, check: \"f <> E'\\\\x00'\"}\n",
            'tables[0].constraints[0].check: check is not valid PostgreSQL: invalid byte sequence for encoding "UTF8"',
        ),
        (
            "      - {id: 1, name: f, type: single-line-text}\n",
            "    views:\n      - {id: v, name: v, query: \"SELECT E'\\\\x00' AS x\"}\n",
            'tables[0].views[0].query: View "v": query is not valid PostgreSQL: invalid byte sequence',
        ),
    ],
)
def test_an_escape_postgresql_cannot_read_is_refused_by_validation(
    tmp_path: Path, fields: str, extra: str, message: str
) -> None:
    """`E'\\x00'` passes sqlglot; PostgreSQL's lexer refuses it, and a plan would have crashed writing it."""
    _schema(tmp_path, fields, extra)
    for command in (["validate", "app.yaml"], ["plan", "app.yaml", "--offline"]):
        result = run_sovrium(*command, cwd=tmp_path)
        assert result.returncode == 1
        assert message in result.stderr
    assert not (tmp_path / "plans").exists()


def test_sql_the_lexer_refuses_never_reaches_a_plan_even_past_validation() -> None:
    table = Table(
        "items",
        (Column("id", "integer", nullable=False),),
        constraints=(Constraint("items_c_check", "check", "CHECK ((id <> E'\\x00'::integer))", ("id",)),),
    )
    with pytest.raises(SchemaInvalid, match="items: PostgreSQL cannot read the SQL written for it"):
        forward_sql(CreateTable(table))


def _sum_of(terms: int) -> str:
    return " + ".join(["f"] * terms)


def test_a_deeply_nested_check_plans_re_hashes_and_is_read_again(tmp_path: Path) -> None:
    """600 terms nest 1,200 levels deep in the parse tree, past Python's default recursion limit."""
    _schema(
        tmp_path,
        "      - {id: 1, name: f, type: integer}\n",
        f'    constraints:\n      - {{name: c, check: "{_sum_of(600)} > 0"}}\n',
    )
    assert run_sovrium("plan", "app.yaml", "--offline", cwd=tmp_path).returncode == 0
    (plan,) = (tmp_path / "plans").glob("0001_*.yaml")
    rehashed = run_sovrium("plan", "--rehash", plan, cwd=tmp_path)
    assert rehashed.returncode == 0, rehashed
    assert run_sovrium("show", plan, cwd=tmp_path).returncode == 0
    assert run_sovrium("check", "app.yaml", cwd=tmp_path).returncode == 0


def test_a_check_nested_too_deeply_to_read_is_refused_by_validation(tmp_path: Path) -> None:
    _schema(
        tmp_path,
        "      - {id: 1, name: f, type: integer}\n",
        f'    constraints:\n      - {{name: c, check: "{_sum_of(3000)} > 0"}}\n',
    )
    result = run_sovrium("validate", "app.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "tables[0].constraints[0].check: check nests too deeply for this tool to read" in result.stderr


async def test_a_deeply_nested_check_applies_on_postgresql(database_url: str, tmp_path: Path) -> None:
    schema = _schema(
        tmp_path,
        "      - {id: 1, name: f, type: integer}\n",
        f'    constraints:\n      - {{name: c, check: "{_sum_of(600)} > 0"}}\n',
    )
    outcome = await services.migrate(schema, database_url=database_url)
    assert outcome.status == "migrated"


def test_a_statement_nested_too_deeply_is_a_problem_not_a_crash() -> None:
    deep = "SELECT " + " + ".join(["1"] * 4000)
    assert analyse(f"INSERT INTO public.t (a) {deep}").problem is not None
    assert analyse(f"INSERT INTO public.t (a) {' UNION ALL '.join(['SELECT 1'] * 200)}").problem is None


def test_a_statement_with_a_nul_is_refused_whatever_follows() -> None:
    """PostgreSQL's parser stops at a NUL: `SELECT 1` would have been checked and the rest sent on."""
    problem = analyse("SELECT 1\x00; DROP TABLE important").problem
    assert problem == "holds a NUL character, which PostgreSQL cannot take in a statement"


# --- plan files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["1.5", "? [1]", "2"])
def test_a_plan_snapshot_with_a_key_that_is_not_text_is_an_invalid_plan(tmp_path: Path, key: str) -> None:
    _schema(tmp_path, "      - {id: 1, name: title, type: single-line-text}\n")
    assert run_sovrium("plan", "app.yaml", "--offline", cwd=tmp_path).returncode == 0
    (plan,) = (tmp_path / "plans").glob("0001_*.yaml")
    text = plan.read_text()
    assert "\nschema: {" in text
    entry = f"{key}: x" if not key.startswith("?") else "? [1] : x"
    plan.write_text(text.replace("\nschema: {", f"\nschema: {{{entry}, ", 1))
    expected = "schema: expected JSON data: every key in the snapshot must be text"
    for command in (
        ["show", plan],
        ["plan", "--rehash", plan],
        ["check", "app.yaml"],
        ["plan", "app.yaml", "--offline"],
    ):
        result = run_sovrium(*command, cwd=tmp_path)
        assert result.returncode != 0, result
        assert expected in result.stderr or expected in result.stdout, result


# --- output ---------------------------------------------------------------------------------------------


def test_json_output_holding_a_lone_surrogate_is_still_json(tmp_path: Path) -> None:
    (tmp_path / "app.json").write_text('{"name": "shop", "tables": [], "\\ud800": 1}')
    result = run_sovrium("validate", "--json", "app.json", cwd=tmp_path)
    assert result.returncode == 1
    document = result.json()
    assert document["ok"] is False
    assert document["problems"][0]["message"] == 'Unknown key "\\ud800"'
    plain = run_sovrium("validate", "app.json", cwd=tmp_path)
    assert plain.error_lines == ['error: app.json: \\ud800: Unknown key "\\ud800"']


@pytest.mark.parametrize(
    ("statement", "destructive"),
    [("DROP TABLE public.items", True), ("DELETE FROM public.items", True), ("ANALYZE public.items", False)],
)
def test_a_hand_written_step_that_drops_data_is_shown_as_destructive_whatever_its_hazards_say(
    tmp_path: Path, statement: str, destructive: bool
) -> None:
    _schema(tmp_path, "      - {id: 1, name: title, type: single-line-text}\n")
    assert run_sovrium("plan", "app.yaml", "--offline", cwd=tmp_path).returncode == 0
    (plan,) = (tmp_path / "plans").glob("0001_*.yaml")
    text = plan.read_text()
    step = f"- id: 5\n  op: sql\n  summary: clean up\n  hazards: []\n  forward:\n  - {statement}\n  reverse: []\n"
    plan.write_text(text.replace("\ndigest:", f"\n{step}digest:", 1))
    assert run_sovrium("plan", "--rehash", plan, cwd=tmp_path).returncode == 0
    shown = run_sovrium("show", plan, cwd=tmp_path)
    assert f"5 steps, {1 if destructive else 0} destructive" in shown.stdout
    assert ("5. clean up  [data-loss]" in shown.stdout) is destructive
    document = run_sovrium("show", plan, "--json", cwd=tmp_path).json()
    assert document["destructive_steps"] == ([5] if destructive else [])


def test_a_snapshot_renamed_away_from_the_plans_app_is_an_invalid_plan(tmp_path: Path) -> None:
    """The digest covers the header (and `app`), the checksum the snapshot's tables: the name must agree."""
    _schema(tmp_path, "      - {id: 1, name: title, type: single-line-text}\n")
    assert run_sovrium("plan", "app.yaml", "--offline", cwd=tmp_path).returncode == 0
    (plan,) = (tmp_path / "plans").glob("0001_*.yaml")
    text = plan.read_text()
    assert '"name": "shop"' in text
    plan.write_text(text.replace('"name": "shop"', '"name": "other"', 1))
    result = run_sovrium("show", plan, cwd=tmp_path)
    assert result.returncode != 0
    assert "schema.name: the snapshot's name is not the plan's app ('shop')" in result.stderr
