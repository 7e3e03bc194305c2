"""Roll plans (`apply`) or a schema (`migrate`) out to a fleet, and what became of each target.

Each target goes through `services.apply` or `services.migrate` exactly as one database does — its own
connection, the migration lock, the stale, drift and destructive refusals, verification and the audit trail,
one transaction per plan — so re-running after a partial failure continues where it stopped (targets at the
head are no-ops), and two rollouts of the same targets apply each plan once per database (the second waits
for the lock and finds the plan applied).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from sovrium_tui.fleet.capacity import plan_connections
from sovrium_tui.fleet.runner import (
    Finished,
    FleetEvent,
    FleetNote,
    FleetReporter,
    Limits,
    TargetDone,
    TargetStarted,
    Work,
    ignore_fleet_events,
    run_targets,
)
from sovrium_tui.fleet.selection import Selection
from sovrium_tui.fleet.targets import Target
from sovrium_tui.records import record

Outcome = Literal["applied", "up-to-date", "failed", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("applied", "up-to-date", "failed", "skipped")


@record
class Landed:
    """Where a target's apply or migrate left it: changed or not, and its version before and after."""

    changed: bool
    from_version: int
    to_version: int


@record
class TargetOutcome:
    """One row of the rollout table and one item of the JSON `targets` list."""

    name: str
    outcome: Outcome
    from_version: int | None
    to_version: int | None
    reason: str | None
    elapsed_ms: int | None
    labels: tuple[tuple[str, str], ...]
    database: str  # the URL with its password hidden
    error: str | None = None
    canary: bool = False

    @classmethod
    def of(cls, finished: Finished[Landed]) -> TargetOutcome:
        target, landed = finished.target, finished.value
        outcome: Outcome
        reason: str | None
        if finished.skipped is not None:
            outcome, reason = "skipped", finished.skipped
        elif finished.failure is not None or landed is None:
            outcome, reason = "failed", finished.failure
        else:
            outcome, reason = ("applied" if landed.changed else "up-to-date"), None
        # A target that changed nothing is where it ends, even when another runner moved it while we waited.
        from_version = None if landed is None else landed.from_version if landed.changed else landed.to_version
        return cls(
            name=target.name,
            outcome=outcome,
            from_version=from_version,
            to_version=None if landed is None else landed.to_version,
            reason=reason,
            elapsed_ms=finished.elapsed_ms,
            labels=target.labels,
            database=target.display_url,
            error=finished.error,
            canary=finished.canary,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "outcome": self.outcome,
            "reason": self.reason,
            "elapsed_ms": self.elapsed_ms,
            "error": self.error,
            "canary": self.canary,
            "labels": dict(self.labels),
            "database": self.database,
        }


@record
class RolloutReport:
    """Every selected target's outcome in file order, with notes about the run (lowered limits, stops)."""

    operation: Literal["apply", "migrate"]
    targets: tuple[TargetOutcome, ...]
    selection: str
    shard: str | None
    parallel: int
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every target applied or already up to date (the command's exit 0)."""
        return all(t.outcome in ("applied", "up-to-date") for t in self.targets)

    def counts(self) -> dict[str, int]:
        counted = Counter(t.outcome for t in self.targets)
        return {outcome: counted.get(outcome, 0) for outcome in OUTCOMES}

    def describe(self) -> str:
        rows = [("target", "from → to", "outcome", "time", "reason")]
        rows += [
            (
                t.name + (" (canary)" if t.canary else ""),
                _versions(t),
                t.outcome,
                _seconds(t.elapsed_ms),
                _first(t.reason),
            )
            for t in self.targets
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        lines = [f"note: {note}" for note in self.notes]
        lines += [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4]
            for row in rows
        ]
        lines = [line.rstrip() for line in lines]
        details = [t for t in self.targets if t.reason and "\n" in t.reason]
        for target in details:
            lines += ["", f"{target.name}:", *(f"  {line}" for line in (target.reason or "").splitlines())]
        counts = self.counts()
        summary = ", ".join(f"{counts[o]} {o.replace('-', ' ')}" for o in OUTCOMES if counts[o])
        lines += ["", f"{len(self.targets)} targets ({self.selection}): {summary or 'nothing to do'}"]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "ok": self.ok,
            "selection": self.selection,
            "shard": self.shard,
            "parallel": self.parallel,
            "summary": self.counts(),
            "notes": list(self.notes),
            "targets": [t.to_json() for t in self.targets],
        }


def _versions(target: TargetOutcome) -> str:
    if target.from_version is None or target.to_version is None:
        return "-"
    return f"{target.from_version} → {target.to_version}"


def _seconds(elapsed_ms: int | None) -> str:
    return "-" if elapsed_ms is None else f"{elapsed_ms / 1000:.2f} s"


def _first(reason: str | None) -> str:
    return (reason or "").split("\n", 1)[0]


# --- the use cases ---------------------------------------------------------------------------------------------


@record
class Timeouts:
    """The per-target execution options `apply` and `migrate` take for one database."""

    lock_wait: float = 30.0
    lock_timeout: str = "10s"
    statement_timeout: str = "0"


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_LIMITS = Limits()


async def apply(
    selection: Selection,
    plans: str | Path,
    *,
    allow_destructive: bool = False,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    limits: Limits = DEFAULT_LIMITS,
    reporter: FleetReporter = ignore_fleet_events,
) -> RolloutReport:
    """Apply the pending plans of a file or directory to every selected target (plans read and checked once)."""
    from sovrium_tui import services

    source = services.read_plan_source(Path(plans))
    notes: set[str] = set(source.notes)

    async def apply_one(target: Target) -> Landed:
        outcome = await services.apply(
            plans,
            database_url=target.url,
            allow_destructive=allow_destructive,
            lock_wait=timeouts.lock_wait,
            lock_timeout=timeouts.lock_timeout,
            statement_timeout=timeouts.statement_timeout,
            source=source,
        )
        notes.update(outcome.notes)
        assert outcome.from_version is not None and outcome.to_version is not None
        return Landed(bool(outcome.applied), outcome.from_version, outcome.to_version)

    return await _roll_out("apply", selection, work=apply_one, limits=limits, reporter=reporter, notes=notes)


async def migrate(
    selection: Selection,
    schema_path: str | Path,
    *,
    allow_destructive: bool = False,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    limits: Limits = DEFAULT_LIMITS,
    reporter: FleetReporter = ignore_fleet_events,
) -> RolloutReport:
    """Bring every selected target to a schema, planned in memory per target as `sovrium migrate` does."""
    from sovrium_tui import services
    from sovrium_tui.schema import load_app

    load_app(Path(schema_path))  # an invalid schema is one error before any database, not one per target

    async def migrate_one(target: Target) -> Landed:
        outcome = await services.migrate(
            schema_path,
            database_url=target.url,
            allow_destructive=allow_destructive,
            lock_wait=timeouts.lock_wait,
            lock_timeout=timeouts.lock_timeout,
            statement_timeout=timeouts.statement_timeout,
        )
        before = outcome.from_version if outcome.from_version is not None else outcome.version
        return Landed(outcome.status == "migrated", before, outcome.version)

    return await _roll_out("migrate", selection, work=migrate_one, limits=limits, reporter=reporter, notes=set())


async def _roll_out(
    operation: Literal["apply", "migrate"],
    selection: Selection,
    *,
    work: Work[Landed],
    limits: Limits,
    reporter: FleetReporter,
    notes: set[str],
) -> RolloutReport:
    connections = await plan_connections(selection.targets, limits.parallel)
    for note in connections.notes:
        reporter(FleetNote(note))
    finished = await run_targets(selection.targets, work, limits=limits, connections=connections, reporter=reporter)
    return RolloutReport(
        operation=operation,
        targets=tuple(TargetOutcome.of(f) for f in finished),
        selection=selection.describe(),
        shard=str(selection.shard) if selection.shard else None,
        parallel=limits.parallel,
        notes=(*connections.notes, *sorted(notes)),
    )


def progress_line(event: FleetEvent) -> str | None:
    """One line of progress for stderr while a rollout runs (None: nothing worth a line)."""
    match event:
        case TargetStarted(name, _number, _total, canary):
            return f"{name}{' (canary)' if canary else ''}: started"
        case TargetDone(finished, done, total):
            outcome = TargetOutcome.of(finished)
            took = _seconds(outcome.elapsed_ms)
            who = f"[{done}/{total}] {outcome.name}{' (canary)' if outcome.canary else ''}"
            if outcome.outcome == "applied":
                return f"{who}: applied {_versions(outcome)} ({took})"
            if outcome.outcome == "up-to-date":
                return f"{who}: up to date at version {outcome.to_version} ({took})"
            if outcome.outcome == "failed":
                return f"{who}: FAILED after {took}: {_first(outcome.reason)}"
            return None  # skipped targets are counted in the table; the stop said why
        case FleetNote(text):
            return text
    return None
