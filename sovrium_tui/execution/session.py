"""The migration transaction: how it begins and ends, the settings it runs with, and the locks it takes.

Every guarantee the executor gives starts here:
- READ COMMITTED, whatever the database's default, so that counts taken after a lock see every row committed
  before it (a REPEATABLE READ snapshot taken at BEGIN would not);
- the settings statements are read and printed with (`SESSION_SETTINGS`), set for the transaction too, so no
  server, database or role default — and no earlier plan's session-level SET — changes their meaning;
- a transaction-level advisory lock serialising runners, and `client_connection_check_interval` so that a
  killed runner's transaction ends within a second;
- ACCESS EXCLUSIVE locks on every existing table a plan changes, taken before anything is counted, so rows a
  concurrent writer commits are counted, never dropped unseen; a lock that cannot be had names its holders;
- a COMMIT whose answer never arrives is reported as an unknown outcome, not as success or as "nothing changed".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from sovrium_tui.errors import CommitOutcomeUnknown, LockNotAcquired, SovriumError, UsageError
from sovrium_tui.execution import events
from sovrium_tui.execution.connect import SESSION_SETTINGS

if TYPE_CHECKING:
    import asyncpg

    from sovrium_tui.execution.events import Reporter
    from sovrium_tui.planning.statements import Relation

MIGRATION_LOCK_NAME = "sovrium-migrations"
# The advisory-lock key: the first 8 bytes of SHA-256("sovrium-migrations") as a signed bigint.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(MIGRATION_LOCK_NAME.encode()).digest()[:8], "big", signed=True)
LOCK_POLL_SECONDS = 0.1
DEAD_CLIENT_CHECK_INTERVAL = "1s"


@contextlib.asynccontextmanager
async def migration_transaction(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """One READ COMMITTED transaction: committed when the body returns, rolled back when it raises.

    A lost connection before COMMIT means the server rolled back (it never commits an unfinished transaction);
    a lost connection during COMMIT means nobody knows, and says so.
    """
    import asyncpg

    # An earlier plan's session-level SET (`apply DIR` runs its plans on one connection, a dry run in one outer
    # transaction) is undone first, before BEGIN (`default_transaction_read_only` acts there): RESET ALL goes
    # back to the connection's own settings.
    await conn.execute("RESET ALL")
    transaction = conn.transaction(isolation="read_committed")
    await transaction.start()
    try:
        yield
    except BaseException:
        if not conn.is_closed():
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await transaction.rollback()
        raise
    try:
        await transaction.commit()
    except asyncpg.PostgresError as failure:
        from sovrium_tui.execution.failures import postgres_text

        raise SovriumError(
            f"the database refused to commit: {postgres_text(failure)}; it rolled the transaction back"
        ) from failure
    except (asyncpg.InterfaceError, OSError) as lost:
        raise CommitOutcomeUnknown(
            "Database connection failed while committing: the server may or may not have committed; check with "
            "`sovrium status` (and `sovrium history`) before running anything else"
        ) from lost


async def configure_transaction(
    conn: asyncpg.Connection, *, lock_timeout: str, statement_timeout: str, application_name: str
) -> None:
    """Transaction-local settings in one round trip; the name shows other runners who holds the lock."""
    import asyncpg

    settings = [
        *SESSION_SETTINGS.items(),
        ("lock_timeout", lock_timeout),
        ("statement_timeout", statement_timeout),
        ("application_name", application_name),
    ]
    if conn.get_server_version().major >= 14:
        settings.append(("client_connection_check_interval", DEAD_CLIENT_CHECK_INTERVAL))
    calls = ", ".join(f"set_config(${2 * i + 1}, ${2 * i + 2}, true)" for i in range(len(settings)))
    # Foreign keys and triggers off (`options=-c session_replication_role=replica` in a superuser's URL) would let
    # a plan's rows break constraints the database still calls valid; set only when it differs (a role without
    # the privilege may not set it even to its current value).
    calls += (
        ", CASE WHEN current_setting('session_replication_role') <> 'origin' "
        "THEN set_config('session_replication_role', 'origin', true) END"
    )
    try:
        await conn.execute(f"SELECT {calls}", *[value for pair in settings for value in pair])
    except asyncpg.InvalidParameterValueError as failure:
        raise UsageError(f"invalid timeout setting: {failure}") from failure


# --- the migration lock ---------------------------------------------------------------------------------------


async def acquire_migration_lock(conn: asyncpg.Connection, *, lock_wait: float, reporter: Reporter) -> None:
    """Take the transaction-level advisory lock, waiting at most `lock_wait` seconds for another runner."""
    deadline = time.monotonic() + lock_wait
    holder: str | None = None
    while not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1::bigint)", MIGRATION_LOCK_KEY):
        if holder is None:
            holder = await lock_holder(conn) or "another session (it has just finished or is not visible to us)"
            reporter(events.LockWaiting(holder))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockNotAcquired(
                f"another migration holds the migration lock: {holder}; gave up after waiting "
                f"{lock_wait:g} s (wait longer with --lock-wait, or let that runner finish)"
            )
        await asyncio.sleep(min(LOCK_POLL_SECONDS, remaining))


_LOCK_HOLDER = """
SELECT a.pid, a.usename, a.application_name, a.client_addr::text AS client_addr, a.xact_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.pid <> pg_backend_pid()
LIMIT 1
"""


async def lock_holder(conn: asyncpg.Connection) -> str | None:
    """Who holds the migration lock on this database now, in words; None when no one does."""
    high, low = (MIGRATION_LOCK_KEY >> 32) & 0xFFFFFFFF, MIGRATION_LOCK_KEY & 0xFFFFFFFF
    row = await conn.fetchrow(_LOCK_HOLDER, high, low)
    if row is None:
        return None
    name = row["application_name"] or "a client without application name"
    since = row["xact_start"].isoformat(timespec="seconds") if row["xact_start"] else "an unknown time"
    where = row["client_addr"] or "the local socket"
    return f"{name!r} (pid {row['pid']}, user {row['usename']}, from {where}, since {since})"


# --- table locks ---------------------------------------------------------------------------------------------

_EXISTING_TABLES = """
SELECT DISTINCT c.oid::regclass::text AS name
FROM unnest($1::text[]) AS wanted(name)
JOIN pg_class c ON c.oid = to_regclass(wanted.name)
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY 1
"""


async def lock_tables(
    conn: asyncpg.Connection,
    relations: Iterable[Relation],
    *,
    lock_timeout: str,
    opener: Opener | None = None,
    reporter: Reporter = events.ignore_events,
) -> None:
    """Take ACCESS EXCLUSIVE locks on those of `relations` that exist, in name order, or say who is in the way.

    Tables a plan creates do not exist yet and need no lock; a name that is not a table is ignored. The lock
    waits at most `lock_timeout`; when it gives up, the error names every session holding a lock on them.
    """
    import asyncpg

    names = sorted({relation.sql for relation in relations})
    if not names:
        return
    existing = [row["name"] for row in await conn.fetch(_EXISTING_TABLES, names)]
    if not existing:
        return
    try:
        async with (
            conn.transaction(),  # a savepoint: a lock timeout must not end the migration's transaction
            watching(conn, opener=opener, what="locking the plan's tables", limit=lock_timeout, reporter=reporter),
        ):
            # Names as the server printed them (regclass::text), so quoted exactly as it quotes them.
            await conn.execute(f"LOCK TABLE {', '.join(existing)} IN ACCESS EXCLUSIVE MODE")
    except asyncpg.LockNotAvailableError as failure:
        held = await describe_blockers(conn, existing)
        raise LockNotAcquired(
            f"could not lock {_listed(existing)} within lock_timeout {lock_timeout} to count and change their rows: "
            f"{held}. Nothing was changed; retry when that session is done, or raise --lock-timeout"
        ) from failure


_BLOCKERS = """
SELECT DISTINCT a.pid, a.usename, a.application_name, a.state, left(a.query, 200) AS query,
       extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.query_start))::int AS held_for,
       l.relation::regclass::text AS relation
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.pid <> pg_backend_pid() AND l.locktype = 'relation'
  AND l.relation = ANY(SELECT to_regclass(name) FROM unnest($1::text[]) AS names(name))
ORDER BY held_for DESC NULLS LAST
LIMIT 5
"""


async def describe_blockers(conn: asyncpg.Connection, relation_names: Sequence[str]) -> str:
    """The sessions holding locks on these tables, in words, for a message; a fallback when none is seen."""
    import asyncpg

    try:
        rows = await conn.fetch(_BLOCKERS, list(relation_names))
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        rows = []
    if not rows:
        return "another session held a conflicting lock (it has finished since, or is not visible to this role)"
    return "; ".join(describe_session(row) for row in rows)


def describe_session(row: asyncpg.Record) -> str:
    """`pid 4242 (user app, application 'psql', idle in transaction for 12 s, last query: …) on orders`."""
    name = row["application_name"] or "no application name"
    query = " ".join(str(row["query"] or "").split())
    held = f" for {row['held_for']} s" if row["held_for"] is not None else ""
    on = f" on {row['relation']}" if row["relation"] else ""
    return (
        f"pid {row['pid']} (user {row['usename']}, application {name!r}, {row['state'] or 'unknown state'}{held}, "
        f"last query: {query!r}) holds a lock{on}"
    )


# --- watching a statement that waits for a lock ------------------------------------------------------------------

Opener = Callable[[], Awaitable["asyncpg.Connection"]]
WATCH_AFTER_SECONDS = 1.0
WATCH_EVERY_SECONDS = 1.0

_BLOCKING = """
SELECT a.pid, a.usename, a.application_name, a.state, left(a.query, 200) AS query,
       extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.query_start))::int AS held_for,
       (SELECT string_agg(DISTINCT l.relation::regclass::text, ', ') FROM pg_locks l
        WHERE l.pid = a.pid AND l.granted AND l.locktype = 'relation') AS relation
FROM pg_stat_activity a
WHERE a.pid = ANY(pg_blocking_pids($1))
ORDER BY held_for DESC NULLS LAST
LIMIT 5
"""


@contextlib.asynccontextmanager
async def watching(
    conn: asyncpg.Connection, *, opener: Opener | None, what: str, limit: str, reporter: Reporter
) -> AsyncIterator[None]:
    """While the body runs, report every second who blocks `conn` (from a second connection, opened only after a
    second of waiting, since the busy one cannot be asked). Most bodies end well within the second: until then
    the watch is a timer, not a task (a 500-table plan runs 2,000 steps)."""
    if opener is None:
        yield
        return
    started, side = time.monotonic(), opener
    watches: list[asyncio.Task[None]] = []

    def watch() -> None:
        watches.append(
            asyncio.ensure_future(_watch(conn.get_server_pid(), side, what, limit, reporter, started=started))
        )

    timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, watch)
    try:
        yield
    finally:
        timer.cancel()
        for task in watches:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _watch(pid: int, opener: Opener, what: str, limit: str, reporter: Reporter, *, started: float) -> None:
    side = await opener()
    try:
        while True:
            rows = await side.fetch(_BLOCKING, pid)
            if rows:
                holders = "; ".join(describe_session(row) for row in rows)
                reporter(events.TableLockWaiting(what, holders, round(time.monotonic() - started, 1), limit))
            await asyncio.sleep(WATCH_EVERY_SECONDS)
    finally:
        await side.close()


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"table{'s' if len(names) > 1 else ''} {shown}"
