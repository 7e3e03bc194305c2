"""Apply a plan, or reverse applied versions, as one guarded transaction: the only module that changes schemas.

Both directions take the migration lock, check bookkeeping and live schema against the record, refuse silent
data loss, run each step as one round trip, compare the result with its catalog, record it and commit; any
failure rolls back and leaves one audit row, written in its own transaction so it survives.

Choices worth knowing: the lock is a transaction-level advisory lock and the transaction sets
`client_connection_check_interval` (PostgreSQL 14+), so a killed runner leaves no lock and no open transaction
behind for more than about a second; lock-wait timeouts and dry runs write no audit row (they changed
nothing); apply refuses every data-losing step unless allowed, even on an empty table (Sovrium's rule), while
rollback refuses only when a reverse step would destroy values that exist and `--force` is not given.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import json
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sovrium_tui.catalog.introspect import fingerprint, introspect
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.errors import (
    ConnectionFailed,
    DestructiveRefused,
    DriftDetected,
    LockNotAcquired,
    PlanStale,
    PlanTooLarge,
    SovriumError,
    StepFailed,
    UsageError,
    VerificationFailed,
)
from sovrium_tui.execution import events
from sovrium_tui.execution.store import (
    HistoryEntry,
    RecordedState,
    append_log,
    clear_state,
    ensure_store,
    history,
    mark_rolled_back,
    read_state,
    record_applied,
    write_state,
)
from sovrium_tui.identifiers import quote_ident
from sovrium_tui.planning.changes import is_destructive
from sovrium_tui.planning.diff import diff
from sovrium_tui.planning.plan import Plan, canonical_json

if TYPE_CHECKING:
    import asyncpg

    from sovrium_tui.execution.events import Reporter

CatalogFor = Callable[[Mapping[str, Any]], Catalog]

MIGRATION_LOCK_NAME = "sovrium-migrations"
# The advisory-lock key: the first 8 bytes of SHA-256("sovrium-migrations") as a signed bigint.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(MIGRATION_LOCK_NAME.encode()).digest()[:8], "big", signed=True)
LOCK_POLL_SECONDS = 0.1
DEAD_CLIENT_CHECK_INTERVAL = "1s"
AUDIT_TIMEOUT = "5s"

# Lock-table ceiling. Measured (DESIGN §8, 19-column tables with 5 indexes): creating one table holds ≈15
# (PostgreSQL 15) to ≈18 (18) locks until commit; other steps hold a few. The shared lock table is sized
# max_locks_per_transaction × (max_connections + max_prepared_transactions + background processes) and also
# borrows spare shared memory: with the defaults (64 × 100) one transaction failed with "out of shared memory"
# at ≈19,200 (PG15) and ≈20,500 (PG18) locks, i.e. about 3 × 64 × 100. So a plan is refused up front when
# its estimate exceeds LOCK_TABLE_HEADROOM × max_locks_per_transaction × (max_connections +
# max_prepared_transactions); the estimate errs high and the headroom low, so a refused plan would have failed.
LOCKS_PER_CREATE_TABLE = 20
LOCKS_PER_OTHER_STEP = 4
LOCK_TABLE_HEADROOM = 3

ApplyStatus = Literal["applied", "already-applied", "dry-run"]
RollbackStatus = Literal["rolled-back", "dry-run"]


# --- results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepRun:
    """One step that ran, with how long the database took for it."""

    id: int
    summary: str
    elapsed_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "summary": self.summary, "elapsed_ms": self.elapsed_ms}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What `apply_plan` did: applied, found it already applied, or ran it and rolled back (dry run)."""

    version: int
    status: ApplyStatus
    steps: tuple[StepRun, ...]
    elapsed_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "steps": [step.to_json() for step in self.steps],
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass(frozen=True, slots=True)
class RollbackResult:
    """What `rollback` did: the versions reversed (newest first), the reverse steps and the data destroyed."""

    from_version: int
    to_version: int
    reverted_versions: tuple[int, ...]
    status: RollbackStatus
    steps: tuple[StepRun, ...]
    data_loss: tuple[str, ...]
    reason: str
    elapsed_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "from_version": self.from_version,
            "to_version": self.to_version,
            "reverted_versions": list(self.reverted_versions),
            "status": self.status,
            "steps": [step.to_json() for step in self.steps],
            "data_loss": list(self.data_loss),
            "reason": self.reason,
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass(frozen=True, slots=True)
class DataLoss:
    """Data one step would destroy, counted in the database just before it would run."""

    step: str  # "step 2", "undoing version 3 step 1"
    action: str  # "drops column users.nickname"
    amount: int | None  # None when it cannot be counted
    unit: str  # plural: "rows", "non-null values"

    def describe(self) -> str:
        if self.amount is None:
            return f"{self.step} {self.action}"
        unit = self.unit.removesuffix("s") if self.amount == 1 else self.unit
        return f"{self.step} {self.action} ({self.amount} {unit})"


class _DryRunFinished(Exception):
    """Raised inside the transaction after a successful dry run, so that it rolls back."""

    def __init__(self, result: ApplyResult | RollbackResult) -> None:
        super().__init__("dry run")
        self.result = result


@dataclass(slots=True)
class _Progress:
    """What a failing rollback knew when it failed, for its audit row."""

    from_version: int | None = None
    to_version: int | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class _ReverseStep:
    """One stored step of an applied version, to be undone with its reverse statements."""

    number: int  # position in this rollback's run, 1-based
    version: int
    step_id: int
    op: str
    target: str
    summary: str
    statements: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"undoing version {self.version} step {self.step_id}"


# --- apply -----------------------------------------------------------------------------------------------


async def apply_plan(
    conn: asyncpg.Connection,
    plan: Plan,
    *,
    target_catalog: Catalog,
    allow_destructive: bool,
    applied_by: str,
    lock_wait: float,
    lock_timeout: str = "10s",
    statement_timeout: str = "0",
    reporter: Reporter = events.ignore_events,
    dry_run: bool = False,
    recorded_catalog_for: CatalogFor | None = None,
) -> ApplyResult:
    """Apply `plan` as one transaction, or raise with the database exactly as before.

    `recorded_catalog_for` compiles a recorded app snapshot (default: the schema compiler); it is used only to
    say what differs when the live database has drifted.
    """
    started = time.monotonic()
    try:
        async with conn.transaction():
            await _begin(
                conn,
                action="apply",
                applied_by=applied_by,
                lock_wait=lock_wait,
                lock_timeout=lock_timeout,
                statement_timeout=statement_timeout,
                reporter=reporter,
            )
            return await _apply_locked(
                conn,
                plan,
                target_catalog=target_catalog,
                allow_destructive=allow_destructive,
                applied_by=applied_by,
                reporter=reporter,
                dry_run=dry_run,
                started=started,
                recorded_catalog_for=recorded_catalog_for or compiled_catalog,
            )
    except _DryRunFinished as finished:
        reporter(events.PlanRolledBack(plan.version, "dry run: every check and step succeeded; rolled back"))
        assert isinstance(finished.result, ApplyResult)
        return finished.result
    except LockNotAcquired:
        raise
    except Exception as failure:
        error = _as_sovrium_error(failure)
        if not dry_run:
            await _write_audit(
                conn,
                status="COMPLETED",
                from_version=plan.from_version,
                to_version=plan.version,
                reason=error.message,
                actor=applied_by,
            )
        reporter(events.PlanRolledBack(plan.version, error.message))
        if error is failure:
            raise
        raise error from failure


async def _apply_locked(
    conn: asyncpg.Connection,
    plan: Plan,
    *,
    target_catalog: Catalog,
    allow_destructive: bool,
    applied_by: str,
    reporter: Reporter,
    dry_run: bool,
    started: float,
    recorded_catalog_for: CatalogFor,
) -> ApplyResult:
    """Everything `apply_plan` does while holding the migration lock inside its transaction."""
    await ensure_store(conn)
    state = await read_state(conn)
    if state is not None:
        _check_stored_checksum(state)
    if await _already_applied(conn, state, plan):
        return ApplyResult(plan.version, "already-applied", (), _elapsed_ms(started))
    _check_not_stale(state, plan)
    if state is not None:
        await _check_no_drift(conn, state, recorded_catalog_for)
    if not allow_destructive:
        await _refuse_destructive_steps(conn, plan)
    await _check_lock_ceiling(conn, plan)
    reporter(events.PlanStarted(plan.version, len(plan.steps)))
    runs = [await _run_step(conn, s.id, s.summary, s.forward, reporter) for s in plan.steps]
    live = await introspect(conn)
    _verify(live, target_catalog, "the database after the plan differs from its target")
    live_fingerprint = fingerprint(live)
    await _record_apply(conn, plan, live_fingerprint, applied_by, _elapsed_ms(started))
    result = ApplyResult(plan.version, "dry-run" if dry_run else "applied", tuple(runs), _elapsed_ms(started))
    if dry_run:
        raise _DryRunFinished(result)
    reporter(events.PlanFinished(plan.version, result.elapsed_ms))
    return result


async def _already_applied(conn: asyncpg.Connection, state: RecordedState | None, plan: Plan) -> bool:
    """Whether this plan's version is recorded as applied with its checksum (so a second runner succeeds)."""
    if state is None:
        return False
    if state.version == plan.version:
        return state.checksum == plan.to_checksum
    if state.version < plan.version:
        return False
    entries = await history(conn, version=plan.version)
    return any(e.rolled_back_at is None and e.checksum == plan.to_checksum for e in entries)


def _check_not_stale(state: RecordedState | None, plan: Plan) -> None:
    """Refuse a plan made from another version or checksum than the database records."""
    recorded_version, recorded_checksum = (state.version, state.checksum) if state else (0, None)
    if (recorded_version, recorded_checksum) == (plan.from_version, plan.from_checksum):
        return
    raise PlanStale(
        f"plan is stale: it was made from version {plan.from_version} (checksum "
        f"{_short(plan.from_checksum)}) but the database is at version {recorded_version} (checksum "
        f"{_short(recorded_checksum)}); make a new plan from the current state with `sovrium plan`"
    )


async def _record_apply(
    conn: asyncpg.Connection, plan: Plan, live_fingerprint: str, applied_by: str, duration_ms: int
) -> None:
    """History row, new singleton state and a MIGRATE log row, all inside the plan's transaction."""
    plan_document = {key: value for key, value in plan.to_json().items() if key != "schema"}
    await record_applied(
        conn,
        version=plan.version,
        checksum=plan.to_checksum,
        schema=plan.schema,
        plan=plan_document,
        fingerprint=live_fingerprint,
        applied_by=applied_by,
        duration_ms=duration_ms,
    )
    await write_state(
        conn, version=plan.version, checksum=plan.to_checksum, schema=plan.schema, fingerprint=live_fingerprint
    )
    await append_log(
        conn,
        operation="MIGRATE",
        status="COMPLETED",
        from_version=plan.from_version,
        to_version=plan.version,
        reason=plan.summary,
        actor=applied_by,
    )


# --- rollback --------------------------------------------------------------------------------------------


async def rollback(
    conn: asyncpg.Connection,
    *,
    to_version: int | None,
    force: bool,
    reason: str,
    applied_by: str,
    lock_wait: float,
    reporter: Reporter = events.ignore_events,
    dry_run: bool = False,
    lock_timeout: str = "10s",
    statement_timeout: str = "0",
    target_catalog_for: CatalogFor | None = None,
) -> RollbackResult:
    """Reverse the latest applied version (or every one above `to_version`) as one transaction.

    The reverse statements come from `system.migration_history.plan`, so no plan files are needed;
    `target_catalog_for` compiles the target version's stored snapshot for the final comparison.
    """
    started = time.monotonic()
    reason = reason.strip() or "manual rollback (no reason given)"
    progress = _Progress(to_version=to_version, dry_run=dry_run)
    try:
        async with conn.transaction():
            await _begin(
                conn,
                action="rollback",
                applied_by=applied_by,
                lock_wait=lock_wait,
                lock_timeout=lock_timeout,
                statement_timeout=statement_timeout,
                reporter=reporter,
            )
            return await _rollback_locked(
                conn,
                to_version=to_version,
                force=force,
                reason=reason,
                applied_by=applied_by,
                reporter=reporter,
                started=started,
                progress=progress,
                target_catalog_for=target_catalog_for or compiled_catalog,
            )
    except _DryRunFinished as finished:
        assert isinstance(finished.result, RollbackResult)
        reporter(events.PlanRolledBack(finished.result.to_version, "dry run: rolled back on purpose"))
        return finished.result
    except LockNotAcquired:
        raise
    except Exception as failure:
        error = _as_sovrium_error(failure)
        if not dry_run:
            audit_reason = f"{reason}: {error.message}"
            await _write_audit(
                conn,
                status="FAILED",
                from_version=progress.from_version,
                to_version=progress.to_version,
                reason=audit_reason,
                actor=applied_by,
            )
        reporter(events.PlanRolledBack(progress.to_version or 0, error.message))
        if error is failure:
            raise
        raise error from failure


async def _rollback_locked(
    conn: asyncpg.Connection,
    *,
    to_version: int | None,
    force: bool,
    reason: str,
    applied_by: str,
    reporter: Reporter,
    started: float,
    progress: _Progress,
    target_catalog_for: CatalogFor,
) -> RollbackResult:
    """Everything `rollback` does while holding the migration lock inside its transaction."""
    state = await read_state(conn)
    if state is None or state.version == 0:
        raise SovriumError("nothing to roll back: no migration has been applied to this database")
    progress.from_version = state.version
    _check_stored_checksum(state)
    await _check_no_drift(conn, state, target_catalog_for)
    applied = {e.version: e for e in await history(conn) if e.rolled_back_at is None}
    target = rollback_target(state.version, sorted(applied), to_version)
    progress.to_version = target
    reverted = tuple(sorted((v for v in applied if target < v <= state.version), reverse=True))
    reverse_steps = _reverse_steps([(v, applied[v].plan) for v in reverted])
    reporter(events.PlanStarted(target, len(reverse_steps)))
    runs, losses = await _run_reverse_steps(conn, reverse_steps, reporter)
    if not force:
        _refuse_rollback_loss(losses, target)
    desired = Catalog() if target == 0 else target_catalog_for(applied[target].schema)
    live = await introspect(conn)
    _verify(live, desired, f"the database after the rollback differs from version {target}")
    await mark_rolled_back(conn, versions=list(reverted), reason=reason)
    await _reset_state(conn, applied.get(target), fingerprint(live))
    await append_log(
        conn,
        operation="ROLLBACK",
        status="COMPLETED",
        from_version=state.version,
        to_version=target,
        reason=reason,
        actor=applied_by,
    )
    result = RollbackResult(
        from_version=state.version,
        to_version=target,
        reverted_versions=reverted,
        status="dry-run" if progress.dry_run else "rolled-back",
        steps=tuple(runs),
        data_loss=tuple(loss.describe() for loss in losses),
        reason=reason,
        elapsed_ms=_elapsed_ms(started),
    )
    if progress.dry_run:
        raise _DryRunFinished(result)
    reporter(events.PlanFinished(target, result.elapsed_ms))
    return result


def rollback_target(current: int, applied_versions: Sequence[int], to_version: int | None) -> int:
    """The version a rollback ends at: `to_version`, or the applied version just below the current one."""
    if current not in applied_versions:
        raise SovriumError(f"cannot roll back: version {current} has no applied history row holding its reverse steps")
    if to_version is None:
        return max((v for v in applied_versions if v < current), default=0)
    if to_version >= current:
        raise SovriumError(f"nothing to roll back: the database is at version {current}, not above {to_version}")
    if to_version != 0 and to_version not in applied_versions:
        listed = ", ".join(str(v) for v in applied_versions)
        raise SovriumError(
            f"cannot roll back to version {to_version}: it is not an applied version of this database "
            f"(applied: {listed}; 0 means before the first migration)"
        )
    return to_version


def _reverse_steps(plans: Sequence[tuple[int, Mapping[str, Any]]]) -> list[_ReverseStep]:
    """The stored steps of each version, newest version first and last step first, numbered in run order."""
    steps: list[_ReverseStep] = []
    for version, plan_document in plans:
        stored = plan_document.get("steps")
        if not isinstance(stored, list):
            raise SovriumError(f"cannot roll back version {version}: its stored plan has no steps")
        for step in reversed(stored):
            steps.append(
                _ReverseStep(
                    number=len(steps) + 1,
                    version=version,
                    step_id=int(step["id"]),
                    op=str(step["op"]),
                    target=str(step.get("target", "")),
                    summary=str(step["summary"]),
                    statements=tuple(str(s) for s in step.get("reverse", ())),
                )
            )
    return steps


async def _run_reverse_steps(
    conn: asyncpg.Connection, steps: Sequence[_ReverseStep], reporter: Reporter
) -> tuple[list[StepRun], list[DataLoss]]:
    """Run each reverse step, counting first what it would destroy (counted where the data is then)."""
    runs: list[StepRun] = []
    losses: list[DataLoss] = []
    for step in steps:
        if not step.statements:
            continue
        loss = await _measure_loss(conn, step.label, step.op, step.target, _REVERSE_LOSSES, statements=step.statements)
        if loss is not None and loss.amount != 0:
            losses.append(loss)
        summary = f"{step.label}: {step.summary}"
        runs.append(await _run_step(conn, step.number, summary, step.statements, reporter))
    return runs, losses


def _refuse_rollback_loss(losses: Sequence[DataLoss], target: int) -> None:
    """Refuse a rollback that destroys values, naming each and how many; `--force` allows it."""
    if not losses:
        return
    listed = "; ".join(loss.describe() for loss in losses)
    raise DestructiveRefused(
        f"Destructive operation detected: rolling back to version {target} would destroy data: {listed}. "
        "Nothing was changed. Re-run with --force to roll back anyway and lose that data.",
        losses=tuple(loss.describe() for loss in losses),
    )


async def _reset_state(conn: asyncpg.Connection, target: HistoryEntry | None, live_fingerprint: str) -> None:
    """Point the singleton at the target version, or remove it when going back before the first migration."""
    if target is None:
        await clear_state(conn)
        return
    await write_state(
        conn,
        version=target.version,
        checksum=target.checksum,
        schema=canonical_json(target.schema),
        fingerprint=live_fingerprint,
    )


# --- the transaction's opening: settings and the migration lock ------------------------------------------


async def _begin(
    conn: asyncpg.Connection,
    *,
    action: str,
    applied_by: str,
    lock_wait: float,
    lock_timeout: str,
    statement_timeout: str,
    reporter: Reporter,
) -> None:
    """Set the transaction's timeouts and name, then take the migration lock."""
    await _configure_transaction(conn, lock_timeout, statement_timeout, f"sovrium {action} by {applied_by}")
    await acquire_migration_lock(conn, lock_wait=lock_wait, reporter=reporter)


async def _configure_transaction(
    conn: asyncpg.Connection, lock_timeout: str, statement_timeout: str, application_name: str
) -> None:
    """Transaction-local settings in one round trip; the name shows other runners who holds the lock."""
    import asyncpg

    settings = [
        ("lock_timeout", lock_timeout),
        ("statement_timeout", statement_timeout),
        ("application_name", application_name),
    ]
    if conn.get_server_version().major >= 14:
        settings.append(("client_connection_check_interval", DEAD_CLIENT_CHECK_INTERVAL))
    calls = ", ".join(f"set_config(${2 * i + 1}, ${2 * i + 2}, true)" for i in range(len(settings)))
    try:
        await conn.execute(f"SELECT {calls}", *[value for pair in settings for value in pair])
    except asyncpg.InvalidParameterValueError as failure:
        raise UsageError(f"invalid timeout setting: {failure}") from failure


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


# --- checks ------------------------------------------------------------------------------------------------


def _check_stored_checksum(state: RecordedState) -> None:
    """Refuse when the stored checksum is not the checksum of the stored snapshot: the bookkeeping was edited."""
    from sovrium_tui.schema.checksum import checksum_of_tables

    tables = state.schema.get("tables", [])
    if checksum_of_tables(tables if isinstance(tables, list) else []) != state.checksum:
        raise DriftDetected(
            "Schema drift detected: checksum mismatch. The stored checksum does not match the recalculated "
            "checksum from the stored schema. This indicates database tampering or corruption."
        )


async def _check_no_drift(conn: asyncpg.Connection, state: RecordedState, catalog_for: CatalogFor) -> None:
    """Refuse when the live schema differs from the one recorded at the last migration."""
    if state.fingerprint is None:
        return
    live = await introspect(conn)
    if fingerprint(live) == state.fingerprint:
        return
    raise DriftDetected(
        f"Schema drift detected: the live database differs from what version {state.version} recorded "
        f"(changed outside migrations): {describe_drift(state.schema, live, catalog_for)}. Inspect it with "
        "`sovrium drift`; undo the manual change, or accept it with `sovrium drift --accept --reason …`"
    )


def describe_drift(snapshot: Mapping[str, Any], live: Catalog, catalog_for: CatalogFor) -> str:
    """What is extra, missing or changed in the live schema compared with the recorded one, in words."""
    from sovrium_tui.planning.drift import find_drift

    try:
        recorded = catalog_for(snapshot)
    except (SovriumError, ImportError, LookupError, TypeError, ValueError):
        return "the live catalog's fingerprint differs from the recorded one"
    differences = find_drift(recorded, live)
    if not differences:
        return "the live catalog's fingerprint differs from the recorded one"
    return "; ".join(difference.detail for difference in differences)


def _verify(live: Catalog, desired: Catalog, what: str) -> None:
    """Refuse to commit a database that differs from the catalog it should now have."""
    changes = diff(live, desired)
    if changes:
        listed = "; ".join(change.summary() for change in changes)
        raise VerificationFailed(f"{what} (still needed: {listed}); rolled back")


# Which ops lose data, and how to count it: op → (what the step does to the target, unit counted).
_FORWARD_LOSSES = {
    "drop_table": ("drops table", "rows"),
    "drop_column": ("drops column", "non-null values"),
    "alter_column_type": ("narrows the type of column", "values that would change"),
    "add_constraint": ("adds a rule that existing rows may break:", "rows that break it"),
}
_REVERSE_LOSSES = {
    "create_table": ("drops table", "rows"),
    "add_column": ("drops column", "non-null values"),
    "alter_column_type": ("changes back the type of column", "values that would change"),
}


async def _refuse_destructive_steps(conn: asyncpg.Connection, plan: Plan) -> None:
    """Refuse data-losing steps on tables that do not allow it, naming what would be lost and how much."""
    allowed = allowed_destructive_tables(plan.schema)
    renamed: dict[str, str] = {}  # new table name → the name it has before the plan runs
    losses = []
    for step in plan.steps:
        renamed.update(_table_renames(step.forward, renamed))
        if not is_destructive(step.hazards) or step.target.partition(".")[0] in allowed:
            continue
        table, dot, column = step.target.partition(".")
        where_now = f"{renamed.get(table, table)}{dot}{column}"
        loss = await _measure_loss(
            conn, f"step {step.id}", step.op, where_now, _FORWARD_LOSSES, statements=step.forward
        )
        if loss is not None:
            loss = DataLoss(loss.step, loss.action.replace(where_now, step.target), loss.amount, loss.unit)
            if loss.amount == 0 and "data-loss" not in step.hazards:
                continue  # a narrowing nothing in the table breaks: safe to run

        hazards = ", ".join(step.hazards)
        losses.append(loss or DataLoss(f"step {step.id}", f"{step.summary} (marked {hazards})", None, ""))
    if losses:
        listed = "; ".join(loss.describe() for loss in losses)
        raise DestructiveRefused(
            f"Destructive operation detected: plan {plan.version} would destroy data: {listed}. Nothing was "
            "changed. To proceed with data loss, re-run with --allow-destructive or set allowDestructive: true "
            "on the table in the schema.",
            losses=tuple(loss.describe() for loss in losses),
        )


def allowed_destructive_tables(schema_json: str) -> frozenset[str]:
    """Physical names of the tables whose target definition says `allowDestructive: true`."""
    from sovrium_tui.schema.model import physical_table_name

    tables = json.loads(schema_json).get("tables", [])
    return frozenset(
        physical_table_name(str(table.get("name", "")))
        for table in tables
        if isinstance(table, dict) and table.get("allowDestructive") is True
    )


_RENAME_TABLE = re.compile(r'^ALTER TABLE public\.("(?:[^"]|"")+"|\S+) RENAME TO ("(?:[^"]|"")+"|\S+)$')
_ADD_CHECK = re.compile(r"^ALTER TABLE \S+ ADD CONSTRAINT \S+ CHECK \((.*)\)$", re.DOTALL)
_ALTER_TYPE = re.compile(r"^ALTER TABLE \S+ ALTER COLUMN .+? TYPE (?P<type>.+?)(?: USING (?P<using>.+))?$", re.DOTALL)


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _table_renames(statements: Sequence[str], known: Mapping[str, str]) -> dict[str, str]:
    """Table renames a step makes, as new name → the name before the plan started."""
    found = {}
    for statement in statements:
        match = _RENAME_TABLE.match(statement.strip())
        if match:
            old, new = _unquote(match.group(1)), _unquote(match.group(2))
            found[new] = known.get(old, old)
    return found


async def _measure_loss(
    conn: asyncpg.Connection,
    step: str,
    op: str,
    target: str,
    kinds: Mapping[str, tuple[str, str]],
    *,
    statements: Sequence[str] = (),
) -> DataLoss | None:
    """Count what one step would destroy in its target, or None when its op loses nothing countable."""
    kind = kinds.get(op)
    if kind is None:
        return None
    action, unit = kind
    table, _, column = target.partition(".")
    relation = f"public.{quote_ident(table)}"  # the schema introspection manages
    if op == "alter_column_type":
        return DataLoss(step, f"{action} {target}", await _count_changed(conn, relation, column, statements), unit)
    if op == "add_constraint":
        check = next((m.group(1) for s in statements if (m := _ADD_CHECK.match(s.strip()))), None)
        query = f"SELECT count(*) FROM {relation} WHERE NOT ({check})"
        return DataLoss(step, f"{action} {target}", await _count_or_none(conn, query) if check else None, unit)
    counted = "*" if unit == "rows" else quote_ident(column)
    query = f"SELECT count({counted}) FROM {relation}"
    return DataLoss(step, f"{action} {target}", await _count_or_none(conn, query), unit)


async def _count_changed(conn: asyncpg.Connection, relation: str, column: str, statements: Sequence[str]) -> int | None:
    """Values a type change would not keep: converted to the new type and back, they differ (or fail)."""
    match = next((m for s in statements if (m := _ALTER_TYPE.match(s.strip()))), None)
    if match is None:
        return await _count_or_none(conn, f"SELECT count({quote_ident(column)}) FROM {relation}")
    current = await conn.fetchval(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
        relation,
        column,
    )
    if current is None:
        return None
    name = quote_ident(column)
    converted = f"(({match.group('using') or name})::{match.group('type')})::{current}"
    query = f"SELECT count(*) FROM {relation} WHERE {name} IS NOT NULL AND {converted} IS DISTINCT FROM {name}"
    return await _count_or_none(conn, query, unconvertible_counts_all=f"SELECT count({name}) FROM {relation}")


async def _count_or_none(
    conn: asyncpg.Connection, query: str, *, unconvertible_counts_all: str | None = None
) -> int | None:
    """Run a count in a savepoint, so a missing table or column gives None instead of aborting everything.

    With `unconvertible_counts_all`, a value the conversion rejects means every value is at stake: that
    fallback count is returned instead.
    """
    import asyncpg

    try:
        async with conn.transaction():
            return int(await conn.fetchval(query))
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        return None
    except (asyncpg.DataError, asyncpg.CannotCoerceError, asyncpg.DatatypeMismatchError):
        if unconvertible_counts_all is None:
            return None
        return await _count_or_none(conn, unconvertible_counts_all)


def estimate_locks(ops: Iterable[str]) -> int:
    """The locks a plan's transaction will hold at its end, erring high (see LOCKS_PER_CREATE_TABLE)."""
    return sum(LOCKS_PER_CREATE_TABLE if op == "create_table" else LOCKS_PER_OTHER_STEP for op in ops)


def lock_ceiling_problem(needed: int, max_locks_per_transaction: int, max_connections: int, prepared: int) -> str:
    """Why a transaction needing `needed` locks would run out of lock table, or "" when it fits."""
    slots = max_connections + prepared
    capacity = LOCK_TABLE_HEADROOM * max_locks_per_transaction * slots
    if needed <= capacity:
        return ""
    suggested = math.ceil(needed * 1.25 / (LOCK_TABLE_HEADROOM * slots) / 64) * 64
    return (
        f"this plan needs about {needed} locks in one transaction, more than the server's lock table holds "
        f"(about {capacity}: max_locks_per_transaction = {max_locks_per_transaction} with max_connections = "
        f"{max_connections}); raise max_locks_per_transaction to at least {suggested} (postgresql.conf, then "
        "restart the server) or split the plan"
    )


async def _check_lock_ceiling(conn: asyncpg.Connection, plan: Plan) -> None:
    """Refuse before running a plan that would fail with "out of shared memory" after creating most tables."""
    row = await conn.fetchrow(
        "SELECT current_setting('max_locks_per_transaction')::int AS per_transaction, "
        "current_setting('max_connections')::int AS connections, "
        "current_setting('max_prepared_transactions')::int AS prepared"
    )
    needed = estimate_locks(step.op for step in plan.steps)
    problem = lock_ceiling_problem(needed, row["per_transaction"], row["connections"], row["prepared"])
    if problem:
        raise PlanTooLarge(problem)


# --- running steps -----------------------------------------------------------------------------------------


async def _run_step(
    conn: asyncpg.Connection, step_id: int, summary: str, statements: Sequence[str], reporter: Reporter
) -> StepRun:
    """Send one step's statements as one simple-query round trip; a failure keeps PostgreSQL's own text."""
    import asyncpg

    sql = ";\n".join(statements)
    reporter(events.StepStarted(step_id, summary))
    started = time.monotonic()
    try:
        await conn.execute(sql)
    except asyncpg.PostgresError as failure:
        message = f"step {step_id} ({summary}) failed: {postgres_text(failure)}"
        reporter(events.StepFailed(step_id, message))
        raise StepFailed(message, step=step_id, sql=sql) from failure
    elapsed = _elapsed_ms(started)
    reporter(events.StepFinished(step_id, elapsed))
    return StepRun(step_id, summary, elapsed)


def postgres_text(failure: Exception) -> str:
    """PostgreSQL's message on one line, with its detail and hint (once each) when it gave them."""
    text = str(getattr(failure, "message", None) or (failure.args[0] if failure.args else failure))
    text = " ".join(text.split("\n", maxsplit=1)[0].split()) if text else type(failure).__name__
    for label in ("detail", "hint"):
        extra = getattr(failure, label, None)
        if extra:
            text += f" ({label}: {extra})"
    return text


# --- failure handling and audit ------------------------------------------------------------------------------


def _as_sovrium_error(failure: Exception) -> SovriumError:
    """The failure as one of our errors: ours unchanged, a lost connection or a database error in words."""
    import asyncpg

    if isinstance(failure, SovriumError):
        return failure
    if isinstance(failure, asyncpg.PostgresError):
        return SovriumError(f"migration failed: {postgres_text(failure)}")
    if isinstance(failure, (asyncpg.InterfaceError, OSError)):
        return ConnectionFailed(f"Database connection failed: {failure} (the server rolls back the open transaction)")
    return SovriumError(f"migration failed: {type(failure).__name__}: {failure}")


async def _write_audit(
    conn: asyncpg.Connection,
    *,
    status: str,
    from_version: int | None,
    to_version: int | None,
    reason: str,
    actor: str,
) -> None:
    """Write one ROLLBACK log row in its own transaction, after the failed one rolled back; best effort."""
    with contextlib.suppress(Exception):
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $1, true)",
                AUDIT_TIMEOUT,
            )
            await ensure_store(conn)
            await append_log(
                conn,
                operation="ROLLBACK",
                status=status,
                from_version=from_version,
                to_version=to_version,
                reason=reason,
                actor=actor,
            )


# --- small helpers -------------------------------------------------------------------------------------------


def compiled_catalog(snapshot: Mapping[str, Any]) -> Catalog:
    """The catalog a recorded app snapshot compiles to: what the database looked like at that version."""
    from sovrium_tui.catalog.compile import compile_app
    from sovrium_tui.schema import app_from_document

    return compile_app(app_from_document(dict(snapshot), source="recorded snapshot"))


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


def _short(checksum: str | None) -> str:
    return checksum[:12] if checksum else "none"


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
