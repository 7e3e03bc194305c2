"""The TUI's flows driven through Pilot at 80×24 against a real PostgreSQL; the database is checked with asyncpg."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Static

from sovrium_tui import services
from sovrium_tui.tui import history as history_module
from sovrium_tui.tui.app import SovriumApp, screen_actions
from sovrium_tui.tui.apply import ApplyScreen
from sovrium_tui.tui.dashboard import DashboardScreen
from sovrium_tui.tui.drift import DriftScreen
from sovrium_tui.tui.history import HistoryScreen
from sovrium_tui.tui.modals import ConfirmModal, ErrorModal, HelpModal, ReasonModal, ResultModal, TypedConfirmModal
from sovrium_tui.tui.review import ReviewScreen
from sovrium_tui.tui.rollback import RollbackScreen
from sovrium_tui.tui.widgets import Activity, TextView

from .conftest import UNREACHABLE_URL, Project, settle

SIZE = (80, 24)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*("space" if char == " " else char for char in text))


def shown(app: SovriumApp, selector: str) -> str:
    """The plain text a Static or a TextView shows on the current screen."""
    widget = app.screen.query_one(selector)
    if isinstance(widget, TextView):
        return widget.text
    assert isinstance(widget, Static)
    return str(widget.render())


def table_rows(app: SovriumApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(getattr(cell, "plain", cell)) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def column_exists(db: asyncpg.Connection, table: str, column: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2)",
            table,
            column,
        )
    )


async def test_review_apply_history_rollback_history(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1")
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert table_rows(app, "#plans-table")[0][:2] == ["1", "pending"]

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert "new table customers" in shown(app, "#plan-summary")

        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ApplyScreen)
        assert "Applied version 1" in shown(app, "#result-text")
        assert all(row[1] == "done" for row in table_rows(app, "#progress"))
        assert await db.fetchval("SELECT to_regclass('public.customers') IS NOT NULL")

        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        versions = table_rows(app, "#versions-table")
        assert [(row[1], row[5]) for row in versions] == [("1", "applied")]

        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert table_rows(app, "#plans-table")[0][1] == "applied"

        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, RollbackScreen)
        assert "Nothing" in shown(app, "#rollback-text")  # the empty table loses no rows
        await pilot.press("enter")  # choose version 0, move to the reason
        assert app.screen.query_one("#reason", Input).has_focus
        await type_text(pilot, "wrong table name")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert "Rolled back to version 0" in shown(app, "#rollback-text")
        assert not await db.fetchval("SELECT to_regclass('public.customers') IS NOT NULL")

        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        row = table_rows(app, "#versions-table")[0]
        assert (row[1], row[5], row[6]) == ("1", "rolled back", "wrong table name")
        assert table_rows(app, "#log-table")[0][1:4] == ["ROLLBACK", "COMPLETED", "1→0"]

        await pilot.press("escape")
        await settle(pilot)
        assert table_rows(app, "#plans-table")[0][1] == "rolled back"
        await pilot.press("a")  # a rolled-back version can be applied again
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert "Apply version 1 (new table customers)" in str(app.screen.body)
        await pilot.press("n")

    recorded = await db.fetchrow("SELECT rolled_back_at, rollback_reason FROM system.migration_history")
    assert recorded["rolled_back_at"] is not None
    assert recorded["rollback_reason"] == "wrong table name"


async def test_verify_round_trips_on_a_scratch_database(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1", "v3")
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")  # plan 2 (drop nickname) builds on plan 1: verify builds that first
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ResultModal)
        assert app.screen.passed
        assert "restores the starting schema" in str(app.screen.body)
    assert not await db.fetchval("SELECT to_regclass('public.customers') IS NOT NULL")  # the real one is untouched


async def test_a_plan_that_fails_on_existing_rows_fails_its_dry_run_before_any_confirmation(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await db.execute("INSERT INTO customers (name) VALUES ('Ada')")
    await project.plan("code")  # + code integer NOT NULL without a default: fails on the existing row
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.plan is not None and app.screen.plan.version == 2
        assert "The dry run fails" in shown(app, "#plan-summary")  # review says so already
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ApplyScreen), "no confirmation is asked for a plan that cannot run"
        result = shown(app, "#result-text")
        assert "The dry run fails: nothing was applied, nothing was changed." in result
        assert "version 2 fails: step 1 (add column customers.code" in result
        assert 'column "code" of relation "customers" contains null values' in result
        assert app.screen.phase == "failed"
        assert all(row[1] == "pending" for row in table_rows(app, "#progress"))  # nothing ran for real
        await pilot.press("escape")  # the screen can be left once the run is over
        assert isinstance(app.screen, ReviewScreen)

    assert not await column_exists(db, "customers", "code")
    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 1
    assert await db.fetchval("SELECT count(*) FROM customers") == 1
    assert await db.fetchval("SELECT count(*) FROM system.migration_log WHERE status = 'FAILED'") == 0  # a dry run


async def test_destructive_apply_needs_the_typed_word(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1", "v2")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await db.execute("INSERT INTO customers (name, nickname) VALUES ('Ada', 'ada'), ('Bob', NULL)")
    await project.plan("v3")
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")  # apply pending: only version 3 is
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, TypedConfirmModal)
        body = str(modal.body)
        assert "drops column customers.nickname (1 non-null value)" in body

        await type_text(pilot, "yes")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is modal  # still asking
        assert "nothing was done" in str(modal.query_one("#confirm-refusal", Static).render())
        assert await column_exists(db, "customers", "nickname")

        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)  # cancelling leaves the apply screen too
        assert await column_exists(db, "customers", "nickname")

        await pilot.press("a")
        await settle(pilot)
        await type_text(pilot, "destroy")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ApplyScreen)
        assert "Applied version 3" in shown(app, "#result-text")
    assert not await column_exists(db, "customers", "nickname")


async def test_rollback_that_destroys_data_needs_the_typed_word(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1", "v2")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await db.execute("INSERT INTO customers (name, phone) VALUES ('Ada', '+331234')")
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert "drops column customers.phone (1 non-null value)" in shown(app, "#rollback-text")
        await pilot.press("enter")
        await type_text(pilot, "phone was a mistake")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TypedConfirmModal)
        await type_text(pilot, "destro")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TypedConfirmModal)
        assert await column_exists(db, "customers", "phone")
        await type_text(pilot, "destroy")
        await pilot.press("enter")
        await settle(pilot)
        assert "Rolled back to version 1" in shown(app, "#rollback-text")
    assert not await column_exists(db, "customers", "phone")
    assert await db.fetchval("SELECT rollback_reason FROM system.migration_history WHERE version = 2") == (
        "phone was a mistake"
    )


async def test_unreachable_database_is_a_state_and_plans_stay_reviewable(project: Project) -> None:
    await project.plan("v1")
    app = project.app(UNREACHABLE_URL)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "connection refused" in shown(app, "#database-status")
        assert table_rows(app, "#plans-table")[0][1] == "unknown"
        await pilot.press("a")
        assert isinstance(app.screen, DashboardScreen)  # nothing to apply to
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("q")
        await pilot.press("q")
    assert app.return_code == 0


async def test_an_unexpected_exception_becomes_a_modal(
    project: Project, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(moment: object) -> str:
        raise RuntimeError("formatting exploded")

    await project.plan("v1")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    monkeypatch.setattr(history_module, "when", broken)
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "RuntimeError: formatting exploded" in app.screen.error_body
        await pilot.press("escape")  # closing the modal also closes the screen whose handler broke
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("h")  # the history can be opened again (and fails the same way, as a modal)
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_failing_service_call_becomes_an_error_modal(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: object) -> object:
        raise RuntimeError("disk on fire")

    await project.plan("v1")
    app = project.app(UNREACHABLE_URL)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monkeypatch.setattr(services, "show", broken)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "disk on fire" in app.screen.error_body


async def test_help_and_command_palette_list_the_screens_actions(project: Project) -> None:
    await project.plan("v1")
    app = project.app(UNREACHABLE_URL)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        names = {action.description for action in screen_actions(app, app.screen)}
        assert {"Review", "New", "Apply", "Roll back", "History", "Drift", "Refresh", "Quit", "Help"} <= names
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        assert ("h", "History") in app.screen.keys
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "histo")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)


async def test_new_plan_from_the_schema_opens_its_review(project: Project, database_url: str) -> None:
    schema = project.schema("v1")
    app = project.app(database_url, schema=schema)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await type_text(pilot, "first")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.plan_path.endswith("0001_first.yaml")
    assert (project.root / "plans" / "0001_first.yaml").is_file()


async def test_history_filters_by_version(project: Project, database_url: str) -> None:
    await project.plan("v1", "v2")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        assert [row[1] for row in table_rows(app, "#versions-table")] == ["2", "1"]
        await pilot.press("slash", "2", "enter")
        await settle(pilot)
        assert [row[1] for row in table_rows(app, "#versions-table")] == ["2"]
        await pilot.press("slash", "backspace", "tab")
        await type_text(pilot, "2999-01-01")
        await pilot.press("enter")
        await settle(pilot)
        assert table_rows(app, "#versions-table") == []
        assert "No version matches" in shown(app, "#versions-empty")


@pytest.mark.parametrize(("nickname", "typed"), [("ada", False), ("a-very-long-nickname", True)])
async def test_a_narrowing_plan_asks_for_the_typed_word_only_when_rows_break_it(
    project: Project, database_url: str, db: asyncpg.Connection, nickname: str, typed: bool
) -> None:
    await project.plan("v1")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await db.execute("INSERT INTO customers (name, nickname) VALUES ('Ada', $1)", nickname)
    await project.plan("short")
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        if typed:  # the row breaks the rule: the dry run shows the count and the failure, nothing is asked
            assert isinstance(app.screen, ApplyScreen)
            result = shown(app, "#result-text")
            assert "nickname_short (1 row that breaks it)" in result
            assert "violated by some row" in result
            return
        assert isinstance(app.screen, ConfirmModal), "nothing would be lost: a plain yes/no"
        await pilot.press("y")
        await settle(pilot)
        assert "Applied version 2" in shown(app, "#result-text")
    assert "nickname_short" in {r["conname"] for r in await db.fetch("SELECT conname FROM pg_constraint")}


# --- finishing every flow inside the TUI ------------------------------------------------------------------------


async def test_a_rollback_then_accepted_drift_then_a_new_plan_is_finished_inside(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    """The dead end of issue 12: version 2 rolled back, a column added by hand and accepted as drift, a new
    schema. Archive the rolled-back plan, plan from the database, review and apply: all in the TUI."""
    await project.plan("v1", "v2")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await services.rollback(to_version=1, reason="phone goes elsewhere", database_url=database_url)
    await db.execute("ALTER TABLE customers ADD COLUMN hack integer")
    await db.execute("INSERT INTO customers (name, nickname, hack) VALUES ('Ada', 'ada', 1)")
    app = project.app(database_url, schema=project.schema("v3"))  # name and phone; nickname goes
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "DRIFTED" in shown(app, "#database-status")

        await pilot.press("d", "a")  # drift: accept, with a reason
        await settle(pilot)
        assert isinstance(app.screen, ReasonModal)
        await type_text(pilot, "hotfix by ops")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen)
        assert "No drift" in shown(app, "#drift-text") and "1 accepted difference" in shown(app, "#drift-text")
        await pilot.press("escape")
        await settle(pilot)
        assert "Rolled back: version 2" in shown(app, "#plans-hint")

        await pilot.press("n", "enter")  # a new plan is stuck behind the rolled-back one, and says the way out
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "was rolled back on this database" in app.screen.error_body
        assert "archive it" in app.screen.error_body
        await pilot.press("escape")

        await pilot.press("down", "x", "y")  # archive plan 2
        await settle(pilot)
        assert [row[:2] for row in table_rows(app, "#plans-table")] == [["1", "applied"]]
        assert (project.root / "plans" / "archive" / "0002_customers_phone.yaml").is_file()

        await pilot.press("n", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.plan_path.endswith("0003_customers_nickname_phone.yaml")
        summary = shown(app, "#plan-summary")
        assert "step 1 drops column customers.nickname (1 non-null value)" in summary
        assert "hack" not in summary, "the accepted column is kept"

        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, TypedConfirmModal)
        await type_text(pilot, "destroy")
        await pilot.press("enter")
        await settle(pilot)
        assert "Applied version 3" in shown(app, "#result-text")

    assert await db.fetchval("SELECT version FROM system.schema_checksum") == 3
    assert await column_exists(db, "customers", "hack")
    assert not await column_exists(db, "customers", "nickname")
    assert await column_exists(db, "customers", "phone")
    assert services.check(project.schema("v3"), project.plans).in_sync


async def test_a_rollback_across_accepted_drift_runs_the_steps_planned_from_the_snapshots(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1", "v2")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await db.execute("CREATE INDEX customers_name_by_hand ON customers (name)")
    await services.drift(accept=True, reason="index for a report", database_url=database_url)
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert "planned from the snapshots" in str(app.screen.query_one("#reverse-steps").border_subtitle)
        planned = [row[3] for row in table_rows(app, "#progress")]
        assert any("customers.phone" in step for step in planned)
        assert not any("customers_name_by_hand" in step for step in planned), "the accepted index is kept"
        await pilot.press("enter")
        await type_text(pilot, "back to one")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert "Rolled back to version 1" in shown(app, "#rollback-text")
    assert not await column_exists(db, "customers", "phone")
    assert await db.fetchval("SELECT to_regclass('public.customers_name_by_hand')") is not None


async def test_a_lock_wait_names_the_blocking_session_its_query_and_the_time_left(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await project.plan("v2")
    blocker = await asyncpg.connect(database_url)
    try:
        await blocker.execute("SET application_name = 'reporting-job'")
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT count(*) FROM customers")
        app = project.app(database_url)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("a")  # the dry run waits for the table lock the open transaction holds
            waiting = ""
            for _ in range(80):
                await pilot.pause(0.1)
                waiting = str(app.screen.query_one("#apply-activity", Activity).render())
                if "reporting-job" in waiting:
                    break
            assert "Dry run of 1 plan" in waiting
            assert "Locking the plan's tables waits for a lock" in waiting
            assert "application 'reporting-job', idle in transaction" in waiting
            assert "last query: 'SELECT count(*) FROM customers'" in waiting
            assert re.search(r"gives up in \d+ s \(lock_timeout 10s\)", waiting), waiting
            await blocker.execute("COMMIT")  # the wait ends, the dry run goes on
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
            assert "Applied version 2" in shown(app, "#result-text")
    finally:
        await blocker.close()
    assert await column_exists(db, "customers", "phone")


async def test_apply_is_not_offered_on_an_applied_plan(project: Project, database_url: str) -> None:
    await project.plan("v1")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "a")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen), "a does nothing on an applied plan"
        assert "Apply" not in {action.description for action in screen_actions(app, app.screen)}
        assert "applied (nothing to apply)" in shown(app, "#plan-summary")


async def test_enter_on_the_offline_box_makes_the_plan(project: Project, database_url: str) -> None:
    app = project.app(database_url, schema=project.schema("v1"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", "tab", "space")  # tick offline
        assert app.screen.query_one("#plan-offline", Checkbox).value
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
    assert (project.root / "plans" / "0001_new_table_customers.yaml").is_file()


async def test_end_goes_to_the_last_plan_and_home_to_the_first(project: Project) -> None:
    await project.plan("v1", "v2", "v3")
    app = project.app(UNREACHABLE_URL)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#plans-table", DataTable)
        await pilot.press("end")
        assert (table.cursor_row, table.scroll_x) == (2, 0)
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_drift_is_reverted_by_a_plan_reviewed_and_applied_inside(
    project: Project, database_url: str, db: asyncpg.Connection
) -> None:
    await project.plan("v1")
    await services.apply(plans_dir=project.plans, database_url=database_url)
    await db.execute("ALTER TABLE customers ADD COLUMN hack integer")
    await db.execute("INSERT INTO customers (name, hack) VALUES ('Ada', 42)")
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d", "p")
        await settle(pilot)
        assert isinstance(app.screen, ReasonModal)
        await type_text(pilot, "a column nobody asked for")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.plan_path.endswith("0002_revert_drift.yaml")
        assert "step 1 drops column customers.hack (1 non-null value)" in shown(app, "#plan-summary")
        await pilot.press("a")
        await settle(pilot)
        await type_text(pilot, "destroy")
        await pilot.press("enter")
        await settle(pilot)
        assert "Applied version 2" in shown(app, "#result-text")
        await pilot.press("escape", "escape")  # apply → review → drift, which compares again
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen)
        assert "No drift: the database matches what version 2 recorded." in shown(app, "#drift-text")
    assert not await column_exists(db, "customers", "hack")


async def test_text_from_a_plan_file_is_shown_as_it_is_never_as_markup_or_terminal_codes(
    project: Project, database_url: str
) -> None:
    (path,) = await project.plan("v1")
    plan_file = project.root / path
    hostile = "[red]boom[/red] \\e[2J"  # YAML for an escape sequence that would clear the screen
    plan_file.write_text(plan_file.read_text().replace("summary: new table customers\n", f'summary: "{hostile}"\n', 1))
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table_rows(app, "#plans-table")[0][3] == "[red]boom[/red] \\x1b[2J"
        await pilot.press("enter")
        await settle(pilot)
        assert "[red]boom[/red] \\x1b[2J" in shown(app, "#plan-summary")


async def test_the_forward_sql_stays_in_view_when_the_reverse_sql_is_long(project: Project, database_url: str) -> None:
    """Removing a field a view reads drops the view first: one short forward statement whose reverse is the
    whole CREATE VIEW. At 80×24 the forward SQL, what apply runs, keeps at least a line."""
    import shutil
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2]
    shutil.copytree(examples / "plans", project.root / "plans")
    schema = (examples / "examples" / "crm.yaml").read_text()
    field = "      - id: 4\n        name: employee_count\n        type: integer\n        min: 0\n        max: 1000000\n"
    assert field in schema
    (project.root / "app.yaml").write_text(schema.replace(field, ""))
    outcome = await services.plan("app.yaml", project.plans, offline=True)
    assert outcome.path is not None and outcome.plan is not None
    assert outcome.plan.steps[0].forward == ("DROP VIEW public.contacts",)
    app = project.app(database_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("end", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        forward = app.screen.query_one("#forward-sql", TextView)
        assert "DROP VIEW public.contacts" in forward.text
        assert forward.content_region.height >= 1, "the forward SQL has no line on screen"
        assert "CREATE VIEW public.contacts" in app.screen.query_one("#reverse-sql", TextView).text
