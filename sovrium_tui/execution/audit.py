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
    if conn.is_closed():
        return
    with contextlib.suppress(Exception):
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $1, true)",
                AUDIT_TIMEOUT,
            )
            await ensure_store(conn)
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
