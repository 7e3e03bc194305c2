"""A column that gains or loses its sequence keeps its values.

A table made with `id SERIAL` (by hand, or by Sovrium's automatic id) whose schema names a plain `id` field, or
the other way round, is the same column with or without an owned sequence: the sequence is detached or attached
in place, never by dropping the column and its values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sovrium_tui.identifiers import serial_sequence_name
from tests.acceptance_support import Cli, app_schema, field, table, write_schema

AUTOMATIC_ID = table(1, "users", field(1, "name", required=True))
USER_ID = table(1, "users", field(3, "id", "integer", required=True), field(1, "name", required=True))


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return Cli(tmp_path, database_url)


def _schema(cli: Cli, users: dict[str, Any]) -> Path:
    return write_schema(cli.cwd / "app.yaml", app_schema(users))


async def _ids_and_names(db: asyncpg.Connection) -> list[tuple[int, str]]:
    return [(r["id"], r["name"]) for r in await db.fetch("SELECT id, name FROM users ORDER BY id")]


async def _sequences(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch("SELECT relname FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace")
    return sorted(r["relname"] for r in rows)


async def test_a_hand_made_serial_id_named_by_the_schema_as_a_plain_field_keeps_its_values(
    cli: Cli, db: asyncpg.Connection
) -> None:
    # as in Sovrium's modify-field-type specs: the table is there before the app is
    await db.execute(
        "CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL);"
        "INSERT INTO users (name) VALUES ('Alice'), ('Bob'); DELETE FROM users WHERE name = 'Alice';"
        "INSERT INTO users (name) VALUES ('Carol')"
    )
    schema = _schema(cli, USER_ID)
    written = json.loads(cli.db_ok("plan", schema, "--json").stdout)
    assert written["destructive_steps"] == []
    steps = (cli.cwd / written["path"]).read_text()
    assert "op: detach_sequence" in steps and "op: drop_column" not in steps

    cli.db_ok("migrate", schema)

    assert await _ids_and_names(db) == [(2, "Bob"), (3, "Carol")]
    assert await _sequences(db) == []
    default = "SELECT column_default FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'id'"
    assert await db.fetchval(default) is None
    assert "no drift" in cli.db_ok("drift").stdout


async def test_an_automatic_id_given_up_for_an_id_field_and_back_keeps_every_id_and_numbers_on(
    cli: Cli, db: asyncpg.Connection
) -> None:
    cli.db_ok("migrate", _schema(cli, AUTOMATIC_ID))
    await db.execute("INSERT INTO users (name) VALUES ('Alice'), ('Bob'), ('Carol'); DELETE FROM users WHERE id = 3")
    assert await _sequences(db) == ["users_id_seq"]

    cli.db_ok("migrate", _schema(cli, USER_ID))  # version 2: id is the app's own integer
    assert await _ids_and_names(db) == [(1, "Alice"), (2, "Bob")]
    assert await _sequences(db) == []
    await db.execute("INSERT INTO users (id, name) VALUES (40, 'Dan')")

    cli.db_ok("migrate", _schema(cli, AUTOMATIC_ID))  # version 3: numbered again, after the largest id
    assert await _ids_and_names(db) == [(1, "Alice"), (2, "Bob"), (40, "Dan")]
    assert await db.fetchval("INSERT INTO users (name) VALUES ('Eve') RETURNING id") == 41
    assert "no drift" in cli.db_ok("drift").stdout

    cli.db_ok("rollback", "--to", "2", "--yes")  # the sequence goes; the ids stay
    assert await _sequences(db) == []
    assert await _ids_and_names(db) == [(1, "Alice"), (2, "Bob"), (40, "Dan"), (41, "Eve")]
    assert "no drift" in cli.db_ok("drift").stdout

    cli.db_ok("rollback", "--to", "1", "--yes")  # and comes back, numbering after the largest
    assert await _sequences(db) == ["users_id_seq"]
    assert await db.fetchval("INSERT INTO users (name) VALUES ('Fay') RETURNING id") == 42
    assert "no drift" in cli.db_ok("drift").stdout


async def test_an_id_field_with_empty_values_made_serial_numbers_them(cli: Cli, db: asyncpg.Connection) -> None:
    optional_id = table(1, "users", field(3, "id", "integer"), field(1, "name", required=True))
    cli.db_ok("migrate", _schema(cli, optional_id))
    await db.execute("INSERT INTO users (id, name) VALUES (7, 'Alice'), (NULL, 'Bob'), (-2, 'Carol')")

    cli.db_ok("migrate", _schema(cli, AUTOMATIC_ID))

    assert await _ids_and_names(db) == [(-2, "Carol"), (7, "Alice"), (8, "Bob")]
    assert await db.fetchval("INSERT INTO users (name) VALUES ('Dan') RETURNING id") == 9
    assert "no drift" in cli.db_ok("drift").stdout


async def test_a_sequence_of_a_renamed_table_is_found_by_its_own_name(cli: Cli, db: asyncpg.Connection) -> None:
    cli.db_ok("migrate", _schema(cli, AUTOMATIC_ID))
    await db.execute("INSERT INTO users (name) VALUES ('Alice')")
    cli.db_ok("migrate", _schema(cli, {**AUTOMATIC_ID, "name": "members"}))  # PostgreSQL keeps users_id_seq
    assert await _sequences(db) == ["users_id_seq"]

    renamed_user_id = {**USER_ID, "name": "members"}
    cli.db_ok("migrate", _schema(cli, renamed_user_id))

    assert await _sequences(db) == []
    assert [tuple(r) for r in await db.fetch("SELECT id, name FROM members")] == [(1, "Alice")]
    assert "no drift" in cli.db_ok("drift").stdout


async def test_a_key_made_bigserial_numbers_on_from_a_bigint_sequence(cli: Cli, db: asyncpg.Connection) -> None:
    orders = table(2, "orders", field(1, "buyer", "relationship", relatedTable="users"))
    cli.db_ok("migrate", write_schema(cli.cwd / "app.yaml", app_schema(AUTOMATIC_ID, orders)))
    await db.execute("INSERT INTO users (name) VALUES ('Alice'), ('Bob'); INSERT INTO orders (buyer) VALUES (2)")
    sequence_type = "SELECT data_type FROM information_schema.sequences WHERE sequence_name = 'users_id_seq'"
    assert await db.fetchval(sequence_type) == "integer"

    big = {**AUTOMATIC_ID, "primaryKey": {"type": "bigserial"}}
    cli.db_ok("migrate", write_schema(cli.cwd / "app.yaml", app_schema(big, orders)))

    assert await db.fetchval(sequence_type) == "bigint"
    assert await _ids_and_names(db) == [(1, "Alice"), (2, "Bob")]
    assert await db.fetchval("INSERT INTO users (name) VALUES ('Carol') RETURNING id") == 3
    await db.execute("INSERT INTO users (id, name) VALUES (5000000000, 'Big')")
    assert await db.fetchval("SELECT buyer FROM orders") == 2
    assert "no drift" in cli.db_ok("drift").stdout


@pytest.mark.parametrize(
    ("table_name", "column"),
    [
        ("users", "id"),
        ("t" * 63, "id"),
        ("a" * 40, "b" * 40),
        ("short", "c" * 63),
        ("é" * 31, "id"),  # two bytes a letter: cut on a letter's edge
        ("x" * 29, "ü" * 20),
        ("Mixed Case", "Nö Id"),
    ],
)
async def test_the_sequence_name_is_the_one_postgresql_gives(
    db: asyncpg.Connection, table_name: str, column: str
) -> None:
    quoted_table, quoted_column = ('"' + name.replace('"', '""') + '"' for name in (table_name, column))
    await db.execute(f"CREATE TABLE {quoted_table} ({quoted_column} serial)")
    given = await db.fetchval("SELECT pg_get_serial_sequence($1, $2)", quoted_table, column)
    assert given.split(".", 1)[1].strip('"') == serial_sequence_name(table_name, column)


async def test_an_id_field_turned_uuid_key_is_refused_as_the_loss_it_is_not_a_cast_that_cannot_work(
    cli: Cli, db: asyncpg.Connection
) -> None:
    cli.db_ok("migrate", _schema(cli, USER_ID))
    await db.execute("INSERT INTO users (id, name) VALUES (1, 'Alice'), (2, 'Bob')")
    uuid_key = {**AUTOMATIC_ID, "primaryKey": {"type": "uuid"}}

    refused = cli.db_fails("migrate", _schema(cli, uuid_key))
    assert "drops column users.id (2 non-null values)" in refused.stderr
    assert await _ids_and_names(db) == [(1, "Alice"), (2, "Bob")]

    cli.db_ok("migrate", _schema(cli, uuid_key), "--allow-destructive")
    ids = [row["id"] for row in await db.fetch("SELECT id FROM users")]
    assert len(ids) == 2 and all(len(str(i)) == 36 for i in ids)
    assert "no drift" in cli.db_ok("drift").stdout


async def test_an_identity_column_made_by_hand_is_a_serial_id_to_the_schema(cli: Cli, db: asyncpg.Connection) -> None:
    await db.execute(
        "CREATE TABLE users (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);"
        "INSERT INTO users (name) VALUES ('Alice'), ('Bob')"
    )
    text_name = {**AUTOMATIC_ID, "fields": [field(1, "name", "long-text", required=True)]}
    cli.db_ok("migrate", _schema(cli, text_name))  # the automatic id: the identity numbers as SERIAL would
    assert await db.fetchval("SELECT attidentity FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum = 1")
    assert await db.fetchval("INSERT INTO users (name) VALUES ('Carol') RETURNING id") == 3
    assert "no drift" in cli.db_ok("drift").stdout

    user_id = {**USER_ID, "fields": [field(3, "id", "integer", required=True), *text_name["fields"]]}
    cli.db_ok("migrate", _schema(cli, user_id))  # a plain id: the identity is dropped, with its sequence
    assert await _ids_and_names(db) == [(1, "Alice"), (2, "Bob"), (3, "Carol")]
    assert await _sequences(db) == []
    assert "no drift" in cli.db_ok("drift").stdout

    cli.db_ok("rollback", "--to", "1", "--yes")  # numbered again, after the largest id
    assert await db.fetchval("INSERT INTO users (name) VALUES ('Dan') RETURNING id") == 4
    assert "no drift" in cli.db_ok("drift").stdout
