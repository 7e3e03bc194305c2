"""A schema composed with `$ref`, through the real `sovrium` command on a real database: validate, plan, check,
apply, migrate and the start-up fast path; an edit to any referenced file is a change."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pytest
import yaml

from sovrium_tui.schema import app_checksum, load_app
from tests.acceptance_support import Cli, checksum_row, columns, history_rows

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "composed"


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    shutil.copytree(EXAMPLE, tmp_path / "library")
    return Cli(tmp_path, database_url)


async def test_a_composed_app_is_planned_checked_applied_and_migrated(cli: Cli, db: asyncpg.Connection) -> None:
    schema = Path("library/app.yaml")
    books = cli.cwd / "library/config/tables/books.yaml"
    validated = cli.ok("validate", schema, "--json").json()
    assert (validated["app"], validated["tables"]) == ("library", 5)

    cli.db_ok("plan", schema)
    (plan_file,) = sorted((cli.cwd / "plans").iterdir())
    plan = yaml.safe_load(plan_file.read_text())
    assert plan["to"]["checksum"] == validated["checksum"]
    assert "$ref" not in plan_file.read_text(), "the plan's schema holds the resolved tables"
    assert [t["name"] for t in plan["schema"]["tables"]] == ["branches", "authors", "books", "members", "loans"]
    assert cli.ok("check", schema).returncode == 0

    cli.db_ok("apply", "--yes")
    assert "position" in await columns(db, "books")
    for _ in range(2):  # the first fills the start-up cache, the second is the fast path
        assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"

    # An edit to a referenced file, two folders down, is a change everywhere.
    books.write_text(books.read_text() + "  - {id: 7, name: pages, type: integer}\n")
    assert cli.run("check", schema).returncode == 3
    migrated = cli.db_ok("migrate", schema, "--json").json()
    assert (migrated["status"], migrated["version"]) == ("migrated", 2)
    assert "pages" in await columns(db, "books")
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"

    row = await checksum_row(db)
    assert row is not None
    assert row["checksum"] == app_checksum(load_app(cli.cwd / schema))
    history = await history_rows(db)
    assert [h["version"] for h in history] == [1, 2]
    books_snapshot = next(t for t in history[1]["schema"]["tables"] if t["name"] == "books")
    assert "pages" in [f["name"] for f in books_snapshot["fields"]], "history holds the resolved tables"
    assert "isbn" in [f["name"] for f in books_snapshot["fields"]], "nested references are resolved too"


async def test_an_edit_to_a_nested_json_or_shared_file_is_noticed_at_start_up(cli: Cli, db: asyncpg.Connection) -> None:
    schema = Path("library/app.yaml")
    cli.db_ok("migrate", schema)
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"

    isbn = cli.cwd / "library/config/fields/isbn.yaml"
    isbn.write_text(isbn.read_text().replace("unique: true", "unique: false"))
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "migrated"
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "up-to-date"

    members = cli.cwd / "library/config/tables/members.json"
    members.write_text(members.read_text().replace('"name": "email"', '"name": "mail"'))
    assert cli.db_ok("migrate", schema, "--json").json()["status"] == "migrated"
    assert "mail" in await columns(db, "members")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("./config/tables/loans.yaml", "Referenced file not found: library/config/tables/gone.yaml"),
        ("./config/theme.yaml", "Failed to parse referenced file library/config/theme.yaml: line 1: Invalid YAML"),
        ("./config/tables/books.yaml", "Circular $ref detected: library/app.yaml"),
    ],
)
def test_broken_references_fail_every_command_with_exit_1(
    cli: Cli, database_url: str, change: str, message: str
) -> None:
    app = cli.cwd / "library/app.yaml"
    if "not found" in message:
        app.write_text(app.read_text().replace(change, "./config/tables/gone.yaml"))
    elif "parse" in message:
        (cli.cwd / "library/config/theme.yaml").write_text("colors: [unclosed\n")
    else:
        books = cli.cwd / "library/config/tables/books.yaml"
        books.write_text(books.read_text() + "extra:\n  $ref: ../../app.yaml\n")
    schema = Path("library/app.yaml")
    for args in (("validate", schema), ("sql", schema), ("plan", schema, "--offline"), ("check", schema)):
        result = cli.run(*args)
        assert result.returncode == 1, str(result)
        assert message in result.stderr, str(result)
    result = cli.db("migrate", schema)
    assert result.returncode == 1 and message in result.stderr, str(result)
