"""The harness itself: every test gets its own empty database on a real server."""

from __future__ import annotations

import asyncpg


async def test_each_test_gets_an_empty_database(db: asyncpg.Connection) -> None:
    tables = await db.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
    )
    assert tables == 0
    await db.execute("CREATE TABLE scratch (id int)")


async def test_a_table_made_by_another_test_is_not_visible(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT to_regclass('public.scratch')") is None
    await db.execute("CREATE TABLE scratch (id int)")


async def test_server_is_a_supported_postgresql(db: asyncpg.Connection) -> None:
    version = int(await db.fetchval("SHOW server_version_num"))
    assert version >= 150000


async def test_server_is_the_version_ci_asked_for(db: asyncpg.Connection) -> None:
    """CI runs the database tests a second time on PostgreSQL 15; prove that run really is on 15."""
    import os

    custom_server = "SOVRIUM_TEST_PG_BIN" in os.environ or "SOVRIUM_TEST_DATABASE_URL" in os.environ
    expected_major = os.environ.get("SOVRIUM_TEST_EXPECT_MAJOR", "" if custom_server else "18")
    version = int(await db.fetchval("SHOW server_version_num"))
    if expected_major:
        assert version // 10000 == int(expected_major)
    else:
        assert version >= 150000
