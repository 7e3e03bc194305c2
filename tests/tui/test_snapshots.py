"""Every screen and state at 80×24 (and the ones that matter at 60×15 and 120×40), as SVG snapshots
(`pytest --snapshot-update` rewrites them after review).

Clocks, spinners, who applied, timings and the database's URL are frozen (the `frozen` fixture) and text cursors
do not blink, so a snapshot changes only when what a person sees changes.
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


def apply_all_destructive(project: Project, database_url: str) -> None:
    asyncio.run(services.apply(plans_dir=project.plans, database_url=database_url, allow_destructive=True))


def rollback(database_url: str, to_version: int, reason: str) -> None:
    asyncio.run(services.rollback(to_version=to_version, reason=reason, force=True, database_url=database_url))


SMALL = (60, 15)
WIDE = (120, 40)


def focus_then(selector: str, *keys: str) -> Any:
    """A `run_before`: settle, focus `selector` on the current screen, press the keys (a scroll, say)."""

    async def run_before(pilot: Any) -> None:
        await keys_then_settle()(pilot)
        pilot.app.screen.query_one(selector).focus()
        await keys_then_settle(*keys)(pilot)

    return run_before


def then(*steps: Any) -> Any:
    """A `run_before` made of several, in order."""

    async def run_before(pilot: Any) -> None:
        for step in steps:
            await step(pilot)

    return run_before


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


def test_help_scrolled_to_its_end(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    """Every key is reachable: the arrows scroll the help (and ctrl+q, escape stay named in its foot)."""
    keys = ("question_mark", *["down"] * 12)
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle(*keys))


def test_dashboard_at_60x15(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    """Below 80×24 the plans keep their rows (events step aside) and the title says the terminal is small."""
    assert snap_compare(applied_two.app(database_url), terminal_size=SMALL, run_before=keys_then_settle())


def test_dashboard_at_120x40(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    """A wide, tall terminal shows the highlighted plan beside the list, and more events."""
    assert snap_compare(applied_two.app(database_url), terminal_size=WIDE, run_before=keys_then_settle("end"))


def test_dashboard_next_steps(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    """A rolled-back plan to re-apply or archive, and the schema's unplanned changes."""
    rollback(database_url, 1, "phone numbers go elsewhere")
    app = applied_two.app(database_url, schema=applied_two.schema("long"))
    assert snap_compare(app, run_before=keys_then_settle())


def test_plan_problems_are_all_listed(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    project.plan_now("v1")
    plans = project.root / "plans"
    (plans / "0002_broken.yaml").write_text("version: [")
    (plans / "0003_Bad Name.yaml").write_text("version: 3\n")
    (plans / "0004_wrong.yaml").write_text("sovrium_plan: 1\n")
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("p"))


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


@pytest.fixture
def long_plan(project: Project, database_url: str) -> Project:
    """Versions 1 and 2 applied with values in nickname and phone; plan 3 drops both, adds email and orders."""
    project.plan_now("v1", "v2")
    apply_all(project, database_url)
    execute(
        database_url,
        "INSERT INTO customers (name, nickname, phone) VALUES ('Ada', 'ada', '+331'), ('Bob', 'bob', NULL), "
        "('Cy', NULL, '+332')",
    )
    project.plan_now("long")
    return project


def test_review_long_destructive_plan(snap_compare: SnapCompare, long_plan: Project, database_url: str) -> None:
    """The tally and the counted losses first, hazards before each summary, the step's counts in the SQL title."""
    keys = ("end", "enter", "down")  # step 2: drops phone
    assert snap_compare(long_plan.app(database_url), run_before=keys_then_settle(*keys))


def test_review_long_destructive_plan_at_60x15(
    snap_compare: SnapCompare, long_plan: Project, database_url: str
) -> None:
    app = long_plan.app(database_url)
    assert snap_compare(app, terminal_size=SMALL, run_before=keys_then_settle("end", "enter"))


def test_review_applied_plan_offers_no_apply(
    snap_compare: SnapCompare, applied_two: Project, database_url: str
) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("enter"))


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


def test_apply_of_several_plans_lists_losses_by_version(
    snap_compare: SnapCompare, project: Project, database_url: str
) -> None:
    """Two pending plans that both destroy data: the dry run counts each on top of the other, named by version."""
    project.plan_now("v1", "v2")
    apply_all(project, database_url)
    execute(database_url, "INSERT INTO customers (name, nickname, phone) VALUES ('Ada', 'ada', '+331')")
    project.plan_now("v3", "long")
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("a"))


def test_apply_dry_run_fails_on_existing_rows(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    """The failure shows before anything is confirmed; nothing ran."""
    project.plan_now("v1")
    apply_all(project, database_url)
    execute(database_url, "INSERT INTO customers (name) VALUES ('Ada')")
    project.plan_now("code")
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("a"))


def test_apply_refused_by_drift_scrolled(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    """A long refusal (drift) scrolls to its fix hint."""
    execute(database_url, "ALTER TABLE customers ADD COLUMN hack integer")
    app = applied_two.app(database_url)
    assert snap_compare(app, run_before=then(keys_then_settle("a"), focus_then("#result-text", "end")))


def test_apply_what_will_happen_full_screen(snap_compare: SnapCompare, long_plan: Project, database_url: str) -> None:
    """f shows the focused panel full-screen (escape returns): here what the apply will do, after a failed dry
    run (drift) left the screen open."""
    execute(database_url, "ALTER TABLE customers ADD COLUMN hack integer")
    app = long_plan.app(database_url)
    assert snap_compare(app, run_before=then(keys_then_settle("a"), focus_then("#apply-what-text", "f")))


# --- rollback -----------------------------------------------------------------------------------------------------


def test_rollback_preview_needs_force(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("b", "down"))


def test_rollback_done(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    keys = ("b", "enter", "t", "e", "s", "t", "enter", "y")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle(*keys))


def test_rollback_at_60x15(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    """The reverse steps keep their rows and the reason field stays on screen."""
    assert snap_compare(applied_two.app(database_url), terminal_size=SMALL, run_before=keys_then_settle("b", "down"))


def test_rollback_result_scrolled(snap_compare: SnapCompare, long_plan: Project, database_url: str) -> None:
    """A rollback that destroys values in several places: its result scrolls to the last of them."""
    apply_all_destructive(long_plan, database_url)
    execute(
        database_url,
        "INSERT INTO orders (reference, customer, total) VALUES ('A-1', 1, 10), ('A-2', 2, 20); "
        "UPDATE customers SET email = 'x@example.com'",
    )
    keys = ("b", "enter", *"oops", "enter", *"destroy", "enter")
    app = long_plan.app(database_url)
    assert snap_compare(app, run_before=then(keys_then_settle(*keys), focus_then("#rollback-text", "end")))


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


def test_version_rolled_back(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    """When and why it was rolled back comes first; the steps' SQL is shown."""
    rollback(database_url, 1, "phone numbers go elsewhere")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("h", "enter", "tab"))


def test_history_invalid_date_clears_the_rows(
    snap_compare: SnapCompare, applied_two: Project, database_url: str
) -> None:
    keys = ("h", "slash", "tab", *"yesterday", "enter")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle(*keys))


def test_compare_versions(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("h", "space", "down", "c"))


def test_compare_tables_and_fields(snap_compare: SnapCompare, long_plan: Project, database_url: str) -> None:
    """Dropped, added and new-table changes as rows; the highlighted one's SQL below."""
    apply_all_destructive(long_plan, database_url)
    assert snap_compare(long_plan.app(database_url), run_before=keys_then_settle("h", "space", "down", "c", "down"))


# --- drift ----------------------------------------------------------------------------------------------------------


def test_drift(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    execute(database_url, "ALTER TABLE customers ADD COLUMN hack integer; CREATE TABLE stray (id integer)")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("d"))


def test_drift_accept_asks_for_a_reason(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    execute(database_url, "ALTER TABLE customers ADD COLUMN hack integer")
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("d", "a"))


def test_drift_none(snap_compare: SnapCompare, applied_two: Project, database_url: str) -> None:
    assert snap_compare(applied_two.app(database_url), run_before=keys_then_settle("d"))


def test_drift_nothing_recorded(snap_compare: SnapCompare, project: Project, database_url: str) -> None:
    assert snap_compare(project.app(database_url), run_before=keys_then_settle("d"))
