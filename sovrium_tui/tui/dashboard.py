"""The dashboard: where the database stands, the plans in the directory with their state, recent events."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from sovrium_tui import services
from sovrium_tui.planning.plan import Plan
from sovrium_tui.tui.apply import ApplyScreen
from sovrium_tui.tui.base import SovriumScreen
from sovrium_tui.tui.drift import DriftScreen
from sovrium_tui.tui.fmt import error_text, plural, short, state_text, when
from sovrium_tui.tui.history import HistoryScreen
from sovrium_tui.tui.modals import ErrorModal, NewPlanModal, NewPlanRequest
from sovrium_tui.tui.review import ReviewScreen
from sovrium_tui.tui.rollback import RollbackScreen

_PLAN_FILE = re.compile(r"^\d{4,}_[a-z0-9_]+\.ya?ml$")
EVENT_ROWS = 4  # the latest events; the history screen has them all


class PlansTable(DataTable[Text]):
    """The plan files; enter opens the highlighted one for review."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Review"),
    ]


class DashboardScreen(SovriumScreen):
    """The first screen, and the one every other screen returns to (it reloads when shown again)."""

    HELP = (
        "Where the database stands (its version, drift and migration lock), the plan files in the plans "
        "directory with their state, and the latest events of the audit log. Pick a plan and press enter to "
        "review it; a applies every pending plan; b rolls back."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_plan", "New"),
        Binding("a", "apply", "Apply"),
        Binding("b", "rollback", "Roll back"),
        Binding("h", "history", "History"),
        Binding("d", "drift", "Drift"),
        Binding("r", "refresh", "Refresh"),
        Binding("q", "app.quit", "Quit"),
    ]

    class Starting(Message):
        """The embedded server is being started (the first time takes a few seconds)."""

    class Loaded(Message):
        def __init__(self, report: services.StatusReport) -> None:
            super().__init__()
            self.report = report

    class Unreachable(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    class Planned(Message):
        def __init__(self, outcome: services.PlanOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    report: services.StatusReport | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="database", classes="panel") as database:
            database.border_title = "Database"
            yield Static(Content.from_markup("[$text-muted]Connecting…[/]"), id="database-status")
        with Vertical(id="plans", classes="panel") as plans:
            plans.border_title = f"Plans in {self.session.plans_dir}"
            yield Static("", id="plans-empty", classes="empty")
            yield PlansTable(id="plans-table", cursor_type="row")
        with Vertical(id="events", classes="panel") as events:
            events.border_title = "Recent events"
            yield DataTable[Text](id="events-table", cursor_type="none", show_cursor=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Dashboard"
        plans = self.query_one("#plans-table", DataTable)
        plans.add_column("Ver", key="version")
        plans.add_column("State", key="state", width=18)
        plans.add_column("Applied (UTC)", key="applied", width=19)
        plans.add_column("Summary", key="summary")
        events = self.query_one("#events-table", DataTable)
        events.can_focus = False
        events.add_column("At (UTC)", width=16)
        events.add_column("Event", width=14)
        events.add_column("Status", width=9)
        events.add_column("Versions", width=8)
        events.add_column("Reason")
        plans.focus()

    def on_screen_resume(self) -> None:
        self.load_status()

    # --- loading ---------------------------------------------------------------------------------------

    @work(exclusive=True, group="status", exit_on_error=False)
    async def load_status(self) -> None:
        try:
            if self.session.needs_embedded:
                self.post_message(self.Starting())
                state = await asyncio.to_thread(services.embedded_db, "url")
                self.session.database_url = state.url
            report = await services.status(plans_dir=self.session.plans_dir, database_url=self.session.database_url)
        except Exception as error:
            self.post_message(self.Unreachable(error))
            return
        self.post_message(self.Loaded(report))

    @on(Starting)
    def starting(self) -> None:
        self._status(Content.from_markup("[$text-muted]Starting the embedded PostgreSQL in .sovrium/pgdata…[/]"))

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        report = self.report = message.report
        self.session.database_label = report.database
        self.remove_class("-unreachable")
        self.set_class(bool(report.drift), "-drifted")
        drift = {
            None: "[$text-muted]nothing recorded yet[/]",
            False: "[$text-success]none[/]",
            True: "[$text-error b]DRIFTED[/] [$text-muted](d shows it)[/]",
        }[report.drift]
        lock = "[$text-warning]held by $holder[/]" if report.lock_holder else "[$text-success]free[/]"
        version = (
            "version [b]$version[/b] · updated $updated" if report.checksum else "version [b]0[/b] · never migrated"
        )
        checksum = "checksum $checksum · " if report.checksum else ""
        self._status(
            Content.from_markup(
                f"[b]$database[/b]\nPostgreSQL $server · {version}\n{checksum}drift: {drift} · lock: {lock}",
                database=report.database,
                server=report.server_version,
                version=report.version,
                checksum=short(report.checksum),
                updated=when(report.updated_at)[:16] + " UTC",
                holder=report.lock_holder or "",
            )
        )
        self._fill_plans([(p.path, p.version, p.state, when(p.applied_at), p.summary) for p in report.plans])
        self._show_problems(report.plan_problems)
        self._fill_events(report)

    @on(Unreachable)
    def unreachable(self, message: Unreachable) -> None:
        self.report = None
        self.remove_class("-drifted")
        self.add_class("-unreachable")
        self._status(
            Content.from_markup(
                "[$text-error b]✗ $problem[/]\n[$text-muted]Press r to try again. Plans can still be reviewed.[/]",
                problem=error_text(message.error),
            )
        )
        rows = []
        for path in self._plan_files():
            try:
                plan: Plan = services.show(path)
            except Exception:
                rows.append((str(path), 0, "unreadable", "", path.name))
                continue
            rows.append((str(path), plan.version, "unknown", "", plan.summary))
        self._fill_plans(rows)
        self._show_problems(())
        events = self.query_one("#events-table", DataTable)
        events.clear()
        events.add_row(Text("no database", style="dim"), Text(""), Text(""), Text(""), Text(""))

    def _status(self, content: Content) -> None:
        self.query_one("#database-status", Static).update(content)

    def _plan_files(self) -> list[Path]:
        directory = Path(self.session.plans_dir)
        if not directory.is_dir():
            return []
        return sorted(path for path in directory.iterdir() if _PLAN_FILE.match(path.name))

    def _fill_plans(self, rows: list[tuple[str, int, str, str, str]]) -> None:
        table = self.query_one("#plans-table", DataTable)
        selected = self._selected_path()
        table.clear()
        for path, version, state, applied_at, summary in rows:
            table.add_row(
                Text(str(version), justify="right"), state_text(state), Text(applied_at), Text(summary), key=path
            )
        self.query_one("#plans").set_class(not rows, "-empty")
        if not rows:
            hint = "press n to make one from the schema" if self.session.schema else "start with a SCHEMA to make one"
            self.query_one("#plans-empty", Static).update(
                Content.from_markup("No plans in [b]$dir[/b] yet: $hint.", dir=self.session.plans_dir, hint=hint)
            )
        elif selected is not None and selected in {row[0] for row in rows}:
            table.move_cursor(row=table.get_row_index(selected))

    def _show_problems(self, problems: tuple[str, ...]) -> None:
        plans = self.query_one("#plans")
        plans.border_subtitle = f"{plural(len(problems), 'problem')}: {problems[0]}" if problems else ""
        plans.set_class(bool(problems), "-problems")

    def _fill_events(self, report: services.StatusReport) -> None:
        table = self.query_one("#events-table", DataTable)
        table.clear()
        for entry in list(reversed(report.recent_log))[:EVENT_ROWS]:
            versions = f"{entry.from_version if entry.from_version is not None else ''}→{entry.to_version or 0}"
            table.add_row(
                Text(when(entry.created_at)[:16]),
                Text(entry.operation),
                state_text(entry.status),
                Text(versions),
                Text((entry.reason or "").splitlines()[0] if entry.reason else ""),
            )
        if not report.recent_log:
            table.add_row(Text("no events yet", style="dim"), Text(""), Text(""), Text(""), Text(""))

    def _selected_path(self) -> str | None:
        table = self.query_one("#plans-table", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    # --- actions ---------------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#plans-table")
    def review_selected(self) -> None:
        path = self._selected_path()
        if path is None:
            return
        self.app.push_screen(ReviewScreen(self.session, path))

    def action_refresh(self) -> None:
        self._status(Content.from_markup("[$text-muted]Refreshing…[/]"))
        self.load_status()

    def action_new_plan(self) -> None:
        if not self.session.schema:
            self.notify("Start sovrium tui with a SCHEMA file to make plans from it.", title="No schema")
            return
        self.app.push_screen(NewPlanModal(self.session.schema, self.session.plans_dir), self._make_plan)

    def _make_plan(self, request: NewPlanRequest | None) -> None:
        if request is not None:
            self.make_plan(request)

    @work(exclusive=True, group="plan", exit_on_error=False)
    async def make_plan(self, request: NewPlanRequest) -> None:
        assert self.session.schema is not None
        try:
            outcome = await services.plan(
                self.session.schema,
                self.session.plans_dir,
                offline=request.offline,
                name=request.name,
                database_url=self.session.database_url,
            )
        except Exception as error:
            self.report_failure("make a plan", error)
            return
        self.post_message(self.Planned(outcome))

    @on(Planned)
    def planned(self, message: Planned) -> None:
        outcome = message.outcome
        if outcome.plan is None or outcome.path is None:
            self.notify("No schema changes: nothing to plan.", title="New plan")
            return
        self.load_status()
        self.app.push_screen(ReviewScreen(self.session, str(outcome.path)))

    def action_apply(self) -> None:
        if self.report is None:
            self.notify("The database is not reachable: press r to try again.", severity="warning")
            return
        # A rolled-back version is applied again by `apply`, like a pending one.
        pending = [p for p in self.report.plans if p.state in ("pending", "rolled back")]
        if not pending:
            self.notify("Nothing pending: the database is up to date with the plans.", title="Apply")
            return
        try:
            plans = tuple((p.path, services.show(p.path)) for p in pending)
        except Exception as error:
            self.app.push_screen(ErrorModal.of(error, doing="read the pending plans"))
            return
        self.app.push_screen(ApplyScreen(self.session, plans, target=None))

    def action_rollback(self) -> None:
        if self.report is not None and self.report.version == 0:
            self.notify("Nothing to roll back: no migration has been applied.", title="Roll back")
            return
        self.app.push_screen(RollbackScreen(self.session))

    def action_history(self) -> None:
        self.app.push_screen(HistoryScreen(self.session))

    def action_drift(self) -> None:
        self.app.push_screen(DriftScreen(self.session))
