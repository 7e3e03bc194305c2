"""Which database a command talks to, and opening a connection that fails fast with a readable reason."""

from __future__ import annotations

import os

# This module is on the start-up fast path: no dataclasses, typing, errors, pathlib or urllib (together about
# 15 ms) until they are needed.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    import asyncpg

    from sovrium_tui.errors import ConnectionFailed
    from sovrium_tui.execution.server import LocalServer

EMBEDDED_DATA_DIR = os.path.join(".sovrium", "pgdata")  # under the working directory
DEFAULT_CONNECT_TIMEOUT = 5.0

# How this tool's own servers (the embedded one, test clusters) are reached: only on a Unix socket.
SUPERUSER = "postgres"
PORT = 5432
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux; leave room for ".s.PGSQL.5432"


def socket_directory(cluster: str) -> str:
    """Where a cluster of ours listens: its own directory when the path is short enough for a Unix socket, else
    a short one in /tmp named after it."""
    if len(cluster) <= _MAX_SOCKET_PATH:
        return cluster
    import hashlib

    return os.path.join("/tmp", f"sovrium-pg-{hashlib.sha256(cluster.encode()).hexdigest()[:12]}")


def local_url(socket_dir: str, database: str = "postgres") -> str:
    return f"postgresql://{SUPERUSER}@/{database}?host={socket_dir}&port={PORT}"


def live_pid(data_dir: str) -> int | None:
    """The postmaster's pid when the cluster in `data_dir` is up (read from postmaster.pid, no subprocess)."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid"), encoding="utf-8") as pid_file:
            pid = int(pid_file.readline())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


# What every session of this tool relies on to read SQL and print catalog texts the same way, whatever the
# server's, database's or role's defaults: string literals as the SQL standard says (so no quoting can be
# read differently), names resolved in `public` first, and temporal values in one style. Sent when a
# connection starts (here and on the start-up fast path) and again by each migration transaction.
SESSION_SETTINGS = {
    "standard_conforming_strings": "on",
    "search_path": "public",
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "quote_all_identifiers": "off",  # on (a database default) would print every name quoted: false drift
}


class DatabaseTarget:
    """A resolved database URL and where it came from (flag, environment or embedded); a value."""

    __slots__ = ("origin", "url")

    def __init__(self, url: str, origin: str) -> None:
        self.url = url
        self.origin = origin  # "--database-url", "DATABASE_URL" or "embedded"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseTarget) and (self.url, self.origin) == (other.url, other.origin)

    def __hash__(self) -> int:
        return hash((self.url, self.origin))

    def __repr__(self) -> str:
        return f"DatabaseTarget(url={redact_url(self.url)!r}, origin={self.origin!r})"

    @property
    def display_url(self) -> str:
        return redact_url(self.url)


def embedded_server(workdir: Path | None = None) -> LocalServer:
    """The embedded cluster kept in `.sovrium/pgdata` under the working directory."""
    from pathlib import Path

    from sovrium_tui.execution.server import LARGE_LOCK_TABLE, LocalServer, embedded_bin_dir

    data_dir = ((workdir or Path.cwd()) / EMBEDDED_DATA_DIR).absolute()
    return LocalServer(data_dir=data_dir, bin_dir=embedded_bin_dir(), settings=LARGE_LOCK_TABLE)


def resolve_database(explicit_url: str | None, *, workdir: Path | None = None) -> DatabaseTarget:
    """`--database-url`, else `DATABASE_URL`, else the embedded server (started on first use)."""
    if explicit_url is not None and not explicit_url.strip():
        from sovrium_tui.errors import UsageError

        # `--database-url "$PROD_URL"` with the variable unset must not quietly migrate the embedded server
        raise UsageError("--database-url is empty (an unset variable?): give a URL, or leave the flag out")
    if explicit_url:
        return DatabaseTarget(explicit_url, "--database-url")
    from_env = os.environ.get("DATABASE_URL")
    if from_env:
        return DatabaseTarget(from_env, "DATABASE_URL")
    # Up already (every command but the first): its URL without the server module (pathlib, subprocess …)
    data_dir = os.path.abspath(os.path.join(workdir or os.getcwd(), EMBEDDED_DATA_DIR))
    if live_pid(data_dir) is not None:
        return DatabaseTarget(local_url(socket_directory(os.path.realpath(data_dir))), "embedded")
    return DatabaseTarget(embedded_server(workdir).ensure_running(), "embedded")


_SECRET_PARAMETERS = frozenset({"password", "sslpassword", "passfile"})


def redact_url(url: str) -> str:
    """The URL with any password (in `user:password@` or a `password=` parameter) replaced by `***`."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    if password is not None:
        netloc = parts.netloc.rsplit("@", 1)
        userinfo = netloc[0].split(":", 1)[0] + ":***"
        parts = parts._replace(netloc=f"{userinfo}@{netloc[1]}")
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(key.lower() in _SECRET_PARAMETERS for key, _ in pairs):
            hidden = [(key, "***" if key.lower() in _SECRET_PARAMETERS else value) for key, value in pairs]
            parts = parts._replace(query=urlencode(hidden, safe="/*,:"))
    return urlunsplit(parts)


DEFAULT_LOCK_TIMEOUT = "5s"


async def connect(
    url: str, *, timeout: float = DEFAULT_CONNECT_TIMEOUT, lock_timeout: str = DEFAULT_LOCK_TIMEOUT
) -> asyncpg.Connection:
    """Open one connection, or raise ConnectionFailed saying why in words a user can act on.

    Every statement on it gives up waiting for a lock after `lock_timeout`, so no command hangs behind a
    session holding a table lock (a migration's transaction sets its own, from --lock-timeout).
    """
    import socket

    import asyncpg

    from sovrium_tui.errors import ConnectionFailed, UsageError

    # No statement timeout for what the tool reads (a database default of 1 ms failed `status`); an apply sets
    # its own for the transaction (--statement-timeout).
    settings = {
        **SESSION_SETTINGS,
        "lock_timeout": lock_timeout,
        "statement_timeout": "0",
        "application_name": "sovrium",
    }
    try:
        return await asyncpg.connect(url, timeout=timeout, server_settings=settings)
    except asyncpg.InvalidParameterValueError as failure:
        raise UsageError(
            f"the server refused a setting (--lock-timeout {lock_timeout!r}, or the URL's options): {failure}"
        ) from failure
    except asyncpg.InvalidPasswordError as failure:
        raise ConnectionFailed(f"Database connection failed: {failure}") from failure
    except asyncpg.InvalidCatalogNameError as failure:
        raise ConnectionFailed(f"Database connection failed: {failure}") from failure
    except asyncpg.PostgresError as failure:
        raise ConnectionFailed(f"Database connection failed: {failure}") from failure
    except (socket.gaierror, ConnectionRefusedError, TimeoutError, FileNotFoundError) as failure:
        raise unreachable(url, failure, timeout) from failure
    except (OSError, asyncpg.InterfaceError, ValueError) as failure:
        raise ConnectionFailed(f"Database connection failed: {failure}") from failure


def unreachable(url: str, failure: OSError, timeout: float) -> ConnectionFailed:
    """The error for a server that does not exist, refuses us, or does not answer in time."""
    import socket

    from sovrium_tui.errors import ConnectionFailed

    where = _host_of(url)
    if isinstance(failure, FileNotFoundError):
        return _missing_file(url, failure)
    if isinstance(failure, socket.gaierror):
        before_host = url.partition("://")[2].partition("/")[0]
        if before_host.count("@") > 1:  # `user:p@ss@host`: what follows the first `@` was taken for the host
            hint = "the URL has more than one '@' before its host: write an '@' in a user name or password as %40"
            return ConnectionFailed(f"Database connection failed: {hint}")
        return ConnectionFailed(f"Database connection failed: unknown host {where.rsplit(':', 1)[0]!r}")
    if isinstance(failure, ConnectionRefusedError):
        return ConnectionFailed(f"Database connection failed: connection refused by {where} (is the server running?)")
    return ConnectionFailed(f"Database connection failed: no answer from {where} within {timeout:g} s")


def _missing_file(url: str, failure: FileNotFoundError) -> ConnectionFailed:
    """A file the connection needs is not there: the Unix socket (no server behind it), or a file the URL names
    (`sslrootcert=…`, which asyncpg's error does not name)."""
    from urllib.parse import parse_qsl, urlsplit

    from sovrium_tui.errors import ConnectionFailed

    socket_file = _socket_file_of(url)
    if socket_file is not None:
        hint = f"no server socket at {socket_file} (is the server running, and is that its socket directory?)"
        return ConnectionFailed(f"Database connection failed: {hint}")
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query)
        tcp = bool(parts.hostname) or any(key == "host" for key, _ in query)
    except ValueError:
        query, tcp = [], True
    named = [(key, value) for key, value in query if key in _FILE_PARAMETERS]
    missing = next(((key, value) for key, value in named if not os.path.exists(os.path.expanduser(value))), None)
    if missing is not None:
        hint = f"{missing[0]} file {missing[1]!r} does not exist"
    elif tcp:
        hint = str(failure)
    else:
        hint = "no server socket in the default socket directories (is the server running? ?host=/dir names another)"
    return ConnectionFailed(f"Database connection failed: {hint}")


_FILE_PARAMETERS = frozenset({"sslrootcert", "sslcert", "sslkey", "sslcrl", "passfile"})


def _socket_file_of(url: str) -> str | None:
    """The Unix socket a URL names (`?host=/dir&port=N`, or the directory as the host), if it names one."""
    from urllib.parse import parse_qs, unquote, urlsplit

    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        host = (query.get("host") or [""])[0]
        if not host:
            host = unquote(parts.netloc.rpartition("@")[2])
            host = host.rpartition(":")[0] if parts.port else host
        port = (query.get("port") or [""])[0] or str(parts.port or 5432)
    except ValueError:
        return None
    host = host.split(",")[0]
    return f"{host.rstrip('/')}/.s.PGSQL.{port.split(',')[0]}" if host.startswith("/") else None


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or "local socket"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparseable URL>"
