"""The fleet view, driven through Pilot at 80×24 on real databases, and its snapshots: targets grouped by version
(unreachable ones as a group), apply to one group, and the way in from the dashboard."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from sovrium_tui.tui.app import SovriumApp
from sovrium_tui.tui.dashboard import DashboardScreen
from sovrium_tui.tui.fleet import FleetScreen, TargetsFileModal
from sovrium_tui.tui.modals import ConfirmModal
from sovrium_tui.tui.session import Session

from ..fleet_support import FleetDatabases, bring_to, contents, fleet_databases, write_targets
from .conftest import UNREACHABLE_URL, Project, keys_then_settle, settle

__all__ = ["fleet_databases"]  # the fixture, used by name

SIZE = (80, 24)
SnapCompare = Callable[..., bool]


@dataclass(frozen=True)
class Fleet:
    """A project with plans 1 and 2 and a targets file: `ahead` at 2, `behind-1` and `behind-2` at 1, `down`."""

    project: Project
    urls: dict[str, str]

    def app(self, *, database_url: str | None = None, targets: str | None = "fleet.yaml") -> SovriumApp:
        session = Session(schema=None, plans_dir="plans", database_url=database_url, targets_file=targets)
        return SovriumApp(session)


@pytest.fixture
def fleet(project: Project, fleet_databases: FleetDatabases) -> Fleet:
    async def build() -> dict[str, str]:
        plans = [Path(p) for p in await project.plan("v1", "v2")]
        ahead, behind_1, behind_2 = await fleet_databases.create(3)
        await bring_to(ahead, plans, 2)
        await bring_to(behind_1, plans, 1)
        await bring_to(behind_2, plans, 1)
        return {"ahead": ahead, "behind-1": behind_1, "behind-2": behind_2, "down": UNREACHABLE_URL}

    urls = asyncio.run(build())
    labels = {"ahead": {"tier": "canary"}, "behind-1": {"region": "eu"}, "behind-2": {"region": "us"}, "down": {}}
    write_targets(project.root / "fleet.yaml", [(name, url, labels[name]) for name, url in urls.items()])
    return Fleet(project, urls)


def rows(app: SovriumApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(getattr(cell, "plain", cell)) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_targets_are_grouped_by_version_and_a_group_is_applied(fleet: Fleet) -> None:
    app = fleet.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert [(row[0], row[2], row[5]) for row in rows(app, "#groups-table")] == [
            ("2", "1", "none"),
            ("1", "2", "2"),
            ("unreachable", "1", ""),
        ]
        assert [row[0] for row in rows(app, "#targets-table")] == ["ahead"]

        await pilot.press("down")
        await settle(pilot)
        assert [row[:2] for row in rows(app, "#targets-table")] == [
            ["behind-1", "region=eu"],
            ["behind-2", "region=us"],
        ]

        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot, rounds=5)

        assert isinstance(app.screen, FleetScreen)
        assert [(row[0], row[2]) for row in rows(app, "#groups-table")] == [("2", "3"), ("unreachable", "1")]
        results = {row[0]: row[4] for row in rows(app, "#targets-table")}
        assert results == {"ahead": "", "behind-1": "applied 1 → 2", "behind-2": "applied 1 → 2"}
    for name in ("behind-1", "behind-2", "ahead"):
        assert (await contents(fleet.urls[name])).versions == [1, 2]
    ahead_log = (await contents(fleet.urls["ahead"])).log
    assert len(ahead_log) == 2, "the group not chosen was not touched"


async def test_unreachable_and_up_to_date_groups_are_not_applied(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    app = fleet.app()
    said: list[str] = []
    monkeypatch.setattr(app, "notify", lambda message, **_: said.append(message))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        await pilot.press("down", "down", "a")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert said == [
            "Nothing pending for this group: it is up to date with the plans.",
            "These targets cannot be reached: nothing can be applied to them.",
        ]
        assert [row[4] for row in rows(app, "#targets-table")] == ["unreachable"]
        detail = str(app.screen.query_one("#target-detail", Static).render())
        assert detail == "down: Database connection failed: connection refused by 127.0.0.1:1 (is the server running?)"
    assert (await contents(fleet.urls["behind-1"])).versions == [1]


async def test_the_dashboard_opens_the_fleet_view_with_one_key(fleet: Fleet) -> None:
    app = fleet.app(database_url=fleet.urls["ahead"], targets=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TargetsFileModal)
        await pilot.press(*"fleet.yaml", "enter")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert len(rows(app, "#groups-table")) == 3
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("t")  # the file is remembered for the session
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)


async def test_a_broken_targets_file_is_shown_and_another_can_be_opened(fleet: Fleet) -> None:
    (fleet.project.root / "broken.yaml").write_text("targets:\n  - name: x\n")
    app = fleet.app(targets="broken.yaml")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        status = str(app.screen.query_one("#fleet-status", Static).render())
        assert "broken.yaml:2: targets[0]: no database: give url or url_env" in status
        await pilot.press("o")
        await settle(pilot)
        await pilot.press(*(["backspace"] * len("broken.yaml")), *"fleet.yaml", "enter")
        await settle(pilot)
        assert len(rows(app, "#groups-table")) == 3


# --- snapshots ------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("frozen")
def test_fleet_groups(snap_compare: SnapCompare, fleet: Fleet) -> None:
    assert snap_compare(fleet.app(), run_before=keys_then_settle("down"))


@pytest.mark.usefixtures("frozen")
def test_fleet_unreachable_group(snap_compare: SnapCompare, fleet: Fleet) -> None:
    assert snap_compare(fleet.app(), run_before=keys_then_settle("down", "down"))


@pytest.mark.usefixtures("frozen")
def test_fleet_apply_confirmation(snap_compare: SnapCompare, fleet: Fleet) -> None:
    assert snap_compare(fleet.app(), run_before=keys_then_settle("down", "a"))


@pytest.mark.usefixtures("frozen")
def test_fleet_applied(snap_compare: SnapCompare, fleet: Fleet) -> None:
    async def run_before(pilot: Any) -> None:
        await keys_then_settle("down", "a", "y")(pilot)
        await settle(pilot, rounds=5)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(fleet.app(), run_before=run_before)


@pytest.mark.usefixtures("frozen")
def test_fleet_open_file_from_the_dashboard(snap_compare: SnapCompare, fleet: Fleet) -> None:
    app = fleet.app(database_url=fleet.urls["ahead"], targets=None)
    assert snap_compare(app, run_before=keys_then_settle("t"))


@pytest.mark.usefixtures("frozen")
def test_fleet_broken_targets_file(snap_compare: SnapCompare, fleet: Fleet) -> None:
    (fleet.project.root / "broken.yaml").write_text("targets:\n  - name: x\n    url_env: NOT_SET_ANYWHERE\n")
    assert snap_compare(fleet.app(targets="broken.yaml"), run_before=keys_then_settle())
