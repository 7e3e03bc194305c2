"""How many connections a fleet may open at once on each server, read from the server before anything starts.

Many tenants' databases usually share a server, and a rollout that opened more connections than the server has
free would make its own targets (and the applications on that server) fail with "too many clients". So each
server is asked once: `max_connections`, less the slots kept for superusers and for `pg_use_reserved_connections`
(PostgreSQL 16+: left to administrators even when we are a superuser), less the client connections already
open, and no more than the role may still open when it has a `CONNECTION LIMIT` (superusers are not held to it).
A target in flight counts for CONNECTIONS_PER_TARGET: its own connection, and the second one the executor opens
while a statement waits more than a second, to say who blocks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sovrium_tui.errors import SovriumError
from sovrium_tui.fleet.targets import Target
from sovrium_tui.records import record

_HEADROOM = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       COALESCE(current_setting('reserved_connections', true)::int, 0) AS reserved,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use,
       (SELECT CASE WHEN rolsuper THEN -1 ELSE rolconnlimit END
          FROM pg_roles WHERE rolname = current_user) AS role_limit,
       (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND usename = current_user)::int AS role_in_use
"""
PROBES_PER_SERVER = 3
CONNECTIONS_PER_TARGET = 2


@record
class ServerCapacity:
    """What one server said about its connections (the probe's own connection not counted as in use)."""

    server: str
    max_connections: int
    reserved: int
    in_use: int
    role_free: int | None  # None: the role has no CONNECTION LIMIT

    @property
    def free(self) -> int:
        free = self.max_connections - self.reserved - self.in_use
        return max(0, min(free, self.role_free) if self.role_free is not None else free)


@record
class ConnectionPlan:
    """At most how many targets run at once per server, and what was lowered or could not be checked."""

    per_server: tuple[tuple[str, int], ...]
    notes: tuple[str, ...]

    def limit(self, server: str, default: int) -> int:
        return dict(self.per_server).get(server, default)


async def plan_connections(targets: Sequence[Target], parallel: int) -> ConnectionPlan:
    """Ask each server of `targets` (through one of its targets) how many connections it has free."""
    by_server: dict[str, list[Target]] = {}
    for target in targets:
        by_server.setdefault(target.server, []).append(target)
    slots = asyncio.Semaphore(max(1, parallel))

    async def ask(candidates: list[Target]) -> ServerCapacity | str | None:
        """The first of a few of the server's targets that answers (one may name a missing database); None when
        the server itself does not answer (its targets fail on their own, each saying so)."""
        problem = ""
        async with slots:
            for target in candidates[:PROBES_PER_SERVER]:
                try:
                    return await read_capacity(target)
                except SovriumError as error:
                    if isinstance(error.__cause__, OSError):
                        return None
                    problem = target.scrub(error.message)
                except Exception as error:  # an odd server still gets its targets tried, each with its own error
                    problem = target.scrub(f"{type(error).__name__}: {error}")
        return problem

    answers = await asyncio.gather(*(ask(group) for group in by_server.values()))
    per_server: list[tuple[str, int]] = []
    notes: list[str] = []
    wanted = {server: min(parallel, len(group)) for server, group in by_server.items()}
    for server, answer in zip(by_server, answers, strict=True):
        if answer is None:
            continue
        if isinstance(answer, str):
            notes.append(f"could not check free connections on {server} ({answer}); its targets are tried anyway")
            continue
        limit = max(1, min(wanted[server], answer.free // CONNECTIONS_PER_TARGET))
        per_server.append((server, limit))
        if limit < wanted[server]:
            role = f", the role may open {answer.role_free} more" if answer.role_free is not None else ""
            notes.append(
                f"{server} has {answer.free} free connections (max_connections {answer.max_connections}, "
                f"{answer.reserved} reserved, {answer.in_use} in use{role}; a target may need "
                f"{CONNECTIONS_PER_TARGET}): at most {limit} at once there instead of {wanted[server]}"
            )
    return ConnectionPlan(tuple(per_server), tuple(notes))


async def read_capacity(target: Target) -> ServerCapacity:
    """One short connection to the target's server: its connection settings and how many are in use."""
    from sovrium_tui.execution.connect import connect

    connection = await connect(target.url)
    try:
        row = await connection.fetchrow(_HEADROOM)
    finally:
        await connection.close()
    role_limit = int(row["role_limit"]) if row["role_limit"] is not None else -1
    return ServerCapacity(
        server=target.server,
        max_connections=int(row["max_connections"]),
        reserved=int(row["superuser_reserved"]) + int(row["reserved"]),
        in_use=int(row["in_use"]) - 1,  # this probe, closed before the targets start
        role_free=role_limit - (int(row["role_in_use"]) - 1) if role_limit >= 0 else None,
    )
