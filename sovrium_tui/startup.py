"""The start-up check an application runs on every boot, kept to the standard library and a few milliseconds.

When the recorded checksum equals the schema's, nothing else is imported: no asyncio, no asyncpg, no sqlglot,
no YAML, no validation: a schema already validated is known by the exact bytes of every file it was composed
from (the top-level file and each `$ref`), re-read and hashed on each start. Anything else returns None and the
caller takes the full path (`services.migrate`).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs this path milliseconds
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


class MigrateOutcome:
    """What `migrate` did: "up-to-date" or "migrated", to which version, in how many steps.

    A small value class written out by hand: this module is the start-up path, where importing dataclasses
    (about 10 ms) or typing (about 4 ms) would cost more than the check itself.
    """

    __slots__ = ("checksum", "elapsed_ms", "from_version", "status", "steps", "version")

    def __init__(
        self, status: str, version: int, checksum: str, steps: int, elapsed_ms: int, *, from_version: int | None = None
    ) -> None:
        self.status = status
        self.version = version
        self.checksum = checksum
        self.steps = steps
        self.elapsed_ms = elapsed_ms
        self.from_version = from_version  # the recorded version before this run, when it was read (a fleet shows it)

    def _fields(self) -> tuple[str, int, str, int, int]:
        return (self.status, self.version, self.checksum, self.steps, self.elapsed_ms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MigrateOutcome) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "MigrateOutcome(status={!r}, version={!r}, checksum={!r}, steps={!r}, elapsed_ms={!r})".format(
            *self._fields()
        )

    def describe(self) -> str:
        if self.status == "up-to-date":
            return f"up to date: version {self.version}, checksum {self.checksum[:12]}"
        from sovrium_tui.text import plural

        return f"migrated to version {self.version} ({plural(self.steps, 'step')}, {self.elapsed_ms} ms)"

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "version": self.version,
            "checksum": self.checksum,
            "steps": self.steps,
            "elapsed_ms": self.elapsed_ms,
        }


def migrate_fast(schema_path: str | Path, *, database_url: str | None = None) -> MigrateOutcome | None:
    """The unchanged start-up in a few milliseconds: no asyncio, no asyncpg; None means take the full path."""
    from sovrium_tui.execution.connect import resolve_database
    from sovrium_tui.execution.quickcheck import recorded_checksum

    path = os.fspath(schema_path)
    try:
        content = _read_bytes(path)
    except OSError:
        return None  # the full path reports it properly
    known = _cached_schema(path, content)
    if known is None:
        known = _validate_and_cache(path)
    checksum, first_table = known
    recorded = recorded_checksum(resolve_database(database_url).url, first_table)
    if recorded is None or recorded.checksum != checksum:
        return None
    if first_table is not None and not recorded.first_table_exists:
        return None
    return MigrateOutcome("up-to-date", recorded.version, checksum, 0, 0)


# Under the working directory, one schema per line: `key checksum first-table digest referred-files`, the table
# and each file's path as hex of their UTF-8 (`-` for none). Text read with split(), not JSON: the json module
# is 3 ms of a start-up budget of 50.
_SCHEMA_CACHE = os.path.join(".sovrium", "cache", "schema-checksums")
_CACHE_FORMAT = "3"
_CACHE_ENTRIES = 32  # a few recent schemas are plenty


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _sha256() -> Any:
    """A new SHA-256 hash object: the C module itself when this Python has it (hashlib, which loads OpenSSL,
    takes about 5 ms to import: a tenth of the start-up budget); the same digest either way."""
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]  # Python 3.12 and later
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # Python 3.11
        except ImportError:
            from hashlib import sha256  # type: ignore[assignment,unused-ignore]  # a build without them
    return sha256()


def _cache_key(path: str, content: bytes) -> str:
    """Entries are found by the top-level file (its place and bytes) and this tool's version."""
    from sovrium_tui import __version__

    prefix = f"{__version__}\0{_CACHE_FORMAT}\0{os.path.abspath(path)}\0".encode()
    digest = _sha256()
    digest.update(prefix + content)
    return str(digest.hexdigest())


def _sources_digest(files: list[tuple[str, bytes]]) -> str:
    """One hash over every file a schema was composed from, each by its path and exact bytes, in reading order."""
    digest = _sha256()
    for name, content in files:
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return str(digest.hexdigest())


def _cached_schema(path: str, content: bytes) -> tuple[str, str | None] | None:
    """The checksum validated earlier for exactly these files, re-reading each file the schema refers to."""
    entry = _schema_cache_get(_cache_key(str(path), content))
    if entry is None:
        return None
    checksum, first_table, referenced, digest = entry
    files = [(os.path.abspath(path), content)]
    for name in referenced:
        try:
            files.append((name, _read_bytes(name)))
        except OSError:
            return None  # gone or unreadable: the full path says so
    return (checksum, first_table) if _sources_digest(files) == digest else None


def _validate_and_cache(path: str) -> tuple[str, str | None]:
    from sovrium_tui.schema import app_checksum, compose_file, validate_composed

    composed = compose_file(path)
    app = validate_composed(composed)
    known = (app_checksum(app), app.tables[0].physical_name if app.tables else None)
    files = [(file.path, file.content) for file in composed.files]
    # Keyed by the bytes composing read, not a second read: an edit in between must not be cached as this one.
    key = _cache_key(str(path), composed.files[0].content)
    _schema_cache_put(key, *known, [name for name, _ in files[1:]], _sources_digest(files))
    return known


def _schema_cache_get(key: str) -> tuple[str, str | None, list[str], str] | None:
    """A schema's checksum from an earlier run, with the files it was composed from and their digest."""
    try:
        lines = _read_bytes(_SCHEMA_CACHE).decode("ascii").splitlines()
    except (OSError, ValueError):
        return None
    prefix = key + " "
    for line in reversed(lines):
        if line.startswith(prefix):
            try:
                return _cache_entry(line)
            except ValueError:  # not a line this version wrote: a miss
                return None
    return None


def _cache_entry(line: str) -> tuple[str, str | None, list[str], str]:
    _, checksum, first_table, digest, referred = line.split(" ")
    files = [] if referred == "-" else [os.fsdecode(bytes.fromhex(name)) for name in referred.split(",")]
    table = None if first_table == "-" else bytes.fromhex(first_table).decode("utf-8")
    return checksum, table, files, digest


def _cache_line(key: str, checksum: str, first_table: str | None, files: list[str], digest: str) -> str:
    table = "-" if first_table is None else first_table.encode("utf-8").hex()
    referred = ",".join(os.fsencode(name).hex() for name in files) or "-"
    return f"{key} {checksum} {table} {digest} {referred}"


def _schema_cache_put(key: str, checksum: str, first_table: str | None, files: list[str], digest: str) -> None:
    try:
        lines = _read_bytes(_SCHEMA_CACHE).decode("ascii").splitlines()
    except (OSError, ValueError):
        lines = []
    try:
        line = _cache_line(key, checksum, first_table, files, digest)
    except ValueError:  # a name that does not encode: this schema is simply not cached
        return
    kept = [line for line in lines if not line.startswith(key + " ")][-(_CACHE_ENTRIES - 1) :]
    text = "\n".join([*kept, line]) + "\n"
    temporary = f"{_SCHEMA_CACHE}.{os.getpid()}.tmp"  # one per process: instances starting together do not clash
    try:
        os.makedirs(os.path.dirname(_SCHEMA_CACHE), exist_ok=True)
        with open(temporary, "w", encoding="ascii") as file:
            file.write(text)
        os.replace(temporary, _SCHEMA_CACHE)
    except OSError:
        try:  # noqa: SIM105 (contextlib is 3 ms of the start-up path)
            os.unlink(temporary)
        except OSError:
            pass
