"""Connection failures of every kind end quickly with `Database connection failed: …`, never a traceback."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator

import pytest

from sovrium_tui.errors import ConnectionFailed
from sovrium_tui.execution.connect import connect, redact_url, resolve_database


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port on loopback that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


async def test_refused_connection_is_reported() -> None:
    with pytest.raises(ConnectionFailed, match=r"^Database connection failed: connection refused"):
        await connect(f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres")


@pytest.mark.parametrize(
    ("url", "socket_file"),
    [
        ("postgresql://postgres@/postgres?host=/nonexistent-dir&port=5999", "/nonexistent-dir/.s.PGSQL.5999"),
        ("postgresql://postgres@%2Fnonexistent-dir/postgres", "/nonexistent-dir/.s.PGSQL.5432"),
    ],
)
async def test_a_unix_socket_that_is_not_there_is_named(url: str, socket_file: str) -> None:
    message = f"^Database connection failed: no server socket at {re.escape(socket_file)} \\(is the server running"
    with pytest.raises(ConnectionFailed, match=message):
        await connect(url)


async def test_a_certificate_file_the_url_names_that_is_not_there_is_named_not_taken_for_a_socket() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres?sslmode=verify-full&sslrootcert=/no-such.crt"
    with pytest.raises(ConnectionFailed, match=r"^Database connection failed: sslrootcert file '/no-such\.crt' does"):
        await connect(url)


async def test_an_unescaped_at_sign_in_a_password_is_named_not_taken_for_a_host() -> None:
    with pytest.raises(ConnectionFailed, match=r"more than one '@' before its host: .* as %40$"):
        await connect(f"postgresql://u:tops@ecret@127.0.0.1:{_closed_port()}/x", timeout=5)


async def test_unknown_host_is_reported() -> None:
    with pytest.raises(ConnectionFailed, match=r"unknown host 'no-such-host\.invalid'"):
        await connect("postgresql://postgres@no-such-host.invalid:5432/postgres")


async def test_server_that_never_answers_times_out_within_the_limit(silent_server: int) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.5 s"):
        await connect(f"postgresql://postgres@127.0.0.1:{silent_server}/postgres", timeout=0.5)
    assert time.monotonic() - started < 5


async def test_missing_database_is_reported(database_url: str) -> None:
    missing = database_url.replace("/sovrium_test_", "/no_such_db_", 1)
    with pytest.raises(ConnectionFailed, match=r'database "no_such_db_\w+" does not exist'):
        await connect(missing)


async def test_unknown_role_is_reported(database_url: str) -> None:
    stranger = database_url.replace("postgres@", "nobody_here@", 1)
    with pytest.raises(ConnectionFailed, match=r'role "nobody_here" does not exist'):
        await connect(stranger)


async def test_malformed_url_is_reported() -> None:
    with pytest.raises(ConnectionFailed, match=r"^Database connection failed: "):
        await connect("postgresql://[not-a-host/db")


def test_password_is_hidden_when_a_url_is_shown() -> None:
    assert redact_url("postgresql://app:s3cret@db.example:5432/crm") == "postgresql://app:***@db.example:5432/crm"
    assert redact_url("postgresql://app@db/crm") == "postgresql://app@db/crm"


def test_explicit_url_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env/db")
    assert resolve_database("postgresql://flag/db").origin == "--database-url"
    assert resolve_database(None).url == "postgresql://env/db"


def test_connect_never_hangs_event_loop_cleanup() -> None:
    """A failed connect leaves no pending task behind (the CLI runs it under asyncio.run)."""

    async def attempt() -> None:
        with pytest.raises(ConnectionFailed):
            await connect(f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres")

    asyncio.run(attempt())
