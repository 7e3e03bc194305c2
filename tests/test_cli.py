"""The command-line contract (DESIGN §3): help, exit codes, one readable error line, --json documents,
plan files, verification, concurrency and never waiting on a prompt — all through the real `sovrium` command.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest
import yaml

from tests.acceptance_support import (
    SOVRIUM,
    Cli,
    Server,
    app_schema,
    catalog_state,
    checksum_row,
    clean_env,
    closed_port,
    columns,
    field,
    has_system_schema,
    history_rows,
    log_rows,
    run_sovrium,
    table,
    write_schema,
)
from tests.conftest import ROLE_PASSWORD

COMMANDS = (
    "validate",
    "sql",
    "plan",
    "show",
    "check",
    "apply",
    "migrate",
    "rollback",
    "migrate:rollback",
    "status",
    "history",
    "drift",
    "verify",
    "tui",
    "db",
)
V1 = app_schema(table(1, "users", field(1, "name")))
V2 = app_schema(table(1, "users", field(1, "name"), field(2, "email", "email")))
ANSI = re.compile(r"\x1b\[")


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


@pytest.fixture
def offline(tmp_path: Path) -> Cli:
    """`sovrium` in a scratch directory, for commands that need no database."""
    return Cli(tmp_path)


def _one_error_line(result: Any) -> str:
    """The single `error: …` line of a failed run (progress lines may precede it; nothing follows it)."""
    assert len(result.error_lines) == 1, f"expected exactly one error line:\n{result}"
    assert result.stderr.rstrip("\n").splitlines()[-1] == result.error_lines[0], str(result)
    return str(result.error_lines[0])


def _plans(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml")) if directory.is_dir() else []


# --- help and usage -------------------------------------------------------------------------------------------


def test_top_level_help_lists_every_command_and_the_exit_codes(offline: Cli) -> None:
    result = offline.ok("--help")
    for command in COMMANDS:
        assert command in result.stdout
    assert "Exit codes" in result.stdout and "usage error" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself_with_help(offline: Cli, command: str) -> None:
    result = offline.ok(command, "--help")
    assert result.stdout.startswith(f"usage: sovrium {command}"), result.stdout
    description = result.stdout.split("\n\n")[1]
    assert len(description.split()) >= 8, f"{command} --help should say what it does:\n{result.stdout}"
    assert result.stderr == ""


def test_version_is_printed(offline: Cli) -> None:
    assert re.fullmatch(r"sovrium \d+\.\d+\.\d+\S*\n", offline.ok("--version").stdout)


def test_no_command_prints_help_and_exits_2(offline: Cli) -> None:
    result = offline.run()
    assert result.returncode == 2
    assert "usage: sovrium" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("frobnicate",),
        ("validate",),
        ("validate", "app.yaml", "--no-such-flag"),
        ("rollback", "--to", "five"),
        ("migrate:rollback", "--to"),
        ("history", "--since", "last tuesday"),
        ("history", "--limit", "many"),
        ("db", "explode"),
        ("plan",),
        ("drift", "--accept", "--database-url", "postgresql://postgres@127.0.0.1:1/postgres"),
    ],
    ids=" ".join,
)
def test_usage_errors_exit_2_with_one_error_line(offline: Cli, args: tuple[str, ...]) -> None:
    result = offline.run(*args)
    assert result.returncode == 2, str(result)
    line = _one_error_line(result)
    assert len(line) > len("error: ") + 10


def test_drift_on_a_database_never_migrated_is_not_a_usage_error(cli: Cli) -> None:
    """Exit 2 is reserved for a wrong command line; a database with nothing recorded is a state, said in words."""
    result = cli.db("drift")
    assert result.returncode in (0, 1), f"exit 2 means a usage error, and this command line is right:\n{result}"
    assert "nothing recorded" in result.stdout + result.stderr


# --- failures are one readable line ----------------------------------------------------------------------------

BAD_SCHEMAS = {
    "malformed YAML": ("name: app\ntables: [\n", "Invalid YAML"),
    "malformed JSON": ('{"name": "app", "tables": [', "Invalid JSON"),
    "wrong type": ("name: app\ntables: 5\n", "tables: Expected a list, got integer"),
    "wrong field type": (
        "name: app\ntables:\n  - {id: 1, name: users, fields: [{id: 1, name: a, type: [integer]}]}\n",
        "tables[0].fields[0].type: Expected a string",
    ),
    "unknown field type": (
        "name: app\ntables:\n  - {id: 1, name: users, fields: [{id: 1, name: a, type: INVALID_TYPE}]}\n",
        "tables[0].fields[0].type: Unknown field type: INVALID_TYPE",
    ),
    "empty file": ("", "empty"),
    "not a mapping": ("- just\n- a list\n", "must be a mapping"),
    "not UTF-8": ("name: caf\udcff\n", "not UTF-8"),
    "alias bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
        + "name: app\ntables: *i\n",
        "too many",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SCHEMAS))
@pytest.mark.parametrize("command", ["validate", "sql", "plan", "check"])
def test_a_bad_schema_is_reported_as_readable_lines(offline: Cli, case: str, command: str) -> None:
    text, expected = BAD_SCHEMAS[case]
    suffix = ".json" if "JSON" in case else ".yaml"
    schema = offline.cwd / f"app{suffix}"
    schema.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    args = ("plan", schema, "--offline") if command == "plan" else (command, schema)

    result = offline.run(*args, timeout=30)

    assert result.returncode == 1, str(result)
    assert result.error_lines and all(f"app{suffix}" in line for line in result.error_lines), str(result)
    assert expected in result.stderr, str(result)
    assert not (offline.cwd / "plans").exists()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda cwd: cwd / "missing.yaml", "Schema file not found"),
        (lambda cwd: cwd, "Is a directory"),
    ],
    ids=["missing file", "a directory"],
)
@pytest.mark.parametrize("command", ["validate", "migrate", "plan", "check"])
def test_a_schema_path_that_is_not_a_file_is_one_error_line(
    tmp_path: Path, database_url: str, make: Any, expected: str, command: str
) -> None:
    cli = Cli(tmp_path, database_url)
    path = make(tmp_path)
    result = cli.db(command, path) if command in ("migrate", "plan") else cli.run(command, path)
    assert result.returncode == 1, str(result)
    assert expected in _one_error_line(result)


async def test_the_failures_of_a_schema_leave_the_database_alone(cli: Cli, db: asyncpg.Connection) -> None:
    for text, _ in BAD_SCHEMAS.values():
        schema = cli.cwd / "app.yaml"
        schema.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        assert cli.db("migrate", schema).returncode == 1
    assert not await has_system_schema(db)


def test_every_problem_of_a_schema_is_listed_with_its_path(offline: Cli) -> None:
    schema = write_schema(
        offline.cwd / "app.yaml",
        app_schema(
            table(1, "users", field(1, "name", "INVALID_TYPE"), indexes=[{"name": "idx_x", "fields": ["ghost"]}]),
            table(1, "posts", field(1, "author", "relationship", relatedTable="authors")),
        ),
    )
    result = offline.run("validate", schema)
    assert result.returncode == 1
    joined = "\n".join(result.error_lines)
    assert "tables[0].fields[0].type: Unknown field type: INVALID_TYPE" in joined
    assert 'Index "idx_x" references non-existent column "ghost"' in joined
    assert "Table IDs must be unique within the schema" in joined
    assert 'relatedTable "authors" does not exist' in joined
    assert all(re.match(r"error: \S*app\.yaml:\d+: ", line) for line in result.error_lines), joined


def test_hostile_identifiers_are_refused_line_by_line(offline: Cli) -> None:
    schema = write_schema(
        offline.cwd / "app.yaml",
        app_schema(
            table(
                1,
                'users"; DROP TABLE x; --',
                field(1, "a'; drop table b; --"),
                field(2, "select"),
                field(3, "ok_name"),
            ),
            table(2, "ok", field(1, 'x" text); --')),
        ),
    )
    for command in ("validate", "sql"):
        result = offline.run(command, schema)
        assert result.returncode == 1, str(result)
        assert len(result.error_lines) == 4, str(result)
        assert "Cannot use reserved SQL keyword 'select' as field name" in result.stderr
    assert offline.run("plan", schema, "--offline").returncode == 1
    assert not (offline.cwd / "plans").exists()


async def test_hostile_values_are_data_never_sql(cli: Cli, db: asyncpg.Connection) -> None:
    payload = "x'); DROP TABLE system.schema_checksum; --"
    options = ["it's", 'a "quote"', "back\\slash", "$$dollar$$"]
    schema = write_schema(
        cli.cwd / "app.yaml",
        app_schema(
            table(
                1,
                "Robert Tables-2024",
                field(1, "note", default=payload),
                field(2, "mood", "single-select", options=options, default="it's"),
            )
        ),
    )
    cli.db_ok("migrate", schema)

    row = await db.fetchrow("INSERT INTO robert_tables_2024 DEFAULT VALUES RETURNING note, mood")
    assert (row["note"], row["mood"]) == (payload, "it's")
    for option in options:
        await db.execute("INSERT INTO robert_tables_2024 (mood) VALUES ($1)", option)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO robert_tables_2024 (mood) VALUES ('other')")
    assert await db.fetchval("SELECT count(*) FROM system.schema_checksum") == 1
    assert cli.db("drift").returncode == 0


@pytest.mark.parametrize("where", ["before the command", "after it"])
def test_debug_shows_the_traceback(offline: Cli, where: str) -> None:
    words = ["validate", str(offline.cwd / "missing.yaml")]
    words = ["--debug", *words] if where == "before the command" else [*words, "--debug"]
    result = run_sovrium(*words, cwd=offline.cwd, allow_traceback=True)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_the_tui_without_a_terminal_says_so_instead_of_drawing(offline: Cli) -> None:
    result = run_sovrium("tui", "app.yaml", cwd=offline.cwd)  # stdin and stdout are not terminals here
    assert result.returncode == 2
    assert result.stdout == ""
    assert "the TUI needs a terminal" in result.stderr


@pytest.mark.parametrize(
    ("name", "said"),
    [("missing.yaml", "Plan file not found"), (".", "Is a directory, not a plan file")],
)
def test_a_plan_file_that_cannot_be_read_says_why_in_words(offline: Cli, name: str, said: str) -> None:
    result = run_sovrium("show", name, cwd=offline.cwd)
    assert result.returncode == 1
    assert said in result.stderr and "Errno" not in result.stderr


# --- plans: edits, digests, SQL ----------------------------------------------------------------------------------


async def test_an_edited_plan_is_refused_until_rehashed(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    cli.db_ok("plan", schema)
    cli.db_ok("apply", "--yes")
    write_schema(schema, V2)
    cli.db_ok("plan", schema)
    [_, plan] = _plans(cli.cwd / "plans")
    document = yaml.safe_load(plan.read_text())
    # A reviewer adds a backfill step after the new column.
    backfill = "UPDATE public.users SET email = name || '@example.com' WHERE email IS NULL"
    text = plan.read_text().replace(
        "\ndigest:",
        "\n- id: 2\n  op: sql\n  target: users.email\n  summary: backfill users.email\n  hazards: []\n"
        f"  forward:\n  - {backfill}\n  reverse: []\ndigest:",
    )
    plan.write_text(text)
    assert yaml.safe_load(text)["steps"][1]["forward"] == [backfill]
    await db.execute("INSERT INTO users (name) VALUES ('ada')")

    refused = cli.db("apply", "--yes")
    assert refused.returncode == 1, str(refused)
    line = _one_error_line(refused)
    assert "digest mismatch" in line and f"sovrium plan --rehash {plan.relative_to(cli.cwd)}" in line
    assert "email" not in await columns(db, "users")
    assert "EDITED" in cli.ok("show", plan).stdout
    assert cli.run("check", schema).returncode == 1

    rehashed = cli.ok("plan", "--rehash", plan)
    assert yaml.safe_load(plan.read_text())["digest"] != document["digest"]
    assert "re-hashed" in rehashed.stdout
    cli.db_ok("apply", "--yes")
    assert await db.fetchval("SELECT email FROM users") == "ada@example.com"
    assert cli.run("check", schema).returncode == 0


async def test_an_unparseable_sql_step_is_refused_with_its_step(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    cli.db_ok("plan", schema)
    [plan] = _plans(cli.cwd / "plans")
    text = plan.read_text()
    broken = text.replace("CREATE TABLE public.users (", "CREATE TABEL public.users (", 1)
    assert broken != text
    plan.write_text(broken)

    rehash = cli.run("plan", "--rehash", plan)
    assert rehash.returncode == 1, str(rehash)
    assert re.search(r"steps\[\d+\]: step \d+ forward statement 1: ", _one_error_line(rehash))
    applied = cli.db("apply", plan, "--yes")
    assert applied.returncode == 1
    assert not await has_system_schema(db)
    assert "users" not in {r["relname"] for r in await db.fetch("SELECT relname FROM pg_class")}


def test_show_renders_a_plan_for_review(offline: Cli) -> None:
    schema = write_schema(offline.cwd / "app.yaml", V1)
    offline.ok("plan", schema, "--offline")
    write_schema(schema, V2)
    offline.ok("plan", schema, "--offline")
    first, second = _plans(offline.cwd / "plans")

    shown = offline.ok("show", second)
    assert shown.stdout.startswith("Plan 0002 for app 'app': users: +email")
    assert "ALTER TABLE public.users ADD COLUMN email" in shown.stdout
    assert "ALTER TABLE public.users DROP COLUMN email" in shown.stdout
    assert "forward:" in shown.stdout and "reverse:" in shown.stdout
    assert "digest intact" in shown.stdout
    assert not ANSI.search(shown.stdout)
    assert "CREATE TABLE public.users" in offline.ok("show", first, "--no-color").stdout
    missing = offline.run("show", offline.cwd / "plans" / "0009_nothing.yaml")
    assert missing.returncode == 1
    _one_error_line(missing)


# --- check ---------------------------------------------------------------------------------------------------------


def test_check_exit_codes_in_sync_unplanned_and_broken(offline: Cli) -> None:
    schema = write_schema(offline.cwd / "app.yaml", V1)
    assert offline.run("check", schema).returncode == 3, "no plans yet: the schema is unplanned"
    offline.ok("plan", schema, "--offline")
    assert offline.run("check", schema).returncode == 0

    write_schema(schema, V2)
    unplanned = offline.run("check", schema)
    assert unplanned.returncode == 3 and "sovrium plan" in unplanned.stdout
    offline.ok("plan", schema, "--offline")
    assert offline.ok("check", schema, "--json").json()["in_sync"] is True

    second = _plans(offline.cwd / "plans")[1]
    second.write_text(second.read_text().replace("users: +email", "users: +mail"))
    edited = offline.run("check", schema)
    assert edited.returncode == 1 and "digest" in edited.stdout + edited.stderr


def test_a_chain_may_start_where_databases_got_without_plans_but_not_miss_a_plan(offline: Cli) -> None:
    schema = write_schema(offline.cwd / "app.yaml", V1)
    first = offline.ok("plan", schema, "--offline").stdout.split()[1]
    write_schema(schema, V2)
    offline.ok("plan", schema, "--offline")
    saved = (offline.cwd / first).read_bytes()

    (offline.cwd / first).unlink()  # the chain starts at version 1, as for a database `sovrium migrate` brought there
    based = offline.ok("check", schema, "--json").json()
    assert (based["in_sync"], based["starts_at_version"]) == (True, 1)
    assert "note: the chain starts at version 1, reached without a plan file" in offline.ok("check", schema).stdout

    (offline.cwd / first).write_bytes(saved)
    middle = _plans(offline.cwd / "plans")[1]
    write_schema(schema, V1)
    offline.ok("plan", schema, "--offline")  # version 3
    middle.unlink()
    broken = offline.run("check", schema, "--json")
    assert broken.returncode == 1, str(broken)
    assert any("starts from version 2, which has no plan file" in p for p in broken.json()["problems"])


# --- plan --offline ---------------------------------------------------------------------------------------------


def test_an_offline_plan_after_renames_renames_and_is_the_same_plan_every_time(offline: Cli) -> None:
    """The head plan's app is read on the other core while this schema is validated; the plan is the same."""
    env = clean_env(SOURCE_DATE_EPOCH="1700000000")
    schema = write_schema(
        offline.cwd / "app.yaml", app_schema(table(1, "people", field(1, "name"), field(2, "age", "integer")))
    )
    offline.ok("plan", schema, "--offline", env=env)
    write_schema(
        schema, app_schema(table(1, "persons", field(1, "full_name"), field(2, "age", "integer"), field(3, "note")))
    )
    written = []
    for _ in range(2):
        result = offline.ok("plan", schema, "--offline", "--json", env=env)
        second = _plans(offline.cwd / "plans")[1]
        written.append(second.read_bytes())
        second.unlink()
        assert result.json()["version"] == 2
    assert written[0] == written[1]
    ops = [step["op"] for step in yaml.safe_load(written[0])["steps"]]
    assert "rename_table" in ops and "rename_column" in ops and "drop_table" not in ops, ops


def test_offline_plans_are_deterministic_and_need_no_database(offline: Cli, tmp_path: Path) -> None:
    schema = write_schema(offline.cwd / "app.yaml", V1)
    env = clean_env(SOURCE_DATE_EPOCH="1700000000", DATABASE_URL=f"postgresql://x@127.0.0.1:{closed_port()}/x")

    outputs = []
    for directory in ("a", "b"):
        (offline.cwd / directory).mkdir()
        result = run_sovrium("plan", schema, "--offline", "--plans", "plans", cwd=offline.cwd / directory, env=env)
        assert result.returncode == 0, str(result)
        [written] = _plans(offline.cwd / directory / "plans")
        assert re.fullmatch(r"0001_[a-z0-9_]+\.yaml", written.name)
        outputs.append((written.name, written.read_bytes()))
    assert outputs[0] == outputs[1], "same input, same bytes"
    document = yaml.safe_load(outputs[0][1])
    assert document["created_at"] == "2023-11-14T22:13:20Z"
    assert document["from"] == {"version": 0, "checksum": None}
    assert not (offline.cwd / ".sovrium" / "pgdata").exists(), "an offline plan never starts a database"

    write_schema(schema, V2)
    offline.run("plan", schema, "--offline", "--plans", "a/plans", "--name", "Add E-mail", env=env)
    [_, second] = _plans(offline.cwd / "a" / "plans")
    assert second.name == "0002_add_e_mail.yaml"
    assert yaml.safe_load(second.read_text())["from"]["version"] == 1
    again = offline.run("plan", schema, "--offline", "--plans", "a/plans", env=env)
    assert again.returncode == 3 and len(_plans(offline.cwd / "a" / "plans")) == 2


def test_an_offline_plan_equals_the_online_plan_for_an_empty_database(cli: Cli) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    env = clean_env(SOURCE_DATE_EPOCH="1700000000")
    cli.run("plan", schema, "--offline", "--plans", "off/plans", env=env)
    cli.db("plan", schema, "--plans", "on/plans", env=env)
    [off] = _plans(cli.cwd / "off" / "plans")
    [on] = _plans(cli.cwd / "on" / "plans")
    assert off.read_bytes().replace(b"off/plans/", b"on/plans/") == on.read_bytes()


# --- unreachable databases ---------------------------------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on loopback that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def _unreachable(kind: str, database_url: str) -> tuple[str, str]:
    """A URL that cannot be used, and what the message must say about it."""
    if kind == "refused port":
        return f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres", "connection refused"
    if kind == "unknown host":
        return "postgresql://postgres@no-such-host.invalid:5432/postgres", "no-such-host.invalid"
    if kind == "missing database":
        return database_url.replace("/sovrium_test_", "/no_such_db_", 1), "does not exist"
    if kind == "unknown role":
        return database_url.replace("postgres@", "nobody_here@", 1), 'role "nobody_here" does not exist'
    if kind == "missing socket":
        missing = "/nonexistent-sovrium-socket-dir"
        return (
            f"postgresql://postgres@/postgres?host={missing}&port=5432",
            f"no server socket at {missing}/.s.PGSQL.5432",
        )
    raise AssertionError(kind)


DB_COMMANDS: list[tuple[str, ...]] = [
    ("migrate", "app.yaml"),
    ("plan", "app.yaml"),
    ("apply", "--yes"),
    ("rollback", "--yes"),
    ("status",),
    ("history",),
    ("drift",),
]


@pytest.mark.parametrize("kind", ["refused port", "unknown host", "missing database", "unknown role", "missing socket"])
@pytest.mark.parametrize("args", DB_COMMANDS, ids=lambda args: args[0])
def test_an_unreachable_database_fails_fast_with_one_line(
    tmp_path: Path, database_url: str, kind: str, args: tuple[str, ...]
) -> None:
    write_schema(tmp_path / "app.yaml", V1)
    url, says = _unreachable(kind, database_url)
    result = Cli(tmp_path, url).db(*args, timeout=30)
    assert result.returncode == 1, str(result)
    line = _one_error_line(result)
    assert line.startswith("error: Database connection failed: "), line
    assert says in line, line
    assert result.seconds < 6, f"took {result.seconds:.1f} s"
    assert not (tmp_path / "plans").exists()


@pytest.mark.parametrize("role", ["sovrium_scram_user", "sovrium_md5_user"])
@pytest.mark.parametrize("args", DB_COMMANDS[:3] + DB_COMMANDS[4:5], ids=lambda args: args[0])
async def test_a_wrong_password_fails_fast_and_the_password_is_never_shown(
    cli: Cli, db: asyncpg.Connection, password_roles: dict[str, str], role: str, args: tuple[str, ...]
) -> None:
    tmp_path, database_url = cli.cwd, str(cli.database_url)
    write_schema(tmp_path / "app.yaml", V1)
    right = Cli(tmp_path, database_url.replace("postgres@", f"{role}:{quote(ROLE_PASSWORD)}@", 1))
    right.db_ok("migrate", "app.yaml")  # the role itself works with its password (SCRAM or MD5)
    wrong_secret = "Tr0ub4dor-wrong"
    wrong = Cli(tmp_path, database_url.replace("postgres@", f"{role}:{wrong_secret}@", 1))

    result = wrong.db(*args, timeout=30)

    assert result.returncode == 1, str(result)
    line = _one_error_line(result)
    assert line.startswith("error: Database connection failed: "), line
    assert "password authentication failed" in line
    assert wrong_secret not in result.stderr + result.stdout
    assert result.seconds < 6
    assert [h["version"] for h in await history_rows(db)] == [1]


def test_a_server_that_never_answers_fails_within_the_time_it_names(tmp_path: Path, silent_port: int) -> None:
    write_schema(tmp_path / "app.yaml", V1)
    silent = Cli(tmp_path, f"postgresql://postgres@127.0.0.1:{silent_port}/postgres")
    for args in (("status",), ("migrate", "app.yaml")):
        result = silent.db(*args, timeout=60)
        assert result.returncode == 1, str(result)
        line = _one_error_line(result)
        waited = re.search(r"no answer from 127\.0\.0\.1:\d+ within (\d+(?:\.\d+)?) s", line)
        assert waited, line
        assert result.seconds < float(waited.group(1)) + 2.5, (
            f"`sovrium {args[0]}` said it waited {waited.group(1)} s but took {result.seconds:.1f} s"
        )


# --- database failures are one line too -----------------------------------------------------------------------------


async def test_a_constraint_violation_is_one_error_line_with_postgres_detail_once(
    cli: Cli, db: asyncpg.Connection
) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V2)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name, email) VALUES ('a', 'same@example.com'), ('b', 'same@example.com')")
    write_schema(schema, app_schema(table(1, "users", field(1, "name"), field(2, "email", "email", unique=True))))

    result = cli.db_fails("migrate", schema)

    line = _one_error_line(result)
    assert 'could not create unique index "users_email_key"' in line
    assert line.count("Key (email)=(same@example.com) is duplicated") == 1, line
    assert line.endswith(
        "the table has duplicate values: make them unique in an `op: sql` step before this one, or drop `unique`"
    )


ROW_FAILURES = [
    (field(2, "code", "integer", required=True), "rows a required field without a default cannot be added to"),
    (field(1, "name", required=True), "rows without a value: give the field a default (the plan fills them with it)"),
    (field(1, "name", "integer"), "values the new type cannot hold: change or clear them in an `op: sql` step"),
    (field(1, "name", "date"), "values the new type cannot hold: change or clear them in an `op: sql` step"),
    (field(1, "name", "single-select", options=["x"]), "rows the new rule refuses: change their values"),
]


@pytest.mark.parametrize(
    ("changed", "advice"), ROW_FAILURES, ids=["add required", "make required", "type", "date type", "rule"]
)
async def test_a_step_failing_on_the_rows_there_says_what_to_do(
    cli: Cli, db: asyncpg.Connection, changed: dict[str, Any], advice: str
) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name) VALUES ('a'), (NULL)")
    others = [field(1, "name")] if changed["id"] != 1 else []
    write_schema(schema, app_schema(table(1, "users", *others, changed)))

    line = _one_error_line(cli.db_fails("migrate", schema, "--allow-destructive"))

    assert f"; the table has {advice}" in line


async def test_dates_no_duration_can_hold_say_what_to_do(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "events", field(1, "at"))))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO events (at) VALUES ('2026-12-01 13:39:17')")  # a date kept as text
    write_schema(schema, app_schema(table(1, "events", field(1, "at", "duration"))))

    line = _one_error_line(cli.db_fails("migrate", schema, "--allow-destructive"))

    assert "interval field value out of range" in line
    assert line.endswith(
        "the table has values the new type cannot hold: change or clear them in an `op: sql` step before this one"
    )


async def test_text_no_time_zone_names_as_times_says_what_to_do(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "events", field(1, "at"))))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO events (at) VALUES ('10:00'), ('v1568')")  # read as a time in zone "v1568"
    write_schema(schema, app_schema(table(1, "events", field(1, "at", "time"))))

    line = _one_error_line(cli.db_fails("migrate", schema, "--allow-destructive"))

    assert 'time zone "v1568" not recognized' in line
    assert line.endswith(
        "the table has values the new type cannot hold: change or clear them in an `op: sql` step before this one"
    )
    assert await db.fetchval("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attname = 'at'") == (
        "character varying(255)"
    )


async def test_a_default_filling_empty_rows_of_a_unique_field_says_what_to_do(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "users", field(1, "code", unique=True))))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (code) VALUES ('a'), (NULL), (NULL)")
    write_schema(schema, app_schema(table(1, "users", field(1, "code", unique=True, required=True, default="x"))))

    line = _one_error_line(cli.db_fails("migrate", schema))

    assert 'duplicate key value violates unique constraint "users_code_key"' in line
    assert line.endswith(
        "the table has rows the step gives the same value in a unique field (a default fills every empty row "
        "alike): give them distinct values in an `op: sql` step before this one, or drop `unique`"
    )
    assert await db.fetchval("SELECT count(*) FROM users WHERE code IS NULL") == 2


@pytest.mark.parametrize(
    ("formula", "step"),
    [
        ("100 / qty + EXTRACT(DAY FROM NOW()) * 0", "compute items.per for the rows already there"),  # a trigger's
        ("100 / qty", "add column items.per (numeric, generated from 100 / CAST(qty AS DECIMAL))"),
    ],
    ids=["trigger", "generated"],
)
async def test_a_formula_the_rows_there_cannot_compute_says_what_to_do(
    cli: Cli, db: asyncpg.Connection, formula: str, step: str
) -> None:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "items", field(1, "qty", "integer"))))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO items (qty) VALUES (2), (0)")
    computed = field(2, "per", "formula", formula=formula, resultType="decimal")
    write_schema(schema, app_schema(table(1, "items", field(1, "qty", "integer"), computed)))

    line = _one_error_line(cli.db_fails("migrate", schema))

    assert f"({step}) failed: division by zero" in line
    assert line.endswith(
        "the table has rows a new formula cannot compute (PostgreSQL would refuse them at their next write too): "
        "change them in an `op: sql` step before this one, or change the formula"
    )
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 1


async def test_a_foreign_key_the_rows_there_break_says_what_to_do(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", app_schema(table(1, "users", field(1, "name"), field(2, "code"))))
    cli.db_ok("migrate", schema)
    await db.execute("INSERT INTO users (name, code) VALUES ('a', 'b'), ('zed', 'a')")
    key = {"name": "fk_name_code", "fields": ["name"], "referencedTable": "users", "referencedFields": ["code"]}
    changed = table(1, "users", field(1, "name"), field(2, "code", unique=True), foreignKeys=[key])
    write_schema(schema, app_schema(changed))

    line = _one_error_line(cli.db_fails("migrate", schema))

    assert 'violates foreign key constraint "fk_name_code"' in line and "Key (name)=(zed)" in line
    assert line.endswith(
        "the table has rows pointing at rows that do not exist: change or clear them in an `op: sql` step before "
        "this one"
    )


# --- --json -----------------------------------------------------------------------------------------------------------

JSON_KEYS: dict[str, set[str]] = {
    "validate": {"valid", "source", "app", "tables", "fields", "checksum"},
    "plan": {"changes", "path", "mode", "version", "summary", "steps", "hazards", "destructive_steps", "digest"},
    "plan-none": {"changes", "path", "mode"},
    "check": {"in_sync", "schema_checksum", "head_version", "head_checksum", "plans", "problems", "off_chain"},
    "show": {"sovrium_plan", "version", "app", "from", "to", "created_at", "summary", "steps", "digest", "schema"},
    "apply": {"database", "runs", "notes"},
    "migrate": {"status", "version", "checksum", "steps", "elapsed_ms"},
    "rollback": {
        "from_version",
        "to_version",
        "reverted_versions",
        "status",
        "steps",
        "data_loss",
        "reason",
        "elapsed_ms",
    },
    "status": {"database", "version", "checksum", "updated_at", "drift", "lock_holder", "plans", "pending"},
    "history": {"history", "log"},
    "drift": {"version", "drift", "differences"},
    "verify": {"version", "round_trips", "forward_ok", "forward_problems", "reverse_ok", "reverse_problems"},
    "error": {"ok", "error", "message"},
}


def _json(result: Any, kind: str) -> Any:
    document = json.loads(result.stdout)  # the whole of stdout is one document
    assert isinstance(document, dict), result.stdout
    missing = JSON_KEYS[kind] - set(document)
    assert not missing, f"{kind} --json lacks {sorted(missing)}:\n{result.stdout}"
    return document


async def test_json_output_is_one_document_with_stable_keys(
    cli: Cli, db: asyncpg.Connection, pg_server: Server
) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    validated = _json(cli.ok("validate", schema, "--json"), "validate")
    assert validated["valid"] is True and validated["tables"] == 1

    planned = _json(cli.db_ok("plan", schema, "--json"), "plan")
    assert planned["changes"] is True and planned["version"] == 1
    assert Path(cli.cwd / planned["path"]).is_file()
    applied = _json(cli.db_ok("apply", "--yes", "--json"), "apply")
    assert [(r["version"], r["status"]) for r in applied["runs"]] == [(1, "applied")]
    assert {"path", "version", "status", "steps", "elapsed_ms"} <= set(applied["runs"][0])
    assert _json(cli.db_ok("apply", "--yes", "--json"), "apply")["runs"] == []
    none = cli.db("plan", schema, "--json")
    assert none.returncode == 3
    assert _json(none, "plan-none")["changes"] is False

    write_schema(schema, V2)
    second = _json(cli.db_ok("plan", schema, "--json"), "plan")
    shown = _json(cli.ok("show", second["path"], "--json"), "show")
    assert shown["version"] == 2 and shown["steps"][0]["forward"]
    checked = _json(cli.ok("check", schema, "--json"), "check")
    assert checked["in_sync"] is True
    verified = _json(cli.ok("verify", second["path"], "--scratch-url", pg_server.admin_url, "--json"), "verify")
    assert verified["round_trips"] is True

    status = _json(cli.db_ok("status", "--json"), "status")
    assert (status["version"], status["pending"], status["drift"]) == (1, [2], False)
    migrated = _json(cli.db_ok("migrate", schema, "--json"), "migrate")
    assert migrated["status"] == "migrated"
    assert _json(cli.db_ok("migrate", schema, "--json"), "migrate")["status"] == "up-to-date"
    history = _json(cli.db_ok("history", "--json"), "history")
    assert [e["version"] for e in history["history"]] == [1, 2]
    drift = _json(cli.db_ok("drift", "--json"), "drift")
    assert drift["drift"] is False
    rolled = _json(cli.db_ok("rollback", "--json", "--reason", "json"), "rollback")
    assert (rolled["from_version"], rolled["to_version"], rolled["status"]) == (2, 1, "rolled-back")
    reapplied = _json(cli.db_ok("apply", "--json", "--yes"), "apply")
    assert [(r["version"], r["status"]) for r in reapplied["runs"]] == [(2, "applied")]

    invalid = write_schema(cli.cwd / "bad.yaml", "name: app\ntables: 5\n")
    failed = cli.run("validate", invalid, "--json")
    assert failed.returncode == 1
    assert _json(failed, "error")["ok"] is False
    down = Cli(cli.cwd, f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres").db("status", "--json")
    assert down.returncode == 1
    assert "Database connection failed" in _json(down, "error")["message"]


# --- apply / rollback behaviour -------------------------------------------------------------------------------------


async def test_dry_runs_change_nothing(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    cli.db_ok("plan", schema)
    dry = cli.db_ok("apply", "--yes", "--dry-run", "--json")
    assert [r["status"] for r in dry.json()["runs"]] == ["dry-run"]
    assert not [n for n in dry.json()["notes"] if "values written after this count" in n], "no loss was counted"
    assert not await has_system_schema(db), "a dry run leaves not even the bookkeeping tables"
    assert "users" not in {r["table_name"] for r in await db.fetch("SELECT table_name FROM information_schema.tables")}
    cli.db_ok("apply", "--yes")
    before = (await catalog_state(db), await checksum_row(db), await history_rows(db))
    assert cli.db_ok("rollback", "--dry-run", "--json").json()["status"] == "dry-run"
    assert (await catalog_state(db), await checksum_row(db), await history_rows(db)) == before


async def test_nothing_to_roll_back_is_said_plainly(cli: Cli, db: asyncpg.Connection) -> None:
    result = cli.db_fails("rollback", "--yes")
    assert "nothing to roll back" in _one_error_line(result)
    schema = write_schema(cli.cwd / "app.yaml", V1)
    cli.db_ok("migrate", schema)
    above = cli.db_fails("rollback", "--to", "1")
    assert "nothing to roll back" in _one_error_line(above)
    unknown = cli.db_fails("rollback", "--to", "7")
    _one_error_line(unknown)
    assert [h["rolled_back_at"] for h in await history_rows(db)] == [None]


async def test_a_rollback_says_which_versions_it_reversed(cli: Cli, db: asyncpg.Connection) -> None:
    cli.db_ok("migrate", write_schema(cli.cwd / "v1.yaml", V1))
    cli.db_ok("migrate", write_schema(cli.cwd / "v2.yaml", V2), "--allow-destructive")
    assert "rolled back version 2: the database is at version 1" in cli.db_ok("rollback", "--yes", "--force").stdout
    cli.db_ok("migrate", write_schema(cli.cwd / "v2.yaml", V2), "--allow-destructive")
    rolled = cli.db_ok("rollback", "--to", "0", "--yes", "--force")
    assert "rolled back versions 3, 1: the database is at version 0" in rolled.stdout
    assert rolled.stderr.startswith("rolling back to version 0: 5 steps\n  [1/5] undoing version 3 step 1"), (
        rolled.stderr
    )


async def test_concurrent_appliers_apply_each_version_once(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    cli.run("plan", schema, "--offline")
    write_schema(schema, V2)
    cli.run("plan", schema, "--offline")
    assert len(_plans(cli.cwd / "plans")) == 2
    assert cli.database_url is not None

    processes = [
        subprocess.Popen(
            [*SOVRIUM, "apply", "--yes", "--database-url", cli.database_url],
            cwd=cli.cwd,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=120)
            outcomes.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert [code for code, _, _ in outcomes] == [0, 0, 0, 0], outcomes
    assert all("Traceback" not in err for _, _, err in outcomes)
    assert [h["version"] for h in await history_rows(db)] == [1, 2]
    assert [(r["operation"], r["to_version"]) for r in await log_rows(db)] == [("MIGRATE", 1), ("MIGRATE", 2)]
    assert "email" in await columns(db, "users")


async def test_no_prompt_ever_waits_when_stdin_is_not_a_terminal(cli: Cli, db: asyncpg.Connection) -> None:
    schema = write_schema(cli.cwd / "app.yaml", V1)
    cli.db_ok("plan", schema)
    assert cli.database_url is not None

    # stdin at end of file, and stdin an open pipe that never says anything: neither may block.
    cli.db_ok("apply", timeout=30)  # stdin is /dev/null
    write_schema(schema, V2)
    cli.db_ok("plan", schema)
    for args in (("apply",), ("rollback", "--reason", "no prompt"), ("migrate:rollback", "--to", "0", "--force")):
        process = subprocess.Popen(
            [*SOVRIUM, *args, "--database-url", cli.database_url],
            cwd=cli.cwd,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert process.poll() is not None, f"`sovrium {' '.join(args)}` is waiting on its stdin"
        finally:
            if process.poll() is None:
                process.kill()
            out, err = process.communicate()
        assert process.returncode == 0, (args, out, err)
    assert await checksum_row(db) is None
    assert [h["rolled_back_at"] is not None for h in await history_rows(db)] == [True, True]


# --- verify --------------------------------------------------------------------------------------------------------


async def test_verify_round_trips_a_plan_on_a_scratch_database(offline: Cli, pg_server: Server) -> None:
    schema = write_schema(
        offline.cwd / "crm.yaml", Path(__file__).parent.parent.joinpath("examples/crm.yaml").read_text()
    )
    offline.ok("plan", schema, "--offline")
    document = yaml.safe_load(schema.read_text())
    document["tables"][0]["fields"].append({"id": 99, "name": "vat_number", "type": "single-line-text", "unique": True})
    write_schema(schema, document)
    offline.ok("plan", schema, "--offline")
    first, second = _plans(offline.cwd / "plans")

    admin = await asyncpg.connect(pg_server.admin_url)
    try:
        databases_before = {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
        for plan in (first, second):
            result = offline.ok("verify", plan, "--scratch-url", pg_server.admin_url)
            assert "reaches its target schema" in result.stdout
            assert "restores the starting schema" in result.stdout

        # A reverse that does not undo its forward step is caught.
        text = second.read_text()
        broken = text.replace("DROP COLUMN vat_number", "DROP COLUMN website")
        assert broken != text
        second.write_text(broken)
        offline.ok("plan", "--rehash", second)
        failed = offline.run("verify", second, "--scratch-url", pg_server.admin_url)
        assert failed.returncode == 1, str(failed)
        assert "reverse: FAILED" in failed.stdout
        databases_after = {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
    finally:
        await admin.close()
    assert databases_after == databases_before, "the scratch databases are dropped"


async def test_verify_of_a_plan_whose_earlier_plan_cannot_be_built_tries_nothing_more(
    offline: Cli, pg_server: Server
) -> None:
    schema = write_schema(
        offline.cwd / "crm.yaml", Path(__file__).parent.parent.joinpath("examples/crm.yaml").read_text()
    )
    offline.ok("plan", schema, "--offline")
    document = yaml.safe_load(schema.read_text())
    document["tables"][0]["fields"].append({"id": 99, "name": "vat_number", "type": "single-line-text"})
    write_schema(schema, document)
    offline.ok("plan", schema, "--offline")
    first, second = _plans(offline.cwd / "plans")
    earlier = yaml.safe_load(first.read_text())
    earlier["steps"].append({"op": "sql", "forward": ["DROP INDEX idx_hand"], "reverse": []})
    first.write_text(yaml.safe_dump(earlier, sort_keys=False))
    offline.ok("plan", "--rehash", first)

    result = offline.run("verify", second, "--scratch-url", pg_server.admin_url)

    assert result.returncode == 1, str(result)
    assert "building version 1 failed" in result.stdout
    assert "not tried: forward failed" in result.stdout and "restores the starting schema" not in result.stdout


async def test_verify_judges_a_plan_as_apply_does(offline: Cli, pg_server: Server) -> None:
    """A hand-written step that switches on row-level security applies (Sovrium declares none): verify agrees, a
    statement ending in a `--` comment included (apply runs it)."""
    schema = write_schema(
        offline.cwd / "crm.yaml", Path(__file__).parent.parent.joinpath("examples/crm.yaml").read_text()
    )
    offline.ok("plan", schema, "--offline")
    (plan,) = _plans(offline.cwd / "plans")
    document = yaml.safe_load(plan.read_text())
    table = next(step["target"] for step in document["steps"] if step["op"] == "create_table")
    document["steps"].append(
        {
            "op": "sql",
            "forward": [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY -- a policy comes later", "SELECT 1"],
            "reverse": [],
        }
    )
    plan.write_text(yaml.safe_dump(document, sort_keys=False))
    offline.ok("plan", "--rehash", plan)

    result = offline.ok("verify", plan, "--scratch-url", pg_server.admin_url)

    assert "reaches its target schema" in result.stdout and "restores the starting schema" in result.stdout


async def test_concurrent_start_ups_migrate_once(cli: Cli, db: asyncpg.Connection) -> None:
    """Four application instances start at once with the same schema: one migrates, the others find it done."""
    schema = write_schema(cli.cwd / "app.yaml", V2)
    assert cli.database_url is not None
    processes = [
        subprocess.Popen(
            [*SOVRIUM, "migrate", schema, "--json", "--database-url", cli.database_url],
            cwd=cli.cwd,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=120)
            outcomes.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert [code for code, _, _ in outcomes] == [0, 0, 0, 0], outcomes
    statuses = sorted(json.loads(out)["status"] for _, out, _ in outcomes)
    assert statuses == ["migrated", "up-to-date", "up-to-date", "up-to-date"], outcomes
    assert [h["version"] for h in await history_rows(db)] == [1]
    assert [r["operation"] for r in await log_rows(db)] == ["MIGRATE"]


# --- locks and timeouts (DESIGN §6) -------------------------------------------------------------------------------


def _bounded(cli: Cli, *args: str | Path, seconds: float) -> Any:
    """Run a database command that must end within `seconds`; a run still waiting then is a failure."""
    try:
        return cli.db(*args, timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`sovrium {' '.join(map(str, args))}` was still waiting after {seconds:g} s")


async def test_a_held_migration_lock_is_shown_and_waited_for_only_as_long_as_asked(
    cli: Cli, db: asyncpg.Connection
) -> None:
    from sovrium_tui.execution.executor import MIGRATION_LOCK_KEY

    schema = write_schema(cli.cwd / "app.yaml", V1)
    await db.execute("SELECT set_config('application_name', 'nightly-job', false)")
    await db.execute("SELECT pg_advisory_lock($1::bigint)", MIGRATION_LOCK_KEY)
    try:
        holder = cli.db_ok("status", "--json").json()["lock_holder"]
        assert holder and "nightly-job" in holder
        result = _bounded(cli, "migrate", schema, "--lock-wait", "1", seconds=20)
        assert result.returncode == 1, str(result)
        line = _one_error_line(result)
        assert "migration lock" in line and "nightly-job" in line
        assert result.seconds < 6
    finally:
        await db.execute("SELECT pg_advisory_unlock_all()")
    assert await db.fetchval("SELECT to_regclass('public.users')") is None
    assert cli.db_ok("status", "--json").json()["lock_holder"] is None
    cli.db_ok("migrate", schema)


@pytest.mark.parametrize(
    "args",
    [("migrate", "v2.yaml"), ("apply", "plans/0002_users_email.yaml", "--yes"), ("rollback", "--force", "--yes")],
    ids=lambda args: args[0],
)
async def test_a_migration_never_queues_forever_behind_a_table_lock(
    cli: Cli, db: asyncpg.Connection, args: tuple[str, ...]
) -> None:
    v1 = write_schema(cli.cwd / "v1.yaml", V1)
    write_schema(cli.cwd / "v2.yaml", V2)
    cli.db_ok("migrate", v1)
    if args[0] == "apply":
        cli.db_ok("plan", "v2.yaml")
    await db.execute("INSERT INTO users (name) VALUES ('ada')")
    before = (await catalog_state(db), await checksum_row(db))

    await db.execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    try:
        result = _bounded(cli, *args, "--lock-timeout", "1s", seconds=10)
    finally:
        await db.execute("ROLLBACK")

    assert result.returncode == 1, str(result)
    line = _one_error_line(result)
    assert "lock timeout" in line, f"the message should say it gave up waiting for a lock:\n{result}"
    assert result.seconds < 8
    assert (await catalog_state(db), await checksum_row(db)) == before


@pytest.mark.parametrize("args", [("status",), ("drift",), ("plan", "v2.yaml")], ids=lambda args: args[0])
async def test_read_only_commands_never_hang_behind_a_table_lock(
    cli: Cli, db: asyncpg.Connection, args: tuple[str, ...]
) -> None:
    v1 = write_schema(cli.cwd / "v1.yaml", V1)
    write_schema(cli.cwd / "v2.yaml", V2)
    cli.db_ok("migrate", v1)

    await db.execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    try:
        result = _bounded(cli, *args, seconds=15)
    finally:
        await db.execute("ROLLBACK")

    if result.returncode not in (0, 3):
        assert "lock" in _one_error_line(result), str(result)
