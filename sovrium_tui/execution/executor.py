"""Apply a plan, or reverse applied versions, as one guarded transaction: the only module that changes schemas.

`apply_plan` and `rollback` each read as the sequence of guarantees the README lists; the guarantees live in
their own modules: `session` (the transaction, its settings, the migration lock, table locks), `checks`
(bookkeeping, binding, drift, lock ceiling, verification), `losses` (what statements would destroy, counted
in the database) and `audit` (the failure row that survives the rollback).

Refusals that only read the plan and the bookkeeping (a stale plan, another app's plan, a skipped version,
nothing to roll back, a plan too large for the lock table) change nothing and write nothing. Once a plan is
attempted against the live schema, any failure is rolled back and then logged in a transaction of its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from sovrium_tui.catalog.introspect import fingerprint, introspect
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.errors import (
    CommitOutcomeUnknown,
    DestructiveRefused,
    PlanInvalid,
    SovriumError,
    StepFailed,
)
from sovrium_tui.execution import audit, checks, events, session
from sovrium_tui.execution.audit import applied_by
from sovrium_tui.execution.checks import CatalogFor, describe_drift, estimate_locks, lock_ceiling_problem
from sovrium_tui.execution.failures import (
    as_sovrium_error,
    connection_lost,
    drift_conflict,
    postgres_text,
    rollback_remedy,
    row_remedy,
)
from sovrium_tui.execution.losses import (
    BREAKING_ROWS,
    DataLoss,
    allowed_destructive_tables,
    losses_of,
    refused_on_apply,
    schema_tables,
)
from sovrium_tui.execution.session import MIGRATION_LOCK_KEY, acquire_migration_lock, lock_holder
from sovrium_tui.execution.store import (
    HistoryEntry,
    RecordedState,
    append_log,
    clear_state,
    drift_acceptances,
    ensure_store,
    highest_version,
    history,
    mark_rolled_back,
    read_state,
    record_applied,
    write_state,
)
from sovrium_tui.identifiers import quote_ident
from sovrium_tui.planning.accepted import with_accepted_drift
from sovrium_tui.planning.plan import HAND_WRITTEN_OP, Plan, Step, canonical_json
from sovrium_tui.planning.statements import Relation, StatementFacts, analyse, generated_facts, named_relations
from sovrium_tui.records import record
from sovrium_tui.schema.js_json import read_json

if TYPE_CHECKING:
    import asyncpg

    from sovrium_tui.execution.events import Reporter

__all__ = [
    "MIGRATION_LOCK_KEY",
    "ApplyResult",
    "DataLoss",
    "RollbackResult",
    "StepRun",
    "acquire_migration_lock",
    "allowed_destructive_tables",
    "applied_by",
    "apply_plan",
    "compiled_catalog",
    "describe_drift",
    "estimate_locks",
    "lock_ceiling_problem",
    "lock_holder",
    "postgres_text",
    "rollback",
    "rollback_target",
]

ApplyStatus = Literal["applied", "already-applied", "dry-run"]
RollbackStatus = Literal["rolled-back", "dry-run"]
# Makes the plan that takes the database from its recorded state (read under the migration lock) to the
# caller's schema, or None when the database already is there; `migrate` plans this way, so that a runner that
# lost the race for the lock plans again from where the winner left the database.
Replanner = Callable[["asyncpg.Connection", RecordedState | None], Awaitable[Plan | None]]


# --- results ---------------------------------------------------------------------------------------------


@record
class StepRun:
    """One step that ran, with how long the database took for it."""

    id: int
    summary: str
    elapsed_ms: int
    statements: tuple[str, ...] = ()  # what ran, so a dry run can show the SQL a rollback planned

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "summary": self.summary, "elapsed_ms": self.elapsed_ms}


@record
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


@record
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


class _DryRunFinished(Exception):
    """Raised inside the transaction after a successful dry run, so that it rolls back."""

    def __init__(self, result: ApplyResult | RollbackResult) -> None:
        super().__init__("dry run")
        self.result = result


@dataclass(slots=True)
class _Attempt:
    """What a failing run knew when it failed: for its audit row and its last event."""

    plan: Plan | None = None
    from_version: int | None = None
    to_version: int | None = None
    started: bool = False  # past the checks that only read the bookkeeping: a failure is logged


@record
class _RunnableStep:
    """One step as the executor runs it: forward steps of a plan, or stored reverse steps of a version."""

    number: int  # position in this run, 1-based
    label: str  # "step 2", "undoing version 3 step 1"
    summary: str
    statements: tuple[str, ...]
    hand_written: bool = False  # an `op: sql` step (or its reverse): triggers it creates are code to distrust
    computes: bool = False  # a `compute_columns` step: a failure on the rows is a formula they cannot compute
    generated: bool = False  # SQL this tool wrote, as it wrote it (a plan made here, or with an intact digest)

    def facts(self, statement: str) -> StatementFacts:
        return generated_facts(statement) if self.generated else analyse(statement)


# --- apply -----------------------------------------------------------------------------------------------


async def apply_plan(
    conn: asyncpg.Connection,
    plan: Plan,
    *,
    target_catalog: Catalog | None = None,
    allow_destructive: bool,
    applied_by: str,
    lock_wait: float,
    lock_timeout: str = "10s",
    statement_timeout: str = "0",
    reporter: Reporter = events.ignore_events,
    dry_run: bool = False,
    recorded_catalog_for: CatalogFor | None = None,
    replan: Replanner | None = None,
    target_catalog_for: CatalogFor | None = None,
    opener: session.Opener | None = None,
) -> ApplyResult:
    """Apply `plan` as one transaction, or raise with the database exactly as before.

    `recorded_catalog_for` compiles a recorded app snapshot (default: the schema compiler): it says what
    differs when the live database has drifted, and (as `target_catalog_for`) gives the plan's target when
    `target_catalog` is not given, once the steps have run (a refusal comes before any compiling; a caller may
    compile the target aside meanwhile).
    `opener` opens a second connection to say, while a statement waits for a lock, who holds it.
    """
    started = time.monotonic()
    catalog_for = recorded_catalog_for or compiled_catalog
    attempt = _Attempt(plan, plan.from_version, plan.version)
    try:
        async with session.migration_transaction(conn):
            await _begin(
                conn,
                "apply",
                applied_by=applied_by,
                lock_wait=lock_wait,
                lock_timeout=lock_timeout,
                statement_timeout=statement_timeout,
                reporter=reporter,
            )
            result = await _apply_locked(
                conn,
                attempt,
                target_catalog=target_catalog,
                target_catalog_for=target_catalog_for or catalog_for,
                allow_destructive=allow_destructive,
                applied_by=applied_by,
                lock_timeout=lock_timeout,
                reporter=reporter,
                started=started,
                recorded_catalog_for=catalog_for,
                replan=replan,
                opener=opener,
            )
            if dry_run and result.status == "applied":
                raise _DryRunFinished(ApplyResult(result.version, "dry-run", result.steps, result.elapsed_ms))
    except _DryRunFinished as finished:
        reporter(events.PlanRolledBack(plan.version, "dry run: every check and step succeeded", "dry-run"))
        assert isinstance(finished.result, ApplyResult)
        return finished.result
    except Exception as failure:
        error = await _explained(conn, failure, attempt)
        if attempt.started and not dry_run:
            await audit.write_failed_migration(
                conn,
                from_version=attempt.from_version,
                to_version=attempt.to_version,
                reason=error.message,
                actor=applied_by,
            )
        reporter(events.PlanRolledBack(attempt.to_version or plan.version, error.message, _outcome(error)))
        if error is failure:
            raise
        raise error from failure
    if result.status == "applied":
        reporter(events.PlanFinished(result.version, result.elapsed_ms))
    return result


async def _apply_locked(
    conn: asyncpg.Connection,
    attempt: _Attempt,
    *,
    target_catalog: Catalog | None,
    target_catalog_for: CatalogFor,
    allow_destructive: bool,
    applied_by: str,
    lock_timeout: str,
    reporter: Reporter,
    started: float,
    recorded_catalog_for: CatalogFor,
    replan: Replanner | None,
    opener: session.Opener | None,
) -> ApplyResult:
    """Everything `apply_plan` does while holding the migration lock inside its transaction, in order."""
    assert attempt.plan is not None
    plan = attempt.plan
    # 1. Bookkeeping: the stored checksum is the checksum of the stored snapshot.
    state = await read_state(conn)
    if state is not None:
        checks.check_stored_checksum(state)
    # 2. Binding: a re-made plan when the caller plans (migrate); else the plan starts where the database is.
    if replan is not None and _binding(state) != (plan.from_version, plan.from_checksum):
        remade = await replan(conn, state)
        if remade is None:
            version = state.version if state else 0
            return ApplyResult(version, "already-applied", (), _elapsed_ms(started))
        plan, target_catalog = remade, target_catalog_for(_schema_of(remade))
        attempt.plan, attempt.from_version, attempt.to_version = plan, plan.from_version, plan.version
    if await _already_applied(conn, state, plan):
        return ApplyResult(plan.version, "already-applied", (), _elapsed_ms(started))
    checks.check_same_app(state, plan)
    checks.check_not_stale(state, plan)
    checks.check_next_version(plan, await highest_version(conn))
    # 3. The lock table can hold what the plan will lock; every statement may be in a plan (read with PostgreSQL's
    # parser, whatever the file says, but for what this tool wrote to create something, taken as written when the
    # digest is intact and the text is plainly one statement). Both only read, so a refusal here writes nothing.
    await checks.check_lock_ceiling(conn, [step.forward for step in plan.steps], "this plan")
    intact = plan.digest_ok  # its generated steps are as this tool wrote them
    _refuse_unsafe_statements(plan, intact=intact)
    attempt.started = True
    # 4. The live schema is what the last migration recorded.
    before = await checks.check_no_drift(conn, state, recorded_catalog_for) if state is not None else None
    await ensure_store(conn)
    plan, passed_over = await _users_table_as_found(conn, plan)
    notes = {step.id: "already there, used as it is" for step in passed_over}
    if state is not None and before is not None and await drift_acceptances(conn):
        plan, done = _steps_accepted_drift_did(plan, before, recorded_catalog_for(state.schema))
        passed_over += done
        notes.update({step.id: "already done by drift accepted on this database" for step in done})
    attempt.plan = plan
    # 5. Every existing table the plan changes is locked before anything is counted or changed.
    steps = [
        _RunnableStep(
            s.id,
            f"step {s.id}",
            s.summary,
            s.forward,
            s.op == HAND_WRITTEN_OP,
            _computes(s.op, s.forward),
            generated=_as_written(s, intact=intact),
        )
        for s in plan.steps
    ]
    await session.lock_tables(conn, _relations(steps), lock_timeout=lock_timeout, opener=opener, reporter=reporter)
    # 6. Data the statements would destroy, counted now and again just before each step, refused unless allowed.
    allowed = allowed_destructive_tables(plan.schema)
    if not allow_destructive:
        _refuse_apply_losses(plan, refused_on_apply(await _losses_now(conn, steps), allowed))
    reporter(events.PlanStarted(plan.version, len(plan.steps) + len(passed_over)))
    for skipped in passed_over:
        reporter(events.StepStarted(skipped.id, f"{skipped.summary}: {notes[skipped.id]}"))
        reporter(events.StepFinished(skipped.id, 0))
    runs: list[StepRun] = []
    refused: list[DataLoss] = []
    for group in _groups(steps):
        if len(group) > 1:
            together = await _run_together(conn, group, reporter, opener=opener, lock_timeout=lock_timeout)
            if together is not None:
                runs += together
                continue
        for step in group:  # one by one: a step of its own, or a group that failed (run again to say which step)
            if not allow_destructive:
                refused += refused_on_apply(
                    await losses_of(conn, step.label, step.statements, step.hand_written, step.facts), allowed
                )
            try:
                runs.append(
                    await _run_step(conn, step, reporter, opener=opener, lock_timeout=lock_timeout, advise="apply")
                )
            except StepFailed as failed:
                if refused:
                    _refuse_apply_losses(plan, refused, then=failed.message)
                if state is not None and before is not None and not step.hand_written:
                    from sovrium_tui.planning.drift import find_drift

                    differences = len(find_drift(recorded_catalog_for(state.schema), before))
                    hint = drift_conflict(failed.__cause__, differences, state.version)
                    if hint is not None:
                        message = f"{failed.message}; {hint}"
                        raise StepFailed(message, step=failed.step, sql=failed.sql) from failed.__cause__
                raise
    _refuse_apply_losses(plan, refused)
    # 7. The database is what the plan promised, with the drift accepted before it where the plan left it alone.
    # (The target is compiled only now: a caller may have had it compiled aside while the steps ran.)
    if target_catalog is None:
        target_catalog = target_catalog_for(_schema_of(plan))
    live = await introspect(conn)
    accepted = None
    if state is not None and before is not None:
        accepted = _accepted_drift_keeper(state.schema, _schema_of(plan), before, recorded_catalog_for)
    checks.verify(
        live, target_catalog, "the database after the plan differs from its target", with_accepted_drift=accepted
    )
    # 8. History, state and log, in the same transaction.
    await _record_apply(conn, plan, fingerprint(live), applied_by, _elapsed_ms(started))
    return ApplyResult(plan.version, "applied", tuple(runs), _elapsed_ms(started))


async def _users_table_as_found(conn: asyncpg.Connection, plan: Plan) -> tuple[Plan, tuple[Step, ...]]:
    """The plan with its step creating Better Auth's `auth."user"` fitted to the database, and the steps passed over.

    A plan made offline creates the table (and schema `auth`) when the app's previous version had no user fields;
    the database may have it all the same (Sovrium created it, or an earlier version of the app did: no plan
    drops it). An existing table is used as it is: the step is passed over and left out of the recorded plan, so
    no rollback drops it. An existing schema without the table: only the table is created (and dropped by the
    reverse). Only the step as this tool writes it is fitted; a hand-edited one runs as written.
    """
    from sovrium_tui.planning.ddl import create_auth_users_sql, drop_auth_users_sql

    with_schema, table_only = create_auth_users_sql(True), create_auth_users_sql(False)
    creating = [s for s in plan.steps if s.op == "create_auth_users" and s.forward in (with_schema, table_only)]
    if not creating:
        return plan, ()
    table, schema = await conn.fetchrow(
        "SELECT to_regclass('auth.\"user\"') IS NOT NULL, to_regnamespace('auth') IS NOT NULL"
    )
    if table:
        return replace(plan, steps=tuple(s for s in plan.steps if s not in creating)), tuple(creating)
    if schema and creating[0].forward == with_schema:
        fitted = replace(creating[0], forward=table_only, reverse=drop_auth_users_sql(False))
        return replace(plan, steps=tuple(fitted if s is creating[0] else s for s in plan.steps)), ()
    return plan, ()


_DRIFT_DONE_OPS = frozenset(
    {
        "drop_index",
        "rename_index",
        "drop_constraint",
        "rename_constraint",
        "drop_trigger",
        "rename_trigger",
        "drop_column",
        "rename_function",
    }
)


def _steps_accepted_drift_did(plan: Plan, before: Catalog, recorded: Catalog) -> tuple[Plan, tuple[Step, ...]]:
    """The plan without the generated steps that drop or rename an index, constraint or trigger, rename a trigger
    function, or drop a column, that drift accepted on this database had already dropped (the recorded schema has
    it, the database does not), and those steps.

    A plan made offline knows nothing of the drift, and PostgreSQL refuses to drop or rename what is not there.
    The steps passed over are left out of the recorded plan, so no rollback undoes them. Only a step exactly as
    this tool writes it is passed over (see `drift_done`); any other runs as written.
    """
    # A column counts only where its table is there: a table dropped by hand is no step's to pass over.
    gone = (_names(recorded) | _columns(recorded, before)) - (_names(before) | _columns(before, before))
    if not gone:
        return plan, ()
    done = tuple(s for s in plan.steps if s.op in _DRIFT_DONE_OPS and drift_done(s.forward, gone))
    if not done:
        return plan, ()
    return replace(plan, steps=tuple(s for s in plan.steps if s not in done)), done


_IDENT = r'("(?:[^"]|"")+"|[^\s"]+)'
# The statements the renderer writes for these steps, `{}` for each name, the kind of object dropped or renamed,
# and which names say which one it is (a column: its table's and its own).
_DRIFT_DONE_FORMS = (
    ("DROP INDEX public.{}", "index", (0,)),
    ("ALTER INDEX public.{} RENAME TO {}", "index", (0,)),
    ("ALTER TABLE public.{} DROP CONSTRAINT {}", "constraint", (1,)),
    ("ALTER TABLE public.{} RENAME CONSTRAINT {} TO {}", "constraint", (1,)),
    ("DROP TRIGGER {} ON public.{}", "trigger", (0,)),
    ("ALTER TRIGGER {} ON public.{} RENAME TO {}", "trigger", (0,)),
    ("ALTER TABLE public.{} DROP COLUMN {}", "column", (0, 1)),
    ("ALTER FUNCTION public.{}() RENAME TO {}", "function", (0,)),
)
_DRIFT_DONE_PATTERNS = tuple(
    (re.compile(re.escape(form).replace(r"\{\}", _IDENT)), form, kind, which) for form, kind, which in _DRIFT_DONE_FORMS
)


def drift_done(forward: Sequence[str], gone: set[tuple[str, str]]) -> bool:
    """Whether `forward` is one statement, exactly as the renderer writes it (written again from the names read),
    dropping or renaming an object in `gone`."""
    if len(forward) != 1:
        return False
    for pattern, form, kind, which in _DRIFT_DONE_PATTERNS:
        match = pattern.fullmatch(forward[0])
        if match is not None:
            names = [_unquoted(group) for group in match.groups()]
            exact = form.format(*(quote_ident(name) for name in names)) == forward[0]
            return exact and (kind, ".".join(names[n] for n in which)) in gone
    return False


def _unquoted(identifier: str) -> str:
    return identifier[1:-1].replace('""', '"') if identifier.startswith('"') else identifier


def _names(catalog: Catalog) -> set[tuple[str, str]]:
    """(kind, name) of every index, constraint, trigger and function."""
    names = {("function", f.name) for f in catalog.functions}
    for table in catalog.tables:
        names |= {("index", i.name) for i in table.indexes}
        names |= {("constraint", c.name) for c in table.constraints}
        names |= {("trigger", t.name) for t in table.triggers}
    return names


def _columns(catalog: Catalog, tables: Catalog) -> set[tuple[str, str]]:
    """("column", `table.column`) of every column of `catalog` whose table `tables` has."""
    return {
        ("column", f"{table.name}.{c.name}")
        for table in catalog.tables
        if tables.table(table.name)
        for c in table.columns
    }


def _accepted_drift_keeper(
    recorded: Mapping[str, Any], target: Mapping[str, Any], before: Catalog, catalog_for: CatalogFor
) -> Callable[[Catalog], Catalog]:
    """What the database should be after steps from the `recorded` snapshot towards the `target` one (compiled:
    the catalog given), keeping the drift it had accepted `before` them (the live catalog then, which passed the
    drift check); renames known from the two snapshots."""

    def keep(desired: Catalog) -> Catalog:
        from sovrium_tui.planning.renames import renames_between
        from sovrium_tui.schema import recorded_app

        renames = renames_between(recorded_app(recorded), recorded_app(target))
        return with_accepted_drift(catalog_for(recorded), desired, before, renames)

    return keep


def _binding(state: RecordedState | None) -> tuple[int, str | None]:
    return (state.version, state.checksum) if state else (0, None)


def _schema_of(plan: Plan) -> dict[str, Any]:
    document: dict[str, Any] = read_json(plan.schema)
    return document


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


def _refuse_apply_losses(plan: Plan, losses: Sequence[DataLoss], *, then: str | None = None) -> None:
    """Refuse the data-losing steps of a plan, naming what each would destroy and how much."""
    if not losses:
        return
    listed = "; ".join(loss.describe() for loss in losses)
    after = f" ({then})" if then else ""
    broken = any(loss.unit == BREAKING_ROWS and loss.amount for loss in losses)
    rows_first = (
        " Rows that break a new rule must be changed or deleted first (by hand, or in an `op: sql` step before "
        "it): PostgreSQL refuses a rule the rows there break, allowed or not."
        if broken
        else ""
    )
    kept = schema_tables(plan.schema)  # a table the schema no longer has cannot allow its own loss
    tables = {loss.table for loss in losses}
    if all(table in kept for table in tables):
        how = "re-run with --allow-destructive or set allowDestructive: true on the table in the schema"
    elif not tables & kept.keys():
        how = "re-run with --allow-destructive (a table the schema no longer has cannot allow it in the schema)"
    else:
        how = "re-run with --allow-destructive, or set allowDestructive: true on the tables the schema keeps"
    raise DestructiveRefused(
        f"Destructive operation detected: plan {plan.version} would destroy data: {listed}{after}. Nothing was "
        f"changed. To proceed with data loss, {how}.{rows_first}",
        losses=tuple(loss.describe() for loss in losses),
    )


async def _record_apply(
    conn: asyncpg.Connection, plan: Plan, live_fingerprint: str, applied_by: str, duration_ms: int
) -> None:
    """History row, new singleton state and a MIGRATE log row, all inside the plan's transaction."""
    await record_applied(
        conn,
        version=plan.version,
        checksum=plan.to_checksum,
        schema=plan.schema,
        plan=canonical_json({**plan.header_json(), "digest": plan.digest}),  # the file without its snapshot
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
    opener: session.Opener | None = None,
) -> RollbackResult:
    """Reverse the latest applied version (or every one above `to_version`) as one transaction.

    The reverse statements come from `system.migration_history.plan`, so no plan files are needed;
    `target_catalog_for` compiles the target version's stored snapshot for the final comparison.
    """
    started = time.monotonic()
    reason = reason.strip() or "manual rollback (no reason given)"
    attempt = _Attempt(to_version=to_version)
    try:
        async with session.migration_transaction(conn):
            await _begin(
                conn,
                "rollback",
                applied_by=applied_by,
                lock_wait=lock_wait,
                lock_timeout=lock_timeout,
                statement_timeout=statement_timeout,
                reporter=reporter,
            )
            result = await _rollback_locked(
                conn,
                attempt,
                to_version=to_version,
                force=force,
                reason=reason,
                applied_by=applied_by,
                lock_timeout=lock_timeout,
                reporter=reporter,
                started=started,
                target_catalog_for=target_catalog_for or compiled_catalog,
                opener=opener,
            )
            if dry_run:
                raise _DryRunFinished(result)
    except _DryRunFinished as finished:
        assert isinstance(finished.result, RollbackResult)
        dry = finished.result
        reporter(events.PlanRolledBack(dry.to_version, "dry run: the rollback would succeed", "dry-run"))
        return RollbackResult(
            dry.from_version,
            dry.to_version,
            dry.reverted_versions,
            "dry-run",
            dry.steps,
            dry.data_loss,
            dry.reason,
            dry.elapsed_ms,
        )
    except Exception as failure:
        error = await _explained(conn, failure, attempt)
        if attempt.started and not dry_run:
            await audit.write_failure(
                conn,
                operation="ROLLBACK",
                status="FAILED",
                from_version=attempt.from_version,
                to_version=attempt.to_version,
                reason=f"{reason}: {error.message}",
                actor=applied_by,
            )
        target = attempt.to_version if attempt.to_version is not None else 0
        reporter(events.PlanRolledBack(target, error.message, _outcome(error), operation="rollback"))
        if error is failure:
            raise
        raise error from failure
    reporter(events.PlanFinished(result.to_version, result.elapsed_ms))
    return result


async def _rollback_locked(
    conn: asyncpg.Connection,
    attempt: _Attempt,
    *,
    to_version: int | None,
    force: bool,
    reason: str,
    applied_by: str,
    lock_timeout: str,
    reporter: Reporter,
    started: float,
    target_catalog_for: CatalogFor,
    opener: session.Opener | None,
) -> RollbackResult:
    """Everything `rollback` does while holding the migration lock inside its transaction, in order."""
    # 1. There is something to roll back, to a version this database has applied.
    state = await read_state(conn)
    if state is None or state.version == 0:
        raise SovriumError("nothing to roll back: no migration has been applied to this database")
    attempt.from_version = state.version
    applied = {e.version: e for e in await history(conn) if e.rolled_back_at is None}
    target = rollback_target(state.version, sorted(applied), to_version)
    attempt.to_version = target
    reverted = tuple(sorted((v for v in applied if target < v <= state.version), reverse=True))
    desired = Catalog() if target == 0 else target_catalog_for(applied[target].schema)
    accepted_drift = state.fingerprint not in (None, applied[state.version].fingerprint or state.fingerprint)
    reversing = (
        all(applied[v].has_steps for v in reverted)
        and not accepted_drift
        and not await _crosses_drift(conn, applied, target)
    )
    if reversing:
        steps = _reverse_steps([(v, applied[v].plan) for v in reverted])
    else:
        # A version Sovrium recorded has no steps to reverse, or drift accepted since the current version was
        # applied is in no version's steps, or a reverted version was applied on top of accepted drift (its
        # reverse steps would bring that drift back, which the target never had): plan the way back from the
        # live schema to the target's snapshot.
        target_schema = applied[target].schema if target else {"tables": []}
        steps, desired = await _steps_between_snapshots(
            conn, state.schema, target_schema, desired, target, catalog_for=target_catalog_for
        )
    _refuse_unsafe_reverse_statements(steps)
    # 2. The lock table can hold what the reverse steps will lock.
    await checks.check_lock_ceiling(conn, [step.statements for step in steps], "this rollback")
    attempt.started = True
    # 3. Bookkeeping intact, live schema as recorded.
    checks.check_stored_checksum(state)
    before = await checks.check_no_drift(conn, state, target_catalog_for)
    # 4. Every existing table the reverse steps change is locked before anything is counted or changed.
    await session.lock_tables(conn, _relations(steps), lock_timeout=lock_timeout, opener=opener, reporter=reporter)
    # 5. Values the reverse steps would destroy: refused up front unless forced; counted again as each runs.
    if not force:
        _refuse_rollback_loss([loss for loss in await _losses_now(conn, steps) if loss.destroys], target)
    reporter(events.PlanStarted(target, len(steps), operation="rollback"))
    runs, losses = [], []
    for step in steps:
        losses += [
            loss
            for loss in await losses_of(conn, step.label, step.statements, step.hand_written, step.facts)
            if loss.destroys
        ]
        runs.append(await _run_step(conn, step, reporter, opener=opener, lock_timeout=lock_timeout, advise="rollback"))
    if not force:
        _refuse_rollback_loss(losses, target)
    # 6. The database is what version `target` recorded, with the drift accepted since where the steps left it.
    # Undoing steps exactly may also give back the very catalog the database had at `target` (no drift was accepted
    # since: the reverse path is not taken otherwise), accepted drift the reverted plans dropped included.
    live = await introspect(conn)
    restored = reversing and target in applied and applied[target].fingerprint == fingerprint(live)
    accepted = None
    if before is not None:
        target_schema = applied[target].schema if target else {"tables": []}
        accepted = _accepted_drift_keeper(state.schema, target_schema, before, target_catalog_for)
    if not restored:
        checks.verify(
            live,
            desired,
            f"the database after the rollback differs from version {target}",
            with_accepted_drift=accepted,
        )
    # 7. History, state and log, in the same transaction.
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
    return RollbackResult(
        from_version=state.version,
        to_version=target,
        reverted_versions=reverted,
        status="rolled-back",
        steps=tuple(runs),
        data_loss=tuple(loss.describe() for loss in losses),
        reason=reason,
        elapsed_ms=_elapsed_ms(started),
    )


async def _crosses_drift(conn: asyncpg.Connection, applied: Mapping[int, HistoryEntry], target: int) -> bool:
    """Whether drift was accepted at the target or a version above it after that version was applied (so a
    version being reverted was applied on top of it)."""
    return any(
        version >= target and version in applied and accepted_at >= applied[version].applied_at
        for version, accepted_at in await drift_acceptances(conn)
    )


def rollback_target(current: int, applied_versions: Sequence[int], to_version: int | None) -> int:
    """The version a rollback ends at: `to_version`, or the applied version just below the current one."""
    if current not in applied_versions:
        raise SovriumError(f"cannot roll back: version {current} has no applied history row")
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


def _reverse_steps(plans: Sequence[tuple[int, Mapping[str, Any]]]) -> list[_RunnableStep]:
    """The stored steps of each version, newest version first and last step first, numbered in run order."""
    steps: list[_RunnableStep] = []
    for version, plan_document in plans:
        stored = plan_document.get("steps")
        if not isinstance(stored, list):
            raise SovriumError(f"cannot roll back version {version}: its stored plan has no steps")
        for step in reversed(stored):
            statements = tuple(str(s) for s in step.get("reverse", ()))
            if not statements:
                continue
            label = f"undoing version {version} step {step['id']}"
            hand_written = step.get("op") == HAND_WRITTEN_OP
            computes = _computes(str(step.get("op")), statements)  # undoing a drop adds a generated column back
            summary = f"{label}: {step['summary']}"
            steps.append(_RunnableStep(len(steps) + 1, label, summary, statements, hand_written, computes))
    return steps


async def _steps_between_snapshots(
    conn: asyncpg.Connection,
    current_schema: Mapping[str, Any],
    target_schema: Mapping[str, Any],
    desired: Catalog,
    target: int,
    *,
    catalog_for: CatalogFor,
) -> tuple[list[_RunnableStep], Catalog]:
    """The steps from the live schema to version `target`'s snapshot, renames known from the two snapshots, and
    the catalog they lead to: drift accepted since is kept where the way back leaves the object alone, and so are
    row-level security and policies (see `planning.accepted` and `kept_row_security`)."""
    from sovrium_tui.planning.diff import diff, kept_row_security
    from sovrium_tui.planning.planner import steps_for
    from sovrium_tui.planning.renames import renames_between
    from sovrium_tui.schema import recorded_app

    renames = renames_between(recorded_app(current_schema), recorded_app(target_schema))
    live = await introspect(conn)
    kept = kept_row_security(live, with_accepted_drift(catalog_for(current_schema), desired, live, renames), renames)
    planned = steps_for(diff(live, kept, renames))
    label = f"planned back to version {target}"
    steps = [
        _RunnableStep(s.id, f"{label}: step {s.id}", f"{label}: {s.summary}", s.forward, generated=True)
        for s in planned
    ]
    return steps, kept


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


# --- shared steps ----------------------------------------------------------------------------------------------


async def _begin(
    conn: asyncpg.Connection,
    action: str,
    *,
    applied_by: str,
    lock_wait: float,
    lock_timeout: str,
    statement_timeout: str,
    reporter: Reporter,
) -> None:
    """Set the transaction's settings and name, then take the migration lock."""
    await session.configure_transaction(
        conn,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        application_name=f"sovrium {action} by {applied_by}",
    )
    await acquire_migration_lock(conn, lock_wait=lock_wait, reporter=reporter)


def _refuse_unsafe_statements(plan: Plan, *, intact: bool) -> None:
    """Statements that may not be in a plan are refused with their step, before the database is touched."""
    problems = [
        f"step {step.id} forward statement {number}: {facts.problem}"
        for step in plan.steps
        for number, statement in enumerate(step.forward, start=1)
        if (facts := (generated_facts if _as_written(step, intact=intact) else analyse)(statement)).problem is not None
    ]
    if problems:
        raise PlanInvalid(f"plan {plan.version} cannot be applied: " + "; ".join(problems))


def _as_written(step: Step, *, intact: bool) -> bool:
    """Whether a step's SQL is what this tool generated: not hand-written, in a plan whose digest is intact."""
    return intact and step.op != HAND_WRITTEN_OP


def _refuse_unsafe_reverse_statements(steps: Sequence[_RunnableStep]) -> None:
    problems = [
        f"{step.label} reverse statement {number}: {facts.problem}"
        for step in steps
        for number, statement in enumerate(step.statements, start=1)
        if (facts := analyse(statement)).problem is not None
    ]
    if problems:
        raise PlanInvalid("the recorded reverse steps cannot be run: " + "; ".join(problems))


def _relations(steps: Sequence[_RunnableStep]) -> list[Relation]:
    return [relation for step in steps for statement in step.statements for relation in step.facts(statement).relations]


async def _losses_now(conn: asyncpg.Connection, steps: Sequence[_RunnableStep]) -> list[DataLoss]:
    """Every loss of every step, counted in the database as it is before the first step runs."""
    found = []
    for step in steps:
        found += await losses_of(conn, step.label, step.statements, step.hand_written, step.facts)
    return found


async def _run_step(
    conn: asyncpg.Connection,
    step: _RunnableStep,
    reporter: Reporter,
    *,
    opener: session.Opener | None = None,
    lock_timeout: str = "",
    advise: Literal["apply", "rollback"] | None = None,
) -> StepRun:
    """Send one step's statements as one simple-query round trip; a failure keeps PostgreSQL's own text (with,
    when `advise` and a generated step failed on the rows there, what to do about them: before applying it, or
    before rolling back)."""
    import asyncpg

    sql = one_script(step.statements)
    reporter(events.StepStarted(step.number, step.summary))
    started = time.monotonic()
    if not step.statements:  # a step whose work is all in its reverse (or a reverse with nothing to undo)
        reporter(events.StepFinished(step.number, _elapsed_ms(started)))
        return StepRun(step.number, step.summary, _elapsed_ms(started), step.statements)
    try:
        async with session.watching(conn, opener=opener, what=step.label, limit=lock_timeout, reporter=reporter):
            await conn.execute(sql)
    except asyncpg.PostgresError as failure:
        if connection_lost(failure):
            raise  # not the step's fault: said as a lost connection
        message = f"{step.label} ({_summary(step)}) failed: {postgres_text(failure)}"
        adds_column = any("ADD COLUMN" in statement for statement in step.statements)
        if advise == "apply" and not step.hand_written:
            remedy = row_remedy(failure, adds_column=adds_column, computes=step.computes)
            message += f"; the table has {remedy}" if remedy else ""
        elif advise == "rollback" and not step.hand_written:
            remedy = rollback_remedy(failure, adds_column=adds_column, computes=step.computes)
            message += f"; {remedy}" if remedy else ""
        reporter(events.StepFailed(step.number, message))
        waited = isinstance(failure, asyncpg.LockNotAvailableError)
        raise StepFailed(message, step=step.number, sql=sql, lock_timeout=waited) from failure
    elapsed = _elapsed_ms(started)
    reporter(events.StepFinished(step.number, elapsed))
    return StepRun(step.number, step.summary, elapsed, step.statements)


# Steps sent together, in one round trip: generated steps with nothing to count before they run (each makes
# something new). A round trip per step is most of what 2,000 small steps cost beyond the server's own work (psql
# -f pays one per statement). A group runs inside a savepoint: when one of its statements fails, the group is undone
# and its steps run again one by one, so that the failure is said as the step's own. Groups are sized so that a plan
# has at most GROUPS_PER_PLAN of them: past 64 subtransactions, every session's snapshot must look them up on disk.
STEPS_PER_GROUP = 32
GROUPS_PER_PLAN = 60
_GROUP_SAVEPOINT = "sovrium_steps"


def _groups(steps: Sequence[_RunnableStep]) -> list[list[_RunnableStep]]:
    """The steps in run order, in groups to send together (a step that may not be sent with others alone)."""
    joining = [_goes_with_others(step) for step in steps]
    size = max(STEPS_PER_GROUP, -(-sum(joining) // GROUPS_PER_PLAN))
    groups: list[list[_RunnableStep]] = []
    open_group = False  # whether the last group takes more steps
    shared = 0  # groups of more than one step: a savepoint each
    for step, joins in zip(steps, joining, strict=True):
        last = groups[-1] if groups else []
        if joins and open_group and len(last) < size and (len(last) > 1 or shared < GROUPS_PER_PLAN):
            shared += len(last) == 1
            last.append(step)
        else:
            groups.append([step])
            open_group = joins
    return groups


def _goes_with_others(step: _RunnableStep) -> bool:
    """A generated step whose statements destroy nothing: nothing to count just before it."""
    return step.generated and bool(step.statements) and not any(step.facts(s).effects for s in step.statements)


async def _run_together(
    conn: asyncpg.Connection,
    group: Sequence[_RunnableStep],
    reporter: Reporter,
    *,
    opener: session.Opener | None,
    lock_timeout: str,
) -> list[StepRun] | None:
    """Send a group's steps as one script inside a savepoint; None when one failed (the group is undone). The group's
    time is its first step's; the others are said to have been sent with it."""
    import asyncpg

    statements = [f"SAVEPOINT {_GROUP_SAVEPOINT}", *(s for step in group for s in step.statements)]
    what = f"steps {group[0].number}–{group[-1].number}"
    started = time.monotonic()
    try:
        async with session.watching(conn, opener=opener, what=what, limit=lock_timeout, reporter=reporter):
            await conn.execute(one_script([*statements, f"RELEASE SAVEPOINT {_GROUP_SAVEPOINT}"]))
    except asyncpg.PostgresError as failure:
        if connection_lost(failure):
            raise
        await conn.execute(f"ROLLBACK TO SAVEPOINT {_GROUP_SAVEPOINT}; RELEASE SAVEPOINT {_GROUP_SAVEPOINT}")
        return None
    elapsed, first = _elapsed_ms(started), group[0].number
    runs = []
    for step in group:
        took, sent_with = (elapsed, None) if step.number == first else (0, first)
        reporter(events.StepStarted(step.number, step.summary))
        reporter(events.StepFinished(step.number, took, sent_with))
        runs.append(StepRun(step.number, step.summary, took, step.statements))
    return runs


def one_script(statements: Sequence[str]) -> str:
    """A step's statements as one script for one round trip. A statement may end in a `--` comment: the separator
    goes on a line of its own then."""
    separator = "\n;\n" if any("--" in s for s in statements) else ";\n"
    return separator.join(statements)


def _computes(op: str, statements: Sequence[str]) -> bool:
    """Whether the statements (of a step, or of its reverse) compute formulas for the rows there: a failure on them
    is a value they cannot compute. The `compute_columns` steps, and a generated column being added."""
    if op == "compute_columns":
        return True
    adds = any(" GENERATED ALWAYS AS " in statement for statement in statements)
    return adds and op in ("add_column", "drop_column")


def _summary(step: _RunnableStep) -> str:
    return step.summary.removeprefix(f"{step.label}: ")


async def _explained(conn: asyncpg.Connection, failure: Exception, attempt: _Attempt) -> SovriumError:
    """The failure in words; a step that waited too long for a lock names the sessions that held it."""
    error = as_sovrium_error(failure)
    if isinstance(error, StepFailed) and error.lock_timeout and not conn.is_closed():
        tables = sorted({relation.sql for s in _statements_of(error.sql) for relation in named_relations(s)})
        held = await session.describe_blockers(conn, tables) if tables else ""
        if held:
            return StepFailed(f"{error.message}: {held}", step=error.step, sql=error.sql)
    return error


def _statements_of(sql: str) -> list[str]:
    from pglast import parser

    try:
        return [s for s in parser.split(sql) if s.strip()]
    except parser.ParseError:
        return []


def _outcome(error: SovriumError) -> events.Outcome:
    return "unknown" if isinstance(error, CommitOutcomeUnknown) else "unchanged"


def compiled_catalog(snapshot: Mapping[str, Any]) -> Catalog:
    """The catalog a recorded app snapshot compiles to: what the database looked like at that version."""
    from sovrium_tui.catalog.compile import compile_app
    from sovrium_tui.schema import recorded_app

    return compile_app(recorded_app(snapshot), recorded=True)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
