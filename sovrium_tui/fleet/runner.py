"""Run one piece of work on each target: a bounded number at once, canaries first, stopping after failures.

The work (apply, migrate, status …) is a coroutine per target that returns a value or raises; the runner
decides only when each starts, and turns what happened into a `Finished` per target, in file order. A
failure never stops the targets already running: each is its own transaction, left to commit or roll back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sovrium_tui.errors import SovriumError
from sovrium_tui.fleet.capacity import ConnectionPlan
from sovrium_tui.fleet.targets import Target
from sovrium_tui.records import record

Value = TypeVar("Value")
Work = Callable[[Target], Awaitable[Value]]

DEFAULT_PARALLEL = 4


@record
class Limits:
    """How the runner paces the targets: at most `parallel` at once, `canary` first, stop after `max_failures`."""

    parallel: int = DEFAULT_PARALLEL
    canary: int = 0
    max_failures: int | None = None


@record
class Finished(Generic[Value]):
    """What became of one target: its value, or why it failed (secrets scrubbed), or why it never started."""

    target: Target
    value: Value | None = None
    failure: str | None = None
    error: str | None = None  # the error's class name (ConnectionFailed, DestructiveRefused, …)
    skipped: str | None = None
    elapsed_ms: int | None = None
    canary: bool = False

    @property
    def ok(self) -> bool:
        return self.failure is None and self.skipped is None


# --- progress --------------------------------------------------------------------------------------------------


@record
class TargetStarted:
    """A target's work began; `number` counts the targets started so far (1-based) out of `total`."""

    name: str
    number: int
    total: int
    canary: bool


@record
class TargetDone(Generic[Value]):
    """A target's work ended (or, `skipped`, never began); `done` counts the targets settled so far."""

    finished: Finished[Value]
    done: int
    total: int


@record
class FleetNote:
    """Something a person should know about the whole run (a server's lowered limit, a stop)."""

    text: str


FleetEvent = TargetStarted | TargetDone[Any] | FleetNote
FleetReporter = Callable[[FleetEvent], None]


def ignore_fleet_events(event: FleetEvent) -> None:
    del event


# --- running ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Run(Generic[Value]):
    """The mutable bookkeeping of one run (counts and the reason new targets stop), owned by `run_targets`."""

    work: Work[Value]
    limits: Limits
    connections: ConnectionPlan
    reporter: FleetReporter
    total: int
    slots: asyncio.Semaphore
    server_slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    started: int = 0
    done: int = 0
    failures: int = 0
    stop_reason: str | None = None

    def server_slot(self, server: str) -> asyncio.Semaphore:
        if server not in self.server_slots:
            self.server_slots[server] = asyncio.Semaphore(self.connections.limit(server, self.limits.parallel))
        return self.server_slots[server]

    async def one(self, target: Target, *, canary: bool) -> Finished[Value]:
        async with self.server_slot(target.server), self.slots:
            if self.stop_reason is not None:
                return self.settle(Finished(target, skipped=self.stop_reason, canary=canary))
            self.started += 1
            self.reporter(TargetStarted(target.name, self.started, self.total, canary))
            began = time.monotonic()
            try:
                value = await self.work(target)
            except SovriumError as error:
                finished = self.failed(target, target.scrub(error.render()), type(error).__name__, began, canary)
            except Exception as error:  # a bug or an unexpected driver error still ends this target only
                detail = target.scrub(f"unexpected {type(error).__name__}: {error}")
                finished = self.failed(target, detail, type(error).__name__, began, canary)
            else:
                finished = Finished(target, value=value, elapsed_ms=elapsed_ms(began), canary=canary)
            return self.settle(finished)

    def failed(self, target: Target, reason: str, error: str, began: float, canary: bool) -> Finished[Value]:
        self.failures += 1
        limit = self.limits.max_failures
        if limit is not None and self.failures >= limit and self.stop_reason is None:
            self.stop_reason = f"not started: {self.failures} targets failed (--max-failures {limit})"
            self.reporter(FleetNote(f"stopping: {self.failures} failed, the limit is {limit}; the rest are skipped"))
        return Finished(target, failure=reason, error=error, elapsed_ms=elapsed_ms(began), canary=canary)

    def settle(self, finished: Finished[Value]) -> Finished[Value]:
        self.done += 1
        self.reporter(TargetDone(finished, self.done, self.total))
        return finished

    async def batch(self, targets: Sequence[Target], *, canary: bool) -> list[Finished[Value]]:
        return list(await asyncio.gather(*(self.one(t, canary=canary) for t in targets)))


async def run_targets(
    targets: Sequence[Target],
    work: Work[Value],
    *,
    limits: Limits,
    connections: ConnectionPlan | None = None,
    reporter: FleetReporter = ignore_fleet_events,
) -> tuple[Finished[Value], ...]:
    """Run `work` on every target (the first `limits.canary` of them first) and say what became of each."""
    run: _Run[Value] = _Run(
        work,
        limits,
        connections or ConnectionPlan((), ()),
        reporter,
        total=len(targets),
        slots=asyncio.Semaphore(max(1, limits.parallel)),
    )
    canaries, rest = list(targets[: limits.canary]), list(targets[limits.canary :])
    finished = await run.batch(canaries, canary=True)
    failed_canaries = [f.target.name for f in finished if f.failure is not None]
    if failed_canaries:
        names = ", ".join(failed_canaries)
        reason = f"not started: canary {names} failed"
        reporter(FleetNote(f"stopping: canary {names} failed; the other {len(rest)} targets are not touched"))
        return tuple(finished + [run.settle(Finished(t, skipped=reason)) for t in rest])
    return tuple(finished + await run.batch(rest, canary=False))


def elapsed_ms(began: float) -> int:
    return round((time.monotonic() - began) * 1000)
