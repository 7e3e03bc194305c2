"""The runner's pacing, with stand-in work and no database: at most N at once and never more per server than
its limit, canaries first, no new target after F failures, secrets scrubbed from failures, file order kept."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from sovrium_tui.errors import ConnectionFailed
from sovrium_tui.fleet.capacity import ConnectionPlan
from sovrium_tui.fleet.rollout import Landed, TargetOutcome, progress_line
from sovrium_tui.fleet.runner import FleetEvent, FleetNote, Limits, TargetStarted, run_targets
from sovrium_tui.fleet.targets import Target


def fleet(*names: str, server: str = "db1") -> list[Target]:
    return [Target(name, f"postgresql://app:pw-{name}@{server}/{name}") for name in names]


class Work:
    """Stand-in work: takes a little time, records how many run at once (per server too), fails some targets."""

    def __init__(self, failing: set[str] = frozenset(), delay: float = 0.01) -> None:  # type: ignore[assignment]
        self.failing = failing
        self.delay = delay
        self.running: Counter[str] = Counter()
        self.most = 0
        self.most_per_server: Counter[str] = Counter()
        self.started: list[str] = []

    async def __call__(self, target: Target) -> Landed:
        self.started.append(target.name)
        self.running[target.server] += 1
        self.most = max(self.most, sum(self.running.values()))
        self.most_per_server[target.server] = max(self.most_per_server[target.server], self.running[target.server])
        try:
            await asyncio.sleep(self.delay)
            if target.name in self.failing:
                raise ConnectionFailed(f"Database connection failed: {target.url} said no")
            return Landed(True, 1, 2)
        finally:
            self.running[target.server] -= 1


def outcomes(finished: tuple[object, ...]) -> list[tuple[str, str]]:
    rows = [TargetOutcome.of(f) for f in finished]  # type: ignore[arg-type]
    return [(row.name, row.outcome) for row in rows]


async def test_at_most_parallel_run_at_once_and_results_keep_file_order() -> None:
    work = Work()
    targets = fleet(*(f"t{n}" for n in range(12)))
    finished = await run_targets(targets, work, limits=Limits(parallel=3))
    assert work.most == 3
    assert [name for name, _ in outcomes(finished)] == [t.name for t in targets]
    assert {outcome for _, outcome in outcomes(finished)} == {"applied"}


async def test_a_server_with_few_free_connections_gets_no_more_than_that() -> None:
    work = Work()
    targets = fleet("a1", "a2", "a3", "a4", server="small") + fleet("b1", "b2", "b3", "b4", server="big")
    plan = ConnectionPlan((("small:5432", 1),), ())
    await run_targets(targets, work, limits=Limits(parallel=4), connections=plan)
    assert work.most_per_server["small:5432"] == 1
    assert work.most_per_server["big:5432"] > 1


async def test_a_failing_canary_leaves_every_other_target_untouched() -> None:
    work = Work(failing={"t0"})
    events: list[FleetEvent] = []
    finished = await run_targets(
        fleet("t0", "t1", "t2", "t3"), work, limits=Limits(parallel=4, canary=2), reporter=events.append
    )
    assert work.started == ["t0", "t1"]
    assert outcomes(finished) == [("t0", "failed"), ("t1", "applied"), ("t2", "skipped"), ("t3", "skipped")]
    skipped = TargetOutcome.of(finished[2])  # type: ignore[arg-type]
    assert skipped.reason == "not started: canary t0 failed"
    assert FleetNote("stopping: canary t0 failed; the other 2 targets are not touched") in events
    assert [e.canary for e in events if isinstance(e, TargetStarted)] == [True, True]


async def test_no_new_target_starts_after_max_failures() -> None:
    work = Work(failing={"t1", "t2", "t4"})
    finished = await run_targets(fleet("t0", "t1", "t2", "t3", "t4"), work, limits=Limits(parallel=1, max_failures=2))
    assert work.started == ["t0", "t1", "t2"]
    assert outcomes(finished) == [
        ("t0", "applied"),
        ("t1", "failed"),
        ("t2", "failed"),
        ("t3", "skipped"),
        ("t4", "skipped"),
    ]
    assert TargetOutcome.of(finished[3]).reason == "not started: 2 targets failed (--max-failures 2)"  # type: ignore[arg-type]


async def test_targets_already_running_finish_when_the_limit_is_reached() -> None:
    work = Work(failing={"t0"}, delay=0.05)
    finished = await run_targets(fleet("t0", "t1", "t2", "t3"), work, limits=Limits(parallel=2, max_failures=1))
    assert outcomes(finished)[:2] == [("t0", "failed"), ("t1", "applied")]
    assert outcomes(finished)[2:] == [("t2", "skipped"), ("t3", "skipped")]


async def test_a_failure_is_reported_with_its_secrets_scrubbed() -> None:
    work = Work(failing={"t0"})
    events: list[FleetEvent] = []
    finished = await run_targets(fleet("t0"), work, limits=Limits(), reporter=events.append)
    reason = TargetOutcome.of(finished[0]).reason  # type: ignore[arg-type]
    assert reason == "Database connection failed: postgresql://app:***@db1/t0 said no"
    lines = [line for line in map(progress_line, events) if line]
    assert lines[0] == "t0: started"
    assert lines[1].startswith("[1/1] t0: FAILED after ")
    assert not any("pw-t0" in line for line in lines)


async def test_an_unexpected_exception_ends_only_its_own_target() -> None:
    async def work(target: Target) -> Landed:
        if target.name == "t1":
            raise RuntimeError("boom")
        return Landed(False, 3, 3)

    finished = await run_targets(fleet("t0", "t1", "t2"), work, limits=Limits())
    assert outcomes(finished) == [("t0", "up-to-date"), ("t1", "failed"), ("t2", "up-to-date")]
    assert TargetOutcome.of(finished[1]).reason == "unexpected RuntimeError: boom"  # type: ignore[arg-type]


@pytest.mark.parametrize("parallel", [1, 4])
async def test_an_empty_selection_does_nothing(parallel: int) -> None:
    assert await run_targets([], Work(), limits=Limits(parallel=parallel, canary=2)) == ()
