"""Names at PostgreSQL's 63-byte limit: what fits applies, reads back without drift and rolls back; what would be
cut alike is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from sovrium_tui import services
from sovrium_tui.errors import SchemaInvalid

TABLE = "t" * 51  # the longest table name whose three a_trigger_<table>_… names stay apart
FIELD = "f" * 63

SCHEMA = f"""
name: long-names
tables:
  - id: 1
    name: {TABLE}
    fields:
      - {{id: 1, name: {FIELD}, type: single-line-text, unique: true, indexed: true}}
      - {{id: 2, name: status, type: single-select, options: [a, b]}}
  - id: 2
    name: orders
    fields:
      - {{id: 1, name: {FIELD}, type: relationship, relatedTable: {TABLE}, relationType: many-to-one}}
      - {{id: 2, name: looked_up, type: lookup, relationshipField: {FIELD}, relatedField: {FIELD}}}
"""


async def test_names_cut_to_63_bytes_apply_read_back_and_roll_back(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA)
    await services.migrate(schema, database_url=database_url)
    await db.execute(f"INSERT INTO {TABLE} ({FIELD}) VALUES ('x')")
    await db.execute(f"INSERT INTO orders ({FIELD}) VALUES (1)")
    assert await db.fetchval("SELECT looked_up FROM orders") == "x"
    assert (await services.drift(database_url=database_url)).differences == ()
    names = {r["conname"] for r in await db.fetch("SELECT conname FROM pg_constraint WHERE conname LIKE 't%'")}
    assert f"{TABLE}_{FIELD}"[:63] in names  # the unique key, cut as PostgreSQL cuts it

    await services.rollback(reason="back", force=True, database_url=database_url)
    assert await db.fetchval(f"SELECT to_regclass('{TABLE}')") is None
    assert (await services.drift(database_url=database_url)).differences == ()


async def test_a_table_name_whose_trigger_names_would_be_cut_alike_is_refused_before_anything_runs(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA.replace(TABLE, TABLE + "t"))
    with pytest.raises(SchemaInvalid, match="3 triggers of table"):
        await services.migrate(schema, database_url=database_url)
    assert await db.fetchval("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == 0
