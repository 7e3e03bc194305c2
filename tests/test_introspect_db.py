"""Introspection gives back exactly what the compiler made: for every field type, and with a stable fingerprint."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import pytest

from sovrium_tui.catalog import compile_app
from sovrium_tui.catalog.introspect import fingerprint, introspect
from sovrium_tui.planning.ddl import create_catalog_sql
from sovrium_tui.schema.model import CheckSpec, IndexSpec
from tests.test_compile import FIELD_CASES, RELATED, one_table_app


async def _build(db: asyncpg.Connection, app: object) -> object:
    catalog = compile_app(app)  # type: ignore[arg-type]
    for statement in create_catalog_sql(catalog):
        await db.execute(statement)
    return catalog


@pytest.mark.parametrize("case", FIELD_CASES, ids=[f"{c[0].type}-{n}" for n, c in enumerate(FIELD_CASES)])
async def test_each_field_type_introspects_equal_to_its_compiled_catalog(db: asyncpg.Connection, case: tuple) -> None:  # type: ignore[type-arg]
    compiled = await _build(db, one_table_app(case[0], others=RELATED))
    assert await introspect(db) == compiled


async def test_user_written_check_and_where_come_back_as_written(db: asyncpg.Connection) -> None:
    app = one_table_app(
        replace(FIELD_CASES[0][0], id=1, name="a"),
        checks=(CheckSpec("a_not_empty", "a <> '' AND length(a) < 50"),),
        indexes=(IndexSpec("idx_a_set", ("a",), where="a IS NOT NULL AND a <> 'x'"),),
    )
    compiled = await _build(db, app)
    live = await introspect(db)
    assert live == compiled
    table = live.table("t")
    assert table is not None
    assert table.constraint("a_not_empty").definition == "CHECK (a <> '' AND length(a) < 50)"  # type: ignore[union-attr]


async def test_fingerprint_is_stable_and_changes_with_the_schema(db: asyncpg.Connection) -> None:
    await _build(db, one_table_app(replace(FIELD_CASES[0][0], id=1, name="a")))
    first = fingerprint(await introspect(db))
    assert fingerprint(await introspect(db)) == first
    await db.execute("CREATE INDEX manual_idx ON t (a)")
    assert fingerprint(await introspect(db)) != first


async def test_the_system_schema_is_never_part_of_the_catalog(db: asyncpg.Connection) -> None:
    await db.execute("CREATE SCHEMA system; CREATE TABLE system.schema_checksum (id text)")
    assert (await introspect(db)).tables == ()


async def test_introspection_inside_a_transaction_keeps_the_callers_settings(db: asyncpg.Connection) -> None:
    async with db.transaction():
        await db.execute("SET LOCAL TimeZone = 'Asia/Tokyo'")
        await introspect(db)
        assert await db.fetchval("SHOW TimeZone") == "Asia/Tokyo"
