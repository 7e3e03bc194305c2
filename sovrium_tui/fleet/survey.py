"""Read-only commands across a fleet: status grouped by version, drift and history, one target at a time each.

A target that cannot be read (unreachable, wrong password, missing database) is a row saying why, never the
end of the command: the point of a fleet view is to see all of it, the broken part included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sovrium_tui.fleet.capacity import plan_connections
from sovrium_tui.fleet.runner import DEFAULT_PARALLEL, Finished, Limits, run_targets
from sovrium_tui.fleet.selection import Selection
from sovrium_tui.fleet.targets import Target
from sovrium_tui.records import record

if TYPE_CHECKING:
    from sovrium_tui.services import DriftReport, HistoryReport, StatusReport

Report = TypeVar("Report")


@record
class TargetRead(Generic[Report]):
    """One target's report, or why it could not be read (its secrets scrubbed)."""

    target: Target
    report: Report | None
    reason: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None

    @classmethod
    def of(cls, finished: Finished[Report]) -> TargetRead[Report]:
        return cls(finished.target, finished.value, finished.failure or finished.skipped, finished.error)

    def head_json(self) -> dict[str, Any]:
        return {
            "name": self.target.name,
            "labels": dict(self.target.labels),
            "database": self.target.display_url,
            "ok": self.ok,
            "reason": self.reason,
            "error": self.error,
        }


@record
class _FleetReads(Generic[Report]):
    """Each selected target's report, or why it could not be read, and notes on how they were read."""

    targets: tuple[TargetRead[Report], ...]
    selection: str
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.targets)

    def note_lines(self) -> list[str]:
        return [f"note: {note}" for note in self.notes]


async def _read_all(
    selection: Selection, read: Callable[[Target], Awaitable[Report]], parallel: int
) -> tuple[tuple[TargetRead[Report], ...], tuple[str, ...]]:
    connections = await plan_connections(selection.targets, parallel)
    finished = await run_targets(selection.targets, read, limits=Limits(parallel=parallel), connections=connections)
    return tuple(TargetRead.of(f) for f in finished), connections.notes


def _labels(target: Target) -> str:
    return " ".join(f"{key}={value}" for key, value in target.labels)


# --- status ----------------------------------------------------------------------------------------------------


@record
class VersionGroup:
    """Targets at one version with one checksum (or, with `version` None, the ones that could not be read)."""

    version: int | None
    checksum: str | None
    members: tuple[TargetRead[StatusReport], ...]

    @property
    def key(self) -> str:
        if self.version is None:
            return "unreachable"
        return f"{self.version}:{self.checksum or ''}"

    @property
    def title(self) -> str:
        count = f"{len(self.members)} target" + ("" if len(self.members) == 1 else "s")
        if self.version is None:
            return f"unreachable · {count}"
        if self.checksum is None:
            return f"version 0 · never migrated · {count}"
        return f"version {self.version} · checksum {self.checksum[:12]} · {count}"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "checksum": self.checksum,
            "unreachable": self.version is None,
            "targets": [m.target.name for m in self.members],
        }


@record
class FleetStatus(_FleetReads["StatusReport"]):
    """Each selected target's version, checksum, drift, lock holder and pending plans, grouped by version."""

    @property
    def groups(self) -> tuple[VersionGroup, ...]:
        """Newest version first; the targets that could not be read last."""
        grouped: dict[tuple[int, str | None], list[TargetRead[StatusReport]]] = {}
        failed = []
        for read in self.targets:
            if read.report is None:
                failed.append(read)
            else:
                grouped.setdefault((read.report.version, read.report.checksum), []).append(read)
        groups = [
            VersionGroup(version, checksum, tuple(members))
            for (version, checksum), members in sorted(
                grouped.items(), key=lambda item: (-item[0][0], item[0][1] or "")
            )
        ]
        if failed:
            groups.append(VersionGroup(None, None, tuple(failed)))
        return tuple(groups)

    def describe(self) -> str:
        lines = self.note_lines()
        width = max((len(t.target.name) for t in self.targets), default=0)
        for group in self.groups:
            lines.append(group.title)
            for read in group.members:
                lines.append(f"  {read.target.name.ljust(width)}  {_status_cells(read)}".rstrip())
            lines.append("")
        summary = ", ".join(
            f"{len(g.members)} unreachable" if g.version is None else f"{len(g.members)} at version {g.version}"
            for g in self.groups
        )
        lines.append(f"{len(self.targets)} targets ({self.selection}): {summary or 'nothing selected'}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "selection": self.selection,
            "notes": list(self.notes),
            "groups": [g.to_json() for g in self.groups],
            "targets": [_status_json(t) for t in self.targets],
        }


def _status_cells(read: TargetRead[StatusReport]) -> str:
    report = read.report
    if report is None:
        return (read.reason or "").split("\n", 1)[0]
    drift = {None: "nothing recorded", True: "DRIFTED", False: "none"}[report.drift]
    pending = ", ".join(str(p.version) for p in report.pending) or "none"
    lock = f"held by {report.lock_holder}" if report.lock_holder else "free"
    labels = f"  [{_labels(read.target)}]" if read.target.labels else ""
    return f"drift: {drift} · lock: {lock} · pending: {pending}{labels}"


def _status_json(read: TargetRead[StatusReport]) -> dict[str, Any]:
    report = read.report
    return {
        **read.head_json(),
        "version": report.version if report else None,
        "checksum": report.checksum if report else None,
        "updated_at": report.updated_at if report else None,
        "drift": report.drift if report else None,
        "lock_holder": report.lock_holder if report else None,
        "pending": [p.version for p in report.pending] if report else [],
        "server_version": report.server_version if report else None,
    }


async def status(
    selection: Selection, *, plans_dir: str | Path = "plans", parallel: int = DEFAULT_PARALLEL
) -> FleetStatus:
    """Every selected target's status (the plans directory read once), unreachable ones included."""
    from sovrium_tui import services
    from sovrium_tui.planning.directory import read_plan_directory

    directory = read_plan_directory(Path(plans_dir), list_edited=True)  # as `sovrium status` reads it

    async def read(target: Target) -> StatusReport:
        return await services.status(plans_dir=plans_dir, database_url=target.url, directory=directory)

    targets, notes = await _read_all(selection, read, parallel)
    return FleetStatus(targets, selection.describe(), notes)


# --- drift -----------------------------------------------------------------------------------------------------


@record
class FleetDrift(_FleetReads["DriftReport"]):
    """Each selected target's drift report, or why it could not be read."""

    @property
    def drifted(self) -> bool:
        return any(t.report is not None and t.report.drifted for t in self.targets)

    def describe(self) -> str:
        lines = self.note_lines()
        for read in self.targets:
            if read.report is None:
                lines.append(f"{read.target.name}: could not be read: {read.reason}")
                continue
            text = read.report.describe()
            first, _, rest = text.partition("\n")
            lines.append(f"{read.target.name}: {first}")
            lines.extend(f"  {line}" for line in rest.splitlines())
        drifted = sum(1 for t in self.targets if t.report is not None and t.report.drifted)
        failed = sum(1 for t in self.targets if not t.ok)
        lines += ["", f"{len(self.targets)} targets ({self.selection}): {drifted} drifted, {failed} unreachable"]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "drift": self.drifted,
            "selection": self.selection,
            "notes": list(self.notes),
            "targets": [{**t.head_json(), **(t.report.to_json() if t.report else {})} for t in self.targets],
        }


async def drift(selection: Selection, *, parallel: int = DEFAULT_PARALLEL) -> FleetDrift:
    """Compare each selected target's live schema with what its last migration recorded (nothing is accepted)."""
    from sovrium_tui import services

    async def read(target: Target) -> DriftReport:
        return await services.drift(database_url=target.url)

    targets, notes = await _read_all(selection, read, parallel)
    return FleetDrift(targets, selection.describe(), notes)


# --- history ---------------------------------------------------------------------------------------------------


@record
class FleetHistory(_FleetReads["HistoryReport"]):
    """Each selected target's audit trail, or why it could not be read."""

    def describe(self) -> str:
        lines = self.note_lines()
        for read in self.targets:
            lines.append(f"== {read.target.name} ({read.target.display_url})")
            lines.append(read.report.describe() if read.report else f"could not be read: {read.reason}")
            lines.append("")
        return "\n".join(lines).rstrip("\n")

    def to_json(self, *, with_snapshots: bool = False) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "selection": self.selection,
            "notes": list(self.notes),
            "targets": [
                {**t.head_json(), **(t.report.to_json(with_snapshots=with_snapshots) if t.report else {})}
                for t in self.targets
            ],
        }


async def history(
    selection: Selection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
    limit: int | None = None,
    parallel: int = DEFAULT_PARALLEL,
) -> FleetHistory:
    """Each selected target's audit trail, filtered as `sovrium history` filters one."""
    from sovrium_tui import services

    async def read(target: Target) -> HistoryReport:
        return await services.history(since=since, until=until, version=version, limit=limit, database_url=target.url)

    targets, notes = await _read_all(selection, read, parallel)
    return FleetHistory(targets, selection.describe(), notes)
