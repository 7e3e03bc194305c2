"""Steps sent together: generated steps that make something new go to the server in groups, one round trip each,
inside a savepoint; a group that fails is undone and run again step by step, so the failure is the step's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sovrium_tui import services
from sovrium_tui.errors import StepFailed
from sovrium_tui.execution import events
from sovrium_tui.execution.executor import GROUPS_PER_PLAN, STEPS_PER_GROUP, _groups, _RunnableStep
from sovrium_tui.planning.plan import Plan
from tests.acceptance_support import app_schema, catalog_state, field, public_tables, table, write_schema

pytestmark = pytest.mark.db


def _new(number: int) -> _RunnableStep:
    return _RunnableStep(
        number, f"step {number}", f"create table t{number}", (f"CREATE TABLE t{number} (a int)",), generated=True
    )


def _dropping(number: int) -> _RunnableStep:
    return _RunnableStep(number, f"step {number}", f"drop table t{number}", (f"DROP TABLE t{number}",), generated=True)


def test_steps_that_make_something_new_go_together_and_a_step_that_destroys_goes_alone() -> None:
    steps = [*(_new(n) for n in range(1, 41)), _dropping(41), *(_new(n) for n in range(42, 45))]
    groups = _groups(steps)
    assert [len(group) for group in groups] == [STEPS_PER_GROUP, 40 - STEPS_PER_GROUP, 1, 3]
    assert [step.number for group in groups for step in group] == list(range(1, 45))


def test_hand_written_steps_and_plans_whose_digest_is_not_intact_go_one_by_one() -> None:
    hand = _RunnableStep(1, "step 1", "sql", ("CREATE TABLE a (b int)",), hand_written=True)
    unchecked = _RunnableStep(2, "step 2", "create table b", ("CREATE TABLE b (c int)",), generated=False)
    assert [len(group) for group in _groups([hand, unchecked, _new(3)])] == [1, 1, 1]


def test_a_plan_has_so_few_groups_that_no_session_pays_for_its_savepoints() -> None:
    many = _groups([_new(n) for n in range(1, 10_001)])
    assert len(many) <= GROUPS_PER_PLAN
    alternating = _groups([_new(n) if n % 3 else _dropping(n) for n in range(1, 1_001)])
    assert sum(len(group) > 1 for group in alternating) <= GROUPS_PER_PLAN
    assert [step.number for group in alternating for step in group] == list(range(1, 1_001))


def _planned(folder: Path, count: int) -> tuple[Path, Plan]:
    """The first plan (offline) of an app of `count` tables, each with a text and an indexed integer field."""
    tables = [
        table(n, f"thing_{n:02d}", field(1, "title"), field(2, "size", "integer", indexed=True))
        for n in range(1, count + 1)
    ]
    made = services.plan_offline(write_schema(folder / "app.yaml", app_schema(*tables)), folder / "plans")
    assert made.path is not None and made.plan is not None
    return made.path, made.plan


async def test_a_plan_of_many_new_tables_is_sent_in_groups_and_applied_whole(
    tmp_path: Path, database_url: str, db: asyncpg.Connection
) -> None:
    path, plan = _planned(tmp_path, 30)
    seen: list[Any] = []

    outcome = await services.apply(path, database_url=database_url, reporter=seen.append)

    assert [run.status for run in outcome.runs] == ["applied"]
    finished = [e for e in seen if isinstance(e, events.StepFinished)]
    assert [e.step_id for e in finished] == list(range(1, len(plan.steps) + 1))
    assert any(e.sent_with is not None for e in finished), "steps were sent together"
    assert {e.sent_with for e in finished if e.sent_with is not None} <= {
        e.step_id for e in finished if e.sent_with is None
    }
    assert len(await public_tables(db)) == 30


async def test_a_step_that_fails_inside_a_group_is_named_and_nothing_is_left(
    tmp_path: Path, database_url: str, db: asyncpg.Connection
) -> None:
    path, plan = _planned(tmp_path, 30)
    failing = next(s for s in plan.steps if "CREATE TABLE public.thing_17" in s.forward[0])
    await db.execute("CREATE TABLE public.thing_17 (made_by_hand int)")  # after planning: the plan's step will fail
    before = await catalog_state(db)
    seen: list[Any] = []

    with pytest.raises(StepFailed) as failure:
        await services.apply(path, database_url=database_url, reporter=seen.append)

    assert failure.value.step == failing.id
    assert (
        f"step {failing.id} (" in failure.value.message
        and 'relation "thing_17" already exists' in failure.value.message
    )
    assert [e.step_id for e in seen if isinstance(e, events.StepFailed)] == [failing.id]
    finished = [e.step_id for e in seen if isinstance(e, events.StepFinished)]
    assert finished == list(range(1, failing.id)), "the steps before it ran, the group's too, one by one"
    assert await catalog_state(db) == before
    assert await public_tables(db) == {"thing_17"}
