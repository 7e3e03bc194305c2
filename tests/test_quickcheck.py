"""The start-up fast path's own wire-protocol client reads the recorded checksum, or admits it cannot."""

from __future__ import annotations

import subprocess
import sys

import asyncpg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sovrium_tui.errors import ConnectionFailed
from sovrium_tui.execution import quickcheck, store
from sovrium_tui.execution.quickcheck import recorded_checksum
from tests.conftest import ROLE_PASSWORD

CHECKSUM = "ab" * 32


async def _record(db: asyncpg.Connection) -> None:
    await store.ensure_store(db)
    await store.write_state(db, version=4, checksum=CHECKSUM, schema='{"tables": []}', fingerprint="f")


async def test_a_database_never_migrated_has_no_checksum(database_url: str) -> None:
    found = recorded_checksum(database_url, "customers")
    assert found is not None and found.checksum is None and found.version == 0


async def test_reads_the_recorded_checksum_version_and_first_table(db: asyncpg.Connection, database_url: str) -> None:
    await _record(db)
    found = recorded_checksum(database_url, "customers")
    assert found is not None
    assert (found.checksum, found.version, found.first_table_exists) == (CHECKSUM, 4, False)
    await db.execute("CREATE TABLE customers (id int)")
    found = recorded_checksum(database_url, "customers")
    assert found is not None and found.first_table_exists


async def test_a_hostile_table_name_is_only_ever_a_literal(db: asyncpg.Connection, database_url: str) -> None:
    await _record(db)
    found = recorded_checksum(database_url, "x'); DROP TABLE system.schema_checksum; --")
    assert found is not None and not found.first_table_exists
    assert await db.fetchval("SELECT count(*) FROM system.schema_checksum") == 1


@pytest.mark.parametrize("role", ["sovrium_scram_user", "sovrium_md5_user"])
async def test_password_authentication(
    db: asyncpg.Connection, database_url: str, password_roles: dict[str, str], role: str
) -> None:
    await _record(db)
    with_password = database_url.replace("postgres@", f"{role}:{ROLE_PASSWORD.replace(' ', '%20')}@", 1)
    found = recorded_checksum(with_password, None)
    assert found is not None and found.checksum == CHECKSUM
    wrong = database_url.replace("postgres@", f"{role}:wrong@", 1)
    assert recorded_checksum(wrong, None) is None, "a refused login falls back to the full path"


def test_a_refused_connection_is_reported_at_once_as_the_full_path_would() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionFailed, match=r"^Database connection failed: connection refused by 127\.0\.0\.1"):
        recorded_checksum(f"postgresql://postgres@127.0.0.1:{port}/postgres", None)


def test_a_socket_that_does_not_exist_falls_back_to_the_full_path() -> None:
    assert recorded_checksum("postgresql://postgres@/postgres?host=/nonexistent-dir", None) is None


def test_tls_required_falls_back_to_the_full_client() -> None:
    assert recorded_checksum("postgresql://postgres@127.0.0.1:1/postgres?sslmode=require", None) is None


def test_the_fast_path_module_does_not_import_asyncio_or_asyncpg() -> None:
    code = (
        "import sys, sovrium_tui.execution.quickcheck as q; "
        "print(sorted(m for m in ('asyncio', 'asyncpg', 'textual', 'sqlglot') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _read(parts: object) -> tuple[object, ...]:
    return tuple(getattr(parts, name) for name in ("scheme", "user", "password", "host", "port", "database", "query"))


_PIECE = st.text(alphabet="aZ09._-/@:%+?#&=[] \té", max_size=6)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    """URLs built from pieces that are sometimes plain and sometimes need decoding or make no sense."""
    scheme = draw(st.sampled_from(["postgresql", "postgres", "POSTGRESQL", "mysql", "postgresql+x"]))
    user, password = draw(_PIECE), draw(st.none() | _PIECE)
    port = draw(st.none() | st.integers(0, 99999).map(str) | _PIECE)
    userinfo = f"{user}{'' if password is None else ':' + password}@" if user or password is not None else ""
    url = f"{scheme}://{userinfo}{draw(_PIECE)}{'' if port is None else ':' + port}/{draw(_PIECE)}"
    query = draw(st.lists(st.tuples(_PIECE, _PIECE), max_size=3))
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query) if query else "")


@settings(max_examples=500, deadline=None)
@given(_urls())
@example("postgresql://app:secret@DB.Example:5433/app?sslmode=disable&host=/tmp/s")
@example("postgresql:///bench?host=/tmp/pg&port=5432&port=6543")
@example("postgres://u:@h:70000/d")
@example("postgresql://u:p@h:70000/d")  # beyond the last port: urllib refuses it, so must this
def test_a_url_read_without_urllib_reads_as_urllib_reads_it(url: str) -> None:
    simple = quickcheck._simple_url_parts(url)
    if simple is None:
        return  # urllib reads it
    assert _read(simple) == _read(quickcheck._urllib_url_parts(url))


def test_plain_urls_are_read_without_urllib() -> None:
    read = quickcheck._simple_url_parts("postgresql://app:secret@db.example:5433/app?host=/run/pg&sslmode=disable")
    assert read is not None
    assert _read(read) == (
        "postgresql",
        "app",
        "secret",
        "db.example",
        5433,
        "app",
        {"host": "/run/pg", "sslmode": "disable"},
    )
    assert quickcheck._simple_url_parts("postgresql://app:s%40cret@db/app") is None  # decoding: urllib's job


def test_a_port_out_of_range_is_left_to_the_full_client() -> None:
    assert recorded_checksum("postgresql://u@localhost/db?port=99999", None) is None
