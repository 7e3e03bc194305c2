"""The start-up check an application runs on every boot, kept to the standard library and a few milliseconds.

When the recorded checksum equals the schema's, nothing else is imported: no asyncio, no asyncpg, no sqlglot,
no validation (a schema file already validated is known by its exact bytes). Anything else returns None and the
caller takes the full path (`services.migrate`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class MigrateOutcome:
    status: str  # "up-to-date" or "migrated"
    version: int
    checksum: str
    steps: int
    elapsed_ms: int

    def describe(self) -> str:
        if self.status == "up-to-date":
            return f"up to date: version {self.version}, checksum {self.checksum[:12]}"
        return f"migrated to version {self.version} ({self.steps} steps, {self.elapsed_ms} ms)"

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
    import hashlib

    from sovrium_tui import __version__
    from sovrium_tui.execution.connect import resolve_database
    from sovrium_tui.execution.quickcheck import recorded_checksum

    path = Path(schema_path)
    try:
        content = path.read_bytes()
    except OSError:
        return None  # the full path reports it properly
    key = hashlib.sha256(__version__.encode() + b"\0" + content).hexdigest()
    known = _schema_cache_get(key)
    if known is None:
        from sovrium_tui.schema import app_checksum, parse_app

        app = parse_app(content.decode("utf-8", errors="replace"), source=str(path))
        known = (app_checksum(app), app.tables[0].physical_name if app.tables else None)
        _schema_cache_put(key, known)
    checksum, first_table = known
    recorded = recorded_checksum(resolve_database(database_url).url, first_table)
    if recorded is None or recorded.checksum != checksum:
        return None
    if first_table is not None and not recorded.first_table_exists:
        return None
    return MigrateOutcome("up-to-date", recorded.version, checksum, 0, 0)


_SCHEMA_CACHE = Path(".sovrium") / "cache" / "schema-checksums.json"


def _schema_cache_get(key: str) -> tuple[str, str | None] | None:
    """A schema file's checksum from an earlier run, keyed by the file's exact bytes and our version."""
    try:
        entry = json.loads(_SCHEMA_CACHE.read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, list) or len(entry) != 2:
        return None
    return str(entry[0]), entry[1]


def _schema_cache_put(key: str, value: tuple[str, str | None]) -> None:
    try:
        entries = json.loads(_SCHEMA_CACHE.read_text())
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError):
        entries = {}
    entries = dict(list(entries.items())[-31:])  # a few recent schemas are plenty
    entries[key] = list(value)
    try:
        _SCHEMA_CACHE.parent.mkdir(parents=True, exist_ok=True)
        temporary = _SCHEMA_CACHE.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries))
        temporary.replace(_SCHEMA_CACHE)
    except OSError:
        return
