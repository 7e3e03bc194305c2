"""TUI test helpers: small schemas and plans in a temporary project, a settled Pilot, frozen clocks and names."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from sovrium_tui import services
from sovrium_tui.execution import executor
from sovrium_tui.tui.app import SovriumApp
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import Activity

UNREACHABLE_URL = "postgresql://postgres@127.0.0.1:1/x"
FROZEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHOWN_DATABASE = "postgresql://app:***@db.example:5432/shop"

_NAME = "      - id: 1\n        name: name\n        type: single-line-text\n        required: true\n"
_NICKNAME = "      - id: 2\n        name: nickname\n        type: single-line-text\n"
_PHONE = "      - id: 3\n        name: phone\n        type: phone-number\n"
_CODE = "      - id: 4\n        name: code\n        type: integer\n        required: true\n"
_HEAD = "name: shop\ntables:\n  - id: 1\n    name: customers\n    fields:\n"
_EMAIL = "      - id: 5\n        name: email\n        type: email\n"
_ORDERS = (
    "  - id: 2\n    name: orders\n    fields:\n"
    "      - id: 1\n        name: reference\n        type: single-line-text\n        required: true\n"
    "      - id: 2\n        name: customer\n        type: relationship\n        relatedTable: customers\n"
    "      - id: 3\n        name: total\n        type: currency\n        currency: EUR\n"
)

SCHEMAS = {
    "v1": _HEAD + _NAME + _NICKNAME,  # customers(name, nickname)
    "v2": _HEAD + _NAME + _NICKNAME + _PHONE,  # + phone
    "v3": _HEAD + _NAME + _PHONE,  # - nickname: destructive
    "code": _HEAD + _NAME + _NICKNAME + _CODE,  # + code NOT NULL without default: fails on existing rows
    # from v2: - nickname, - phone (both with values), + email, + a table orders: a long destructive plan
    "long": _HEAD + _NAME + _EMAIL + _ORDERS,
    # + a CHECK on an existing column: narrowing, refused only when existing rows break it
    "short": _HEAD
    + _NAME
    + _NICKNAME
    + '    constraints:\n      - {name: nickname_short, check: "length(nickname) < 10"}\n',
}


@dataclasses.dataclass
class Project:
    """A working directory with schema files and a `plans` directory, as a user of `sovrium tui` has."""

    root: Path

    @property
    def plans(self) -> str:
        return "plans"

    def schema(self, name: str) -> str:
        path = self.root / f"{name}.yaml"
        path.write_text(SCHEMAS[name])
        return path.name

    async def plan(self, *names: str) -> list[str]:
        """Offline plans for the schemas in order; returns the plan files written (relative paths)."""
        written = []
        for name in names:
            outcome = await services.plan(self.schema(name), self.plans, offline=True)
            assert outcome.path is not None, f"{name} made no plan"
            written.append(str(outcome.path))
        return written

    def plan_now(self, *names: str) -> list[str]:
        return asyncio.run(self.plan(*names))

    def app(self, database_url: str | None, schema: str | None = None) -> SovriumApp:
        return SovriumApp(Session(schema=schema, plans_dir=self.plans, database_url=database_url))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh project directory as the working directory, with plan timestamps fixed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(FROZEN.timestamp())))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return Project(tmp_path)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make what the screens show deterministic: timestamps, who applied, timings, the database's name."""
    real_status = services.status
    real_history = services.history
    real_verify = services.verify

    async def status(**kwargs: Any) -> services.StatusReport:
        report = await real_status(**kwargs)
        return dataclasses.replace(
            report,
            database=SHOWN_DATABASE,
            server_version="18.0",
            updated_at=FROZEN.isoformat() if report.updated_at else None,
            plans=tuple(
                dataclasses.replace(p, applied_at=FROZEN.isoformat() if p.applied_at else None) for p in report.plans
            ),
            recent_log=tuple(dataclasses.replace(e, created_at=FROZEN) for e in report.recent_log),
        )

    async def history(**kwargs: Any) -> services.HistoryReport:
        report = await real_history(**kwargs)
        return services.HistoryReport(
            tuple(
                dataclasses.replace(
                    e,
                    applied_at=FROZEN,
                    applied_by="dev@host",
                    rolled_back_at=FROZEN if e.rolled_back_at else None,
                )
                for e in report.entries
            ),
            tuple(dataclasses.replace(e, created_at=FROZEN, actor="dev@host") for e in report.log),
        )

    async def verify(plan_path: Any, **kwargs: Any) -> Any:
        return dataclasses.replace(await real_verify(plan_path, **kwargs), elapsed_ms=7)

    monkeypatch.setattr(services, "status", status)
    monkeypatch.setattr(services, "verify", verify)
    monkeypatch.setattr(services, "history", history)
    monkeypatch.setattr(executor, "_elapsed_ms", lambda started: 7)
    monkeypatch.setattr(Activity, "clock", lambda: 0.0)  # spinners stand still at their first frame, 0 s


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let every worker finish and every message it posted be handled (handlers may start more workers), then
    let every table measure the rows it was given: a DataTable sizes its columns when its queue is idle, and a
    busy machine once took a screenshot before that (a column still as wide as its header)."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    for _ in range(200):
        if not any(_measuring(table) for table in pilot.app.screen.query(DataTable)):
            break
        await pilot.pause(0.01)
    await until_steady(pilot)


async def until_steady(pilot: Pilot[Any], *, gap: float = 0.02, tries: int = 100) -> None:
    """Wait until two screenshots taken `gap` seconds apart are the same: a layout a table asked for after it
    measured its rows (`refresh(layout=True)`) is only done on a later refresh, and a loaded machine once took
    the snapshot in between (a Reason column still as wide as its header). Whatever still moves after `tries`
    shows in the snapshot, which then fails as it should."""
    shown = pilot.app.export_screenshot()
    for _ in range(tries):
        await pilot.pause(gap)
        now = pilot.app.export_screenshot()
        if now == shown:
            return
        shown = now


def _measuring(table: DataTable[Any]) -> bool:
    """Whether a table has rows or cells whose size it has not taken yet (Textual's own pending-work flags)."""
    return bool(table._require_update_dimensions or table._updated_cells)


def steady_cursors(app: SovriumApp) -> None:
    """Stop every text cursor blinking, on every open screen, so a screenshot does not depend on timing."""
    for screen in app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False


def keys_then_settle(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A snap_compare `run_before`: settle the first load, press the keys (settling after each), freeze cursors."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        steady_cursors(pilot.app)  # type: ignore[arg-type]
        await pilot.pause()

    return run_before
