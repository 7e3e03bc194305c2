"""Shared moves for round-trip tests: build a schema in a database, plan a change, run steps both ways."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from sovrium_tui.catalog import compile_app
from sovrium_tui.catalog.introspect import introspect
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.planning.diff import diff
from sovrium_tui.planning.plan import Plan, Step
from sovrium_tui.planning.planner import Origin, make_plan
from sovrium_tui.schema import parse_app
from sovrium_tui.schema.model import App


def app(text: str) -> App:
    return parse_app(text, source="test.yaml")


async def run_steps(db: asyncpg.Connection, steps: Sequence[Step], *, forward: bool = True) -> None:
    """Run a plan's steps (or their reverses, last step first) in one transaction."""
    ordered = steps if forward else tuple(reversed(steps))
    async with db.transaction():
        for step in ordered:
            statements = step.forward if forward else step.reverse
            if statements:
                await db.execute(";\n".join(statements))


async def build(db: asyncpg.Connection, target: App) -> Plan:
    """Create `target` in an empty database through a first plan (with no steps when it has no tables)."""
    plan = make_plan(target, Origin(version=0, checksum=None, app=None, catalog=Catalog()), allow_empty=True)
    assert plan is not None
    await run_steps(db, plan.steps)
    return plan


async def plan_change(db: asyncpg.Connection, before: App, after: App) -> Plan | None:
    """The plan from the live database (built from `before`) to `after`, knowing `before` for renames."""
    return make_plan(after, Origin(version=1, checksum=None, app=before, catalog=await introspect(db)))


async def differences(db: asyncpg.Connection, expected: App) -> list[str]:
    """What still separates the live database from `expected` (empty when they match)."""
    return [change.summary() for change in diff(await introspect(db), compile_app(expected))]
