"""The audit rows written after a failed migration or rollback, in a transaction of their own so they survive."""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from typing import TYPE_CHECKING

from sovrium_tui.execution.store import append_log, ensure_store

if TYPE_CHECKING:
    import asyncpg

AUDIT_TIMEOUT = "5s"


# The reason of the ROLLBACK row written after a failed migration starts with this, so every reader (the log
# in `history`, the TUI) can tell an automatic rollback from a `sovrium rollback`.
AUTOMATIC_ROLLBACK = "automatic rollback of the failed migration: "


async def write_failed_migration(
    conn: asyncpg.Connection, *, from_version: int | None, to_version: int | None, reason: str, actor: str
) -> None:
    """After a failed migration rolled back: `MIGRATE`/`FAILED` with the error, then the `ROLLBACK`/`COMPLETED`
    row Sovrium writes (and DESIGN names) for the automatic rollback, its reason carrying the error too."""
    await _write(
        conn,
        [
            ("MIGRATE", "FAILED", from_version, to_version, reason, actor),
            ("ROLLBACK", "COMPLETED", from_version, to_version, AUTOMATIC_ROLLBACK + reason, actor),
        ],
    )


async def write_failure(
    conn: asyncpg.Connection,
    *,
    operation: str,
    status: str,
    from_version: int | None,
    to_version: int | None,
    reason: str,
    actor: str,
) -> None:
    """One log row after the failed transaction rolled back; best effort (the failure itself is what matters)."""
    await _write(conn, [(operation, status, from_version, to_version, reason, actor)])


_Row = tuple[str, str, int | None, int | None, str, str]


async def _write(conn: asyncpg.Connection, rows: list[_Row]) -> None:
    if conn.is_closed():
        return
    with contextlib.suppress(Exception):
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $1, true)",
                AUDIT_TIMEOUT,
            )
            await ensure_store(conn)
            for operation, status, from_version, to_version, reason, actor in rows:
                await append_log(
                    conn,
                    operation=operation,
                    status=status,
                    from_version=from_version,
                    to_version=to_version,
                    reason=reason,
                    actor=actor,
                )


def applied_by() -> str:
    """`user@host`, plus `(ci: <run id>)` in CI, so the audit trail says who ran a migration."""
    who = f"{_user_name()}@{socket.gethostname()}"
    for variable in ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_ID"):
        run_id = os.environ.get(variable)
        if run_id:
            return f"{who} (ci: {run_id})"
    return who


def _user_name() -> str:
    """The login name; containers without a passwd entry fall back to the numeric uid."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid())
