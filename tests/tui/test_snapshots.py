"""Every screen and state at 80×24, as SVG snapshots (`pytest --snapshot-update` rewrites them after review).

Clocks, who applied, timings and the database's URL are frozen (the `frozen` fixture) and text cursors do not
blink, so a snapshot changes only when what a person sees changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from sovrium_tui import services

from .conftest import UNREACHABLE_URL, Project, keys_then_settle

SnapCompare = Callable[..., bool]

pytestmark = pytest.mark.usefixtures("frozen")


def apply_all(project: Project, database_url: str) -> None:
    asyncio.run(services.apply(plans_dir=project.plans, database_url=database_url))


def execute(database_url: str, sql: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


def rollback(database_url: str, to_version: int, reason: str) -> None:
    asyncio.run(services.rollback(to_version=to_version, reason=reason, force=True, database_url=database_url))


@pytest.fixture
def applied_two(project: Project, database_url: str) -> Project:
    """Versions 1 and 2 applied with a row in customers, version 3 (destructive) pending."""
    project.plan_now("v1", "v2")
    apply_all(project, database_url)
    execute(database_url, "INSERT INTO customers (name, nickname) VALUES ('Ada', 'ada'), ('Bob', NULL)")
    project.plan_now("v3")
    return project


# --- dashboard -------------------------------------------------------------------------------------------------


def test_dashboard_empty(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    assert snap_compare(project.app(database_url), run_before=keys_then_settle())


def test_dashboard_with_plans(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle())


def test_dashboard_unreachable(snap_compare: SnapCompare, project: Project) -> None:
    project.plan_now("v1")
    assert snap_compare(project.app(UNREACHABLE_URL), run_before=keys_then_settle())


def test_dashboard_drifted_in_light_theme(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    execute(database_url, "ALTER TABLE customers ADD COLUMN hack integer")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("ctrl+t"))


def test_help(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("question_mark"))


def test_new_plan_modal(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    app = project.app(database_url, schema=project.schema("v1"))
    assert snap_compare(app, run_before=keys_then_settle("n"))


def test_error_modal(snap_compare: SnapCompare, project: Project) -> None:
    """Making a plan against an unreachable database: the service's error in a modal."""
    app = project.app(UNREACHABLE_URL, schema=project.schema("v1"))
    assert snap_compare(app, run_before=keys_then_settle("n", "enter"))


# --- review and apply ---------------------------------------------------------------------------------------------


def test_review_destructive_plan(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("down", "down", "enter"))


def test_verify_result(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("down", "down", "enter", "v"))


def test_apply_confirmation(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    project.plan_now("v1")
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("enter", "a"))


def test_apply_succeeded(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    project.plan_now("v1")
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("enter", "a", "y"))


def test_apply_typed_confirmation_refuses_a_wrong_word(
    snap_compare: SnapCompare, applied_two: Project, database_url: str
) -> None:
    keys = ("a", "n", "o", "p", "e", "enter")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle(*keys))


def test_apply_failed(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    project.plan_now("v1")
    apply_all(project, database_url)
    execute(database_url, "INSERT INTO customers (name) VALUES ('Ada')")
    project.plan_now("code")
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("a", "y"))


# --- rollback -----------------------------------------------------------------------------------------------------


def test_rollback_preview_needs_force(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("b", "down"))


def test_rollback_done(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    keys = ("b", "enter", "t", "e", "s", "t", "enter", "y")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle(*keys))


def test_rollback_nothing_applied(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    """Opened from the palette (the dashboard's b refuses when nothing is applied): the screen says why."""

    async def run_before(pilot: Any) -> None:
        from sovrium_tui.tui.rollback import RollbackScreen

        await keys_then_settle()(pilot)
        pilot.app.push_screen(RollbackScreen(pilot.app.session))
        await keys_then_settle()(pilot)

    assert snap_compare(project.app(database_url), run_before=run_before)


# --- history, version, compare -----------------------------------------------------------------------------------


def test_history(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    rollback(database_url, 1, "phone numbers go elsewhere")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("h"))


def test_history_empty(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("h"))


def test_version_snapshot(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("h", "enter"))


def test_compare_versions(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("h", "space", "down", "c"))


# --- drift ----------------------------------------------------------------------------------------------------------


def test_drift(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    execute(database_url, "ALTER TABLE customers ADD COLUMN hack integer; CREATE TABLE stray (id integer)")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("d"))


def test_drift_none(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("d"))


def test_drift_nothing_recorded(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("d"))
