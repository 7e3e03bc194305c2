"""The `system.*` bookkeeping tables: the only module that reads or writes them.

`system.schema_checksum` holds the current state (one row), `system.migration_history` one row per applied
version (rolled-back rows stay, marked), `system.migration_log` an append-only event log.

A database Sovrium itself initialised has the same three tables with fewer columns (no version or fingerprint
in the checksum row, no plan, fingerprint or who in history, no actor in the log). Reading works on either
shape; the first migration adds the missing columns, inside its own transaction, keeping every row. History
rows Sovrium wrote have no stored plan: rolling back over them plans the reverse from their snapshots.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sovrium_tui.records import record

if TYPE_CHECKING:
    import asyncpg

SYSTEM_SCHEMA = "system"
SOVRIUM_WRITER = "Sovrium"  # who applied a version whose history row Sovrium wrote (it records no one)

APPLIED_VERSION_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS migration_history_applied_version "
    "ON system.migration_history (version) WHERE rolled_back_at IS NULL"
)

CREATE_STATEMENTS = (
    "CREATE SCHEMA IF NOT EXISTS system",
    """CREATE TABLE IF NOT EXISTS system.schema_checksum (
    id text PRIMARY KEY DEFAULT 'singleton' CHECK (id = 'singleton'),
    checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    schema jsonb NOT NULL,
    version integer NOT NULL CHECK (version >= 0),
    fingerprint text,
    updated_at timestamptz NOT NULL DEFAULT now()
)""",
    """CREATE TABLE IF NOT EXISTS system.migration_history (
    id bigserial PRIMARY KEY,
    version integer NOT NULL CHECK (version > 0),
    checksum text NOT NULL,
    schema jsonb NOT NULL,
    plan jsonb NOT NULL,
    fingerprint text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL,
    duration_ms integer,
    rolled_back_at timestamptz,
    rollback_reason text
)""",
    APPLIED_VERSION_INDEX,
    """CREATE TABLE IF NOT EXISTS system.migration_log (
    id bigserial PRIMARY KEY,
    operation text NOT NULL,
    status text NOT NULL,
    from_version integer,
    to_version integer,
    reason text,
    actor text,
    created_at timestamptz NOT NULL DEFAULT now()
)""",
)


@record
class RecordedState:
    """What the singleton row says: the version, checksum and app snapshot last migrated to."""

    version: int
    checksum: str
    schema: dict[str, Any]
    fingerprint: str | None
    updated_at: datetime


@record
class HistoryEntry:
    """One applied version; `plan` is empty for a row Sovrium wrote (it records no steps)."""

    id: int
    version: int
    checksum: str
    schema: dict[str, Any]
    plan: dict[str, Any]
    fingerprint: str
    applied_at: datetime
    applied_by: str
    duration_ms: int | None
    rolled_back_at: datetime | None
    rollback_reason: str | None

    @property
    def state(self) -> str:
        return "rolled back" if self.rolled_back_at else "applied"

    @property
    def has_steps(self) -> bool:
        """Whether the row holds its plan's steps (and so their reverse statements)."""
        return isinstance(self.plan.get("steps"), list)

    def to_json(self, *, with_snapshot: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = {
            "version": self.version,
            "checksum": self.checksum,
            "applied_at": self.applied_at.isoformat(),
            "applied_by": self.applied_by,
            "duration_ms": self.duration_ms,
            "state": self.state,
            "rolled_back_at": self.rolled_back_at.isoformat() if self.rolled_back_at else None,
            "rollback_reason": self.rollback_reason,
            "summary": self.plan.get("summary"),
            "steps": len(self.plan.get("steps", [])),
        }
        if with_snapshot:
            document["schema"] = self.schema
            document["plan"] = self.plan
        return document


@record
class LogEntry:
    id: int
    operation: str
    status: str
    from_version: int | None
    to_version: int | None
    reason: str | None
    actor: str | None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "status": self.status,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


@contextlib.asynccontextmanager
async def _privileged(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """A role that may not read the bookkeeping gets a message saying which grants it needs."""
    import asyncpg

    from sovrium_tui.errors import SovriumError

    try:
        yield
    except asyncpg.InsufficientPrivilegeError as failure:
        role = _role(connection)
        raise SovriumError(
            f"permission denied for the migration state in schema system ({failure}): the role {role} needs "
            f"USAGE on schema system and SELECT on its tables to read it (GRANT USAGE ON SCHEMA system TO {role}; "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA system TO {role}), and INSERT/UPDATE on them to migrate"
        ) from failure


def _role(connection: asyncpg.Connection) -> str:
    """The role this session logged in as (the server reports it, so no query is needed in an aborted transaction)."""
    from sovrium_tui.identifiers import quote_ident

    name = getattr(connection.get_settings(), "session_authorization", None)
    return quote_ident(str(name)) if name else "<this role>"


# Read from the catalog tables, not with to_regclass(): inside a transaction that looked before (a runner that
# waited for the migration lock), to_regclass() answers from a cache that never learns of a table another
# runner has created and committed since, while a catalog query reads the committed rows.
_COLUMNS = """
SELECT c.relname AS table_name, a.attname AS column_name
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'system' AND c.relname IN ('schema_checksum', 'migration_history', 'migration_log')
"""

# The columns this project adds to Sovrium's shape of each table, as they are added to a table Sovrium made.
_UPGRADES = {
    "schema_checksum": {"version": "integer", "fingerprint": "text"},
    "migration_history": {
        "plan": "jsonb",
        "fingerprint": "text",
        "applied_by": "text",
        "duration_ms": "integer",
        "rollback_reason": "text",
    },
    "migration_log": {"actor": "text"},
}


async def _store_columns(connection: asyncpg.Connection) -> dict[str, frozenset[str]]:
    """The bookkeeping tables that exist, each with its columns."""
    async with _privileged(connection):
        rows = await connection.fetch(_COLUMNS)
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["table_name"], set()).add(row["column_name"])
    return {table: frozenset(names) for table, names in found.items()}


async def has_store(connection: asyncpg.Connection) -> bool:
    return "schema_checksum" in await _store_columns(connection)


async def ensure_store(connection: asyncpg.Connection) -> None:
    """Create the bookkeeping tables when missing, or add this project's columns to Sovrium's (inside the
    migration's transaction, so an upgrade is committed only with the migration that needed it)."""
    existing = await _store_columns(connection)
    if set(existing) != set(_UPGRADES):
        for statement in CREATE_STATEMENTS:
            await connection.execute(statement)
    for table, added in _UPGRADES.items():
        if table not in existing:
            continue  # just created, complete
        for name, sql_type in added.items():
            if name not in existing[table]:
                await connection.execute(f"ALTER TABLE system.{table} ADD COLUMN {name} {sql_type}")
    if "schema_checksum" in existing and "version" not in existing["schema_checksum"]:
        await connection.execute(
            "UPDATE system.schema_checksum SET version = "
            "(SELECT coalesce(max(version), 0) FROM system.migration_history)"
        )
    if "migration_history" in existing and "plan" not in existing["migration_history"]:
        await connection.execute(APPLIED_VERSION_INDEX)


async def read_state(connection: asyncpg.Connection) -> RecordedState | None:
    """The singleton row, or None when this database was never migrated (by us or by Sovrium)."""
    columns = await _store_columns(connection)
    if "schema_checksum" not in columns:
        return None
    have = columns["schema_checksum"]
    highest = "(SELECT coalesce(max(version), 0) FROM system.migration_history)"
    version = "version" if "version" in have else highest if "migration_history" in columns else "0"
    fingerprint = "fingerprint" if "fingerprint" in have else "NULL::text"
    async with _privileged(connection):
        row = await connection.fetchrow(
            f"SELECT {version} AS version, checksum, schema::text AS schema, {fingerprint} AS fingerprint, "
            "updated_at FROM system.schema_checksum WHERE id = 'singleton'"
        )
    if row is None:
        return None
    return RecordedState(
        version=row["version"] or 0,
        checksum=row["checksum"],
        schema=_snapshot(row["schema"]),
        fingerprint=row["fingerprint"],
        updated_at=_aware(row["updated_at"]),
    )


def _snapshot(text: str | None) -> dict[str, Any]:
    """A stored app snapshot; Sovrium may leave a history row's snapshot empty."""
    document = json.loads(text) if text else None
    return document if isinstance(document, dict) else {"tables": []}


def _aware(moment: datetime | None) -> datetime:
    """A timestamp with its time zone: Sovrium's columns have none, and its sessions write UTC."""
    if moment is None:
        return datetime.fromtimestamp(0, UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def write_state(
    connection: asyncpg.Connection, *, version: int, checksum: str, schema: str, fingerprint: str
) -> None:
    await connection.execute(
        "INSERT INTO system.schema_checksum (id, checksum, schema, version, fingerprint, updated_at) "
        "VALUES ('singleton', $1, $2::jsonb, $3, $4, now()) "
        "ON CONFLICT (id) DO UPDATE SET checksum = EXCLUDED.checksum, schema = EXCLUDED.schema, "
        "version = EXCLUDED.version, fingerprint = EXCLUDED.fingerprint, updated_at = now()",
        checksum,
        schema,
        version,
        fingerprint,
    )


async def clear_state(connection: asyncpg.Connection) -> None:
    """Forget the current state: a database rolled back to version 0 is as if never migrated."""
    await connection.execute("DELETE FROM system.schema_checksum WHERE id = 'singleton'")


async def record_applied(
    connection: asyncpg.Connection,
    *,
    version: int,
    checksum: str,
    schema: str,
    plan: str,
    fingerprint: str,
    applied_by: str,
    duration_ms: int,
) -> None:
    """One history row; `schema` and `plan` are JSON texts (the snapshot, and the plan file without it)."""
    await connection.execute(
        "INSERT INTO system.migration_history "
        "(version, checksum, schema, plan, fingerprint, applied_by, duration_ms) "
        "VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7)",
        version,
        checksum,
        schema,
        plan,
        fingerprint,
        applied_by,
        duration_ms,
    )


async def mark_rolled_back(connection: asyncpg.Connection, *, versions: list[int], reason: str) -> None:
    await connection.execute(
        "UPDATE system.migration_history SET rolled_back_at = now(), rollback_reason = $2 "
        "WHERE version = ANY($1::int[]) AND rolled_back_at IS NULL",
        versions,
        reason,
    )


async def append_log(
    connection: asyncpg.Connection,
    *,
    operation: str,
    status: str,
    from_version: int | None,
    to_version: int | None,
    reason: str | None,
    actor: str | None,
) -> None:
    await connection.execute(
        "INSERT INTO system.migration_log (operation, status, from_version, to_version, reason, actor) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        operation,
        status,
        from_version,
        to_version,
        reason,
        actor,
    )


async def highest_version(connection: asyncpg.Connection) -> int:
    """The highest version this database ever recorded (rolled back ones included), 0 when none."""
    if "migration_history" not in await _store_columns(connection):
        return 0
    async with _privileged(connection):
        return int(await connection.fetchval("SELECT coalesce(max(version), 0) FROM system.migration_history"))


async def applied_history(connection: asyncpg.Connection) -> list[HistoryEntry]:
    """Every history row, oldest first (rolled-back ones included)."""
    return await history(connection)


async def history(
    connection: asyncpg.Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
    limit: int | None = None,
) -> list[HistoryEntry]:
    columns = await _store_columns(connection)
    if "migration_history" not in columns:
        return []
    have = columns["migration_history"]

    def optional(name: str, cast: str = "") -> str:
        return f"{name}{cast} AS {name}" if name in have else f"NULL AS {name}"

    async with _privileged(connection):
        rows = await connection.fetch(
            "SELECT id, version, checksum, schema::text AS schema, "
            f"{optional('plan', '::text')}, {optional('fingerprint')}, applied_at, {optional('applied_by')}, "
            f"{optional('duration_ms')}, rolled_back_at, {optional('rollback_reason')} "
            "FROM system.migration_history "
            "WHERE ($1::timestamptz IS NULL OR applied_at >= $1) "
            "AND ($2::timestamptz IS NULL OR applied_at < $2) "
            "AND ($3::int IS NULL OR version = $3) ORDER BY id DESC LIMIT $4",
            since,
            until,
            version,
            limit,
        )
    entries = [
        HistoryEntry(
            id=row["id"],
            version=row["version"],
            checksum=row["checksum"],
            schema=_snapshot(row["schema"]),
            plan=json.loads(row["plan"]) if row["plan"] else {},
            fingerprint=row["fingerprint"] or "",
            applied_at=_aware(row["applied_at"]),
            applied_by=row["applied_by"] or SOVRIUM_WRITER,
            duration_ms=row["duration_ms"],
            rolled_back_at=_aware(row["rolled_back_at"]) if row["rolled_back_at"] else None,
            rollback_reason=row["rollback_reason"],
        )
        for row in rows
    ]
    return list(reversed(entries))


async def drift_acceptances(connection: asyncpg.Connection) -> list[tuple[int, datetime]]:
    """(version, when) of every drift accepted as the baseline of a version (DRIFT_ACCEPTED rows)."""
    if "migration_log" not in await _store_columns(connection):
        return []
    async with _privileged(connection):
        rows = await connection.fetch(
            "SELECT to_version, created_at FROM system.migration_log "
            "WHERE operation = 'DRIFT_ACCEPTED' AND status = 'COMPLETED' AND to_version IS NOT NULL"
        )
    return [(int(row["to_version"]), _aware(row["created_at"])) for row in rows]


async def log_entries(connection: asyncpg.Connection, *, limit: int | None = None) -> list[LogEntry]:
    columns = await _store_columns(connection)
    if "migration_log" not in columns:
        return []
    actor = "actor" if "actor" in columns["migration_log"] else "NULL AS actor"
    async with _privileged(connection):
        rows = await connection.fetch(
            f"SELECT id, operation, status, from_version, to_version, reason, {actor}, created_at "
            "FROM system.migration_log ORDER BY id DESC LIMIT $1",
            limit,
        )
    return [LogEntry(**{**dict(row), "created_at": _aware(row["created_at"])}) for row in reversed(rows)]
