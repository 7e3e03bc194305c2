"""The start-up fast path: read the recorded checksum with one query, without importing asyncio or asyncpg.

Importing asyncpg alone costs ≈ 80–95 ms, the whole budget of an unchanged start-up, so this module speaks
just enough of the PostgreSQL wire protocol (v3: startup, trust / cleartext / MD5 / SCRAM-SHA-256
authentication, one simple query) with the standard library. Anything it does not handle — TLS required,
an unexpected message, any error — returns None, and the caller takes the full asyncpg path instead.
"""

from __future__ import annotations

import _socket  # `socket` wraps it in enums and file objects this module does not use (about 6 ms to import)
import os
import struct

from sovrium_tui.execution.connect import SESSION_SETTINGS

_PROTOCOL_V3 = 196608
_TIMEOUT = 5.0


class _Unsupported(Exception):
    """This connection needs something only the full client does; fall back to it."""


# Plain classes, not dataclasses or NamedTuples: this module is on the start-up path, where importing
# dataclasses (about 10 ms) or typing (about 4 ms) would cost more than the check itself.
class RecordedChecksum:
    __slots__ = ("checksum", "first_table_exists", "version")

    def __init__(self, checksum: str | None, version: int, first_table_exists: bool) -> None:
        self.checksum = checksum  # None: no bookkeeping yet (never migrated)
        self.version = version
        self.first_table_exists = first_table_exists


class _Target:
    __slots__ = ("address", "database", "local", "password", "user")

    def __init__(
        self, address: str | tuple[str, int], user: str, password: str | None, database: str, *, local: bool
    ) -> None:
        self.address = address
        self.user = user
        self.password = password
        self.database = database
        self.local = local


def recorded_checksum(url: str, first_table: str | None) -> RecordedChecksum | None:
    """The singleton checksum row, or None when the fast path cannot tell (the caller then does it fully).

    A server that refuses, does not answer or does not exist raises ConnectionFailed, as the full path would.
    """
    try:
        target = _parse(url)
        with _Connection(target) as connection:
            rows = connection.query(_checksum_query(first_table))
    except (TimeoutError, ConnectionRefusedError, _socket.gaierror) as failure:
        # The full client would only fail the same way, a few seconds later: say it now.
        from sovrium_tui.execution.connect import unreachable

        raise unreachable(url, failure, _TIMEOUT) from failure
    except (_Unsupported, OSError, ValueError, struct.error, IndexError):
        return None
    if rows is None:
        return RecordedChecksum(checksum=None, version=0, first_table_exists=False)
    if not rows:
        return RecordedChecksum(checksum=None, version=0, first_table_exists=False)
    checksum, version, exists = rows[0]
    return RecordedChecksum(checksum=checksum, version=int(version or 0), first_table_exists=exists == "t")


def _checksum_query(first_table: str | None) -> str:
    table_check = "true"
    if first_table is not None:
        literal = "'" + first_table.replace("'", "''") + "'"
        table_check = f"to_regclass('public.' || quote_ident({literal})) IS NOT NULL"
    return f"SELECT checksum, version, {table_check} FROM system.schema_checksum WHERE id = 'singleton'"


class _UrlParts:
    """What `_parse` reads of a URL: each part decoded, None where the URL has none."""

    __slots__ = ("database", "host", "password", "port", "query", "scheme", "user")

    def __init__(
        self,
        scheme: str,
        *,
        user: str | None,
        password: str | None,
        host: str | None,
        port: int | None,
        database: str,
        query: dict[str, str],
    ) -> None:
        self.scheme, self.user, self.password, self.host, self.port = scheme, user, password, host, port
        self.database, self.query = database, query


def _url_parts(url: str) -> _UrlParts:
    """The URL's parts: read here when nothing in it needs decoding, else by urllib (5 ms to import)."""
    return _simple_url_parts(url) or _urllib_url_parts(url)


def _urllib_url_parts(url: str) -> _UrlParts:
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return _UrlParts(
        parts.scheme,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password else None,
        host=unquote(parts.hostname) if parts.hostname else None,
        port=parts.port,
        database=unquote(parts.path.lstrip("/")),
        query=query,
    )


# Characters that mean the same in every part of a URL, undecoded: anything else goes to urllib.
_PLAIN_URL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _plain(text: str, *, also: str = "") -> bool:
    return all(character in _PLAIN_URL_CHARACTERS or character in also for character in text)


def _simple_url_parts(url: str) -> _UrlParts | None:
    """`scheme://[user[:password]@][host][:port][/database][?key=value&…]` with plain characters only (a query
    value may also hold `/`, as `host=/run/postgresql` does); None for any other URL."""
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme.isalpha() or "#" in rest:
        return None
    rest, _, query_text = rest.partition("?")
    netloc, _, database = rest.partition("/")
    if not _plain(database):
        return None
    userinfo, at, hostport = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    host, colon_port, port_text = hostport.partition(":")
    if not (_plain(user) and _plain(password) and _plain(host) and port_text.isascii()):
        return None
    if (at and not user) or (colon and not password) or (colon_port and not port_text.isdigit()):
        return None
    if port_text and int(port_text) > 65535:
        return None  # urllib says why
    query: dict[str, str] = {}
    for pair in query_text.split("&") if query_text else ():
        key, equals, value = pair.partition("=")
        if not (key and equals and value and _plain(key) and _plain(value, also="/")):
            return None
        query[key] = value
    return _UrlParts(
        scheme.lower(),
        user=user if at else None,
        password=password or None,
        host=host.lower() or None,
        port=int(port_text) if port_text else None,
        database=database,
        query=query,
    )


def _parse(url: str) -> _Target:
    parts = _url_parts(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise _Unsupported(parts.scheme)
    query = parts.query
    if query.get("sslmode", "prefer") in ("require", "verify-ca", "verify-full"):
        raise _Unsupported("TLS")
    host = query.get("host") or parts.host or "/var/run/postgresql"
    port = int(query.get("port") or parts.port or 5432)
    if not 0 < port <= 65535:
        raise _Unsupported("port out of range")  # the full path says so
    user = parts.user or query.get("user") or os.environ.get("PGUSER") or _os_user()
    password = parts.password or query.get("password") or os.environ.get("PGPASSWORD")
    database = parts.database or query.get("dbname") or user
    if host.startswith("/"):
        return _Target(f"{host}/.s.PGSQL.{port}", user, password, database, local=True)
    return _Target((host, port), user, password, database, local=host in ("localhost", "127.0.0.1", "::1"))


def _os_user() -> str:
    import getpass

    return getpass.getuser()


class _Connection:
    def __init__(self, target: _Target) -> None:
        self.target = target
        family = _socket.AF_UNIX if isinstance(target.address, str) else _socket.AF_INET
        if not isinstance(target.address, str) and ":" in target.address[0]:
            family = _socket.AF_INET6
        self.sock = _socket.socket(family, _socket.SOCK_STREAM)
        self.sock.settimeout(_TIMEOUT)
        self.buffer = b""

    def __enter__(self) -> _Connection:
        self.sock.connect(self.target.address)
        self._startup()
        return self

    def __exit__(self, *_: object) -> None:
        try:  # noqa: SIM105 (contextlib is 3 ms of the start-up path)
            self.sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self.sock.close()

    # -- messages ------------------------------------------------------------------------------------

    def _send(self, kind: bytes, payload: bytes) -> None:
        self.sock.sendall(kind + struct.pack("!i", len(payload) + 4) + payload)

    def _read_exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise _Unsupported("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _receive(self) -> tuple[bytes, bytes]:
        header = self._read_exact(5)
        kind, length = header[:1], struct.unpack("!i", header[1:])[0]
        return kind, self._read_exact(length - 4)

    # -- startup and authentication -----------------------------------------------------------------

    def _startup(self) -> None:
        params = b"".join(
            key + b"\0" + value.encode() + b"\0"
            for key, value in (
                (b"user", self.target.user),
                (b"database", self.target.database),
                (b"application_name", "sovrium-migrate"),
                *((name.encode(), value) for name, value in SESSION_SETTINGS.items()),
            )
        )
        body = struct.pack("!i", _PROTOCOL_V3) + params + b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        scram: _Scram | None = None
        while True:
            kind, payload = self._receive()
            if kind == b"R":
                scram = self._authenticate(payload, scram)
            elif kind == b"E":
                raise _Unsupported("server refused")
            elif kind == b"Z":
                return
            elif kind not in (b"S", b"K", b"N"):
                raise _Unsupported(f"unexpected message {kind!r}")

    def _authenticate(self, payload: bytes, scram: _Scram | None) -> _Scram | None:
        code = struct.unpack("!i", payload[:4])[0]
        if code == 0:
            return scram
        password = self.target.password
        if password is None:
            raise _Unsupported("password needed")
        if code == 3:
            if not self.target.local:
                raise _Unsupported("cleartext password over the network")
            self._send(b"p", password.encode() + b"\0")
            return scram
        if code == 5:
            import hashlib

            inner = hashlib.md5(password.encode() + self.target.user.encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
            self._send(b"p", b"md5" + outer.encode() + b"\0")
            return scram
        if code == 10:
            if b"SCRAM-SHA-256\0" not in payload[4:]:
                raise _Unsupported("SASL mechanism")
            scram = _Scram(password)
            first = scram.client_first()
            self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
            return scram
        if code == 11 and scram is not None:
            self._send(b"p", scram.client_final(payload[4:]))
            return scram
        if code == 12 and scram is not None:
            scram.verify_server(payload[4:])
            return scram
        raise _Unsupported(f"authentication method {code}")

    # -- one simple query ---------------------------------------------------------------------------

    def query(self, sql: str) -> list[tuple[str | None, ...]] | None:
        """Rows as text, or None when the query failed with an undefined table or schema."""
        self._send(b"Q", sql.encode() + b"\0")
        rows: list[tuple[str | None, ...]] = []
        missing = False
        while True:
            kind, payload = self._receive()
            if kind == b"D":
                rows.append(_data_row(payload))
            elif kind == b"E":
                code = _error_code(payload)
                if code not in ("42P01", "3F000"):
                    raise _Unsupported(f"query failed ({code})")
                missing = True
            elif kind == b"Z":
                return None if missing else rows
            elif kind not in (b"T", b"C", b"N", b"S"):
                raise _Unsupported(f"unexpected message {kind!r}")


def _data_row(payload: bytes) -> tuple[str | None, ...]:
    count = struct.unpack("!h", payload[:2])[0]
    offset = 2
    values: list[str | None] = []
    for _ in range(count):
        length = struct.unpack("!i", payload[offset : offset + 4])[0]
        offset += 4
        if length < 0:
            values.append(None)
            continue
        values.append(payload[offset : offset + length].decode())
        offset += length
    return tuple(values)


def _error_code(payload: bytes) -> str:
    for field in payload.split(b"\0"):
        if field[:1] == b"C":
            return field[1:].decode()
    return ""


class _Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802 / 7677), without channel binding."""

    def __init__(self, password: str) -> None:
        import base64

        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.client_first_bare = f"n=,r={self.nonce}"
        self.server_signature = b""

    def client_first(self) -> bytes:
        return f"n,,{self.client_first_bare}".encode()

    def client_final(self, server_first: bytes) -> bytes:
        import base64
        import hashlib
        import hmac

        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        if not fields["r"].startswith(self.nonce):
            raise _Unsupported("SCRAM nonce mismatch")
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{self.client_first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify_server(self, server_final: bytes) -> None:
        import base64

        fields = dict(item.split("=", 1) for item in server_final.decode().split(","))
        if base64.b64decode(fields.get("v", "")) != self.server_signature:
            raise _Unsupported("SCRAM server signature mismatch")
