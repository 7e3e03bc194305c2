"""The dashboard: where the database stands, the plans in the directory with their state, what to do next
(unplanned changes, a rolled-back plan to re-apply or archive, broken plan files), and recent events."""

from __future__ import annotations

import asyncio
import re
from functools import partial
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from sovrium_tui import services
from sovrium_tui.planning.plan import Plan, shown_hazards
from sovrium_tui.text import plural
from sovrium_tui.tui.apply import ApplyScreen
from sovrium_tui.tui.base import SovriumScreen
from sovrium_tui.tui.drift import DriftScreen
from sovrium_tui.tui.fmt import cell, error_text, markup, short, state_text, step_tally, when
from sovrium_tui.tui.history import HistoryScreen
from sovrium_tui.tui.modals import ConfirmModal, ErrorModal, NewPlanModal, NewPlanRequest, ResultModal
from sovrium_tui.tui.review import ReviewScreen
from sovrium_tui.tui.rollback import RollbackScreen
from sovrium_tui.tui.widgets import Activity, Panel, RowTable, TextView

_PLAN_FILE = re.compile(r"^\d{4,}_[a-z0-9_]+\.ya?ml$")
# States a plan may be applied (again) from, and states it may be archived from (the database never applied it).
APPLICABLE = ("pending", "rolled back")
ARCHIVABLE = ("pending", "edited", "rolled back", "off chain")


class PlansTable(RowTable):
    """The plan files; enter opens the highlighted one for review."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Review"),
    ]


class DashboardScreen(SovriumScreen):
    """The first screen, and the one every other screen returns to (it reloads when shown again)."""

    NAME = "Dashboard"
    HELP = (
        "Where the database stands (its version, drift and migration lock), the plan files in the plans "
        "directory with their state, what to do next, and the latest events of the audit log. Pick a plan and "
        "press enter to review it; a applies every pending plan (after a dry run); b rolls back; n makes a plan "
        "from the schema; x archives a rolled-back plan that a new plan supersedes (it moves to archive/)."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_plan", "New"),
        Binding("a", "apply", "Apply"),
        Binding("b", "rollback", "Roll back"),
        Binding("x", "archive", "Archive"),
        Binding("h", "history", "History"),
        Binding("d", "drift", "Drift"),
        Binding("p", "problems", "Problems"),
        Binding("t", "fleet", "Fleet", show=False),
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

    class Compared(Message):
        """What the schema file changes beyond the newest plan."""

        def __init__(self, unplanned: services.Unplanned) -> None:
            super().__init__()
            self.unplanned = unplanned

    class Planned(Message):
        def __init__(self, outcome: services.PlanOutcome | None, error: Exception | None = None) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    class Archived(Message):
        def __init__(self, outcome: services.ArchiveOutcome | None, error: Exception | None = None) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    report: services.StatusReport | None = None
    unplanned: services.Unplanned | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Panel(title="Database", id="database"):
            yield Activity(id="database-activity")
            yield Static("", id="database-status")
        with Horizontal(id="plans-row"):
            with Panel(title=f"Plans in {self.session.plans_dir}", id="plans"):
                yield Activity(id="plans-activity")
                yield Static("", id="plans-hint")
                yield Static("", id="plans-empty", classes="empty")
                yield PlansTable(id="plans-table", cursor_type="row")
            with Panel(title="Selected plan", id="plan-preview"):
                yield TextView(id="plan-preview-text")
        with Panel(title="Recent events", id="events"):
            yield RowTable(id="events-table", cursor_type="none", show_cursor=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
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
        self.query_one("#plan-preview-text", TextView).can_focus = False
        self.query_one("#database-activity", Activity).start("Connecting…")
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

    @work(thread=True, exclusive=True, group="unplanned", exit_on_error=False)
    def compare_schema(self) -> None:
        if self.session.schema is None:
            return
        self.post_message(self.Compared(services.unplanned(self.session.schema, self.session.plans_dir)))

    @on(Starting)
    def starting(self) -> None:
        self.query_one("#database-activity", Activity).start("Starting the embedded PostgreSQL in .sovrium/pgdata…")

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        self.query_one("#database-activity", Activity).stop()
        report = self.report = message.report
        self.session.database_label = report.database
        self.remove_class("-unreachable")
        self.set_class(bool(report.drift), "-drifted")
        drift = {
            None: "[$text-muted]nothing recorded yet[/]",
            False: "[$text-success]none[/]",
            True: "[$text-error b]DRIFTED[/] [$text-muted](d: see, accept or undo it)[/]",
        }[report.drift]
        lock = "[$text-warning]held by $holder[/]" if report.lock_holder else "[$text-success]free[/]"
        version = (
            "version [b]$version[/b] · updated $updated" if report.checksum else "version [b]0[/b] · never migrated"
        )
        checksum = "checksum $checksum · " if report.checksum else ""
        self._status(
            markup(
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
        self._fill_events(report)
        self._show_hint()
        self.compare_schema()
        self.refresh_bindings()

    @on(Unreachable)
    def unreachable(self, message: Unreachable) -> None:
        self.query_one("#database-activity", Activity).stop()
        self.report = None
        self.remove_class("-drifted")
        self.add_class("-unreachable")
        self._status(
            markup(
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
        events = self.query_one("#events-table", DataTable)
        events.clear()
        events.add_row(Text("no database", style="dim"), Text(""), Text(""), Text(""), Text(""))
        self._show_hint()
        self.compare_schema()
        self.refresh_bindings()

    @on(Compared)
    def compared(self, message: Compared) -> None:
        self.unplanned = message.unplanned
        self._show_hint()

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
                cell(str(version), justify="right"), state_text(state), cell(applied_at), cell(summary), key=path
            )
        self.query_one("#plans").set_class(not rows, "-empty")
        if not rows:
            hint = "press n to make one from the schema" if self.session.schema else "start with a SCHEMA to make one"
            self.query_one("#plans-empty", Static).update(
                markup("No plans in [b]$dir[/b] yet: $hint.", dir=self.session.plans_dir, hint=hint)
            )
            self._preview(None)
        elif selected is not None and selected in {row[0] for row in rows}:
            table.move_cursor(row=table.get_row_index(selected))
        self.query_one("#plans").border_subtitle = plural(len(rows), "plan") if rows else ""

    def _show_hint(self) -> None:
        """The next thing to do, most urgent first: broken plan files, a rolled-back plan, unplanned changes."""
        lines: list[Content] = []
        report = self.report
        problems = report.plan_problems if report else ()
        if problems:
            lines.append(
                markup(
                    "[$text-error b]$count in the plan files[/] (p lists them): $first",
                    count=plural(len(problems), "problem"),
                    first=problems[0],
                )
            )
        rolled_back = [p for p in report.plans if p.state == "rolled back"] if report else []
        if rolled_back:
            lines.append(
                markup(
                    "[$text-warning b]Rolled back: version$s $versions[/] · a applies again · x archives "
                    "(superseded by a new plan)",
                    s="s" if len(rolled_back) > 1 else "",
                    versions=", ".join(str(p.version) for p in rolled_back),
                )
            )
        unplanned = self.unplanned
        if unplanned is not None and unplanned.problem:
            lines.append(markup("[$text-error]$problem[/]", problem=unplanned.problem))
        elif unplanned is not None and unplanned.changes:
            lines.append(
                markup(
                    "[$text-warning b]$schema: $count[/] · n plans them ($first…)",
                    schema=unplanned.schema,
                    count=plural(len(unplanned.changes), "unplanned change"),
                    first=unplanned.changes[0],
                )
            )
        hint = self.query_one("#plans-hint", Static)
        hint.update(Content("\n").join(lines))
        hint.display = bool(lines)
        self.query_one("#plans").set_class(bool(problems), "-problems")

    def _fill_events(self, report: services.StatusReport) -> None:
        table = self.query_one("#events-table", DataTable)
        table.clear()
        for entry in reversed(report.recent_log):
            line = services.log_line(entry)
            table.add_row(
                cell(when(entry.created_at)[:16]),
                cell(line.event),
                state_text(line.status),
                cell(line.versions),
                cell(line.reason),
            )
        if not report.recent_log:
            table.add_row(Text("no events yet", style="dim"), Text(""), Text(""), Text(""), Text(""))

    def _selected_path(self) -> str | None:
        table = self.query_one("#plans-table", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def _selected_state(self) -> services.PlanState | None:
        path = self._selected_path()
        if self.report is None or path is None:
            return None
        return next((p for p in self.report.plans if p.path == path), None)

    @on(events.Resize)
    def resized(self) -> None:
        self._preview(self._selected_path())

    @on(DataTable.RowHighlighted, "#plans-table")
    def plan_highlighted(self) -> None:
        path = self._selected_path()
        self._preview(path)
        self.refresh_bindings()

    def _preview(self, path: str | None) -> None:
        """The highlighted plan at a glance, on wide terminals: what it does and what it risks."""
        view = self.query_one("#plan-preview-text", TextView)
        if path is None or not self.app.size.width >= 120:
            view.show("")
            return
        try:
            plan = services.show(path)
        except Exception as error:
            view.show(markup("[$text-error]$problem[/]", problem=error_text(error)))
            return
        destructive = [f"step {step.id}: {step.summary}" for step in plan.destructive_steps]
        view.show(
            Content.assemble(
                markup(
                    "[b]Version $version[/b]: $tally\n$summary\n\n",
                    version=plan.version,
                    tally=step_tally((step.op, shown_hazards(step)) for step in plan.steps),
                    summary=plan.summary,
                ),
                markup("[$text-error b]Destroys data:[/]\n") if destructive else Content(""),
                Content("\n").join(markup("• $line", line=line) for line in destructive),
                markup("\n\n[$text-muted]enter reviews every step and its SQL[/]"),
            )
        )

    # --- actions ---------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "archive":
            selected = self._selected_state()
            return selected is not None and selected.state in ARCHIVABLE
        if action == "problems":
            return bool(self.report and self.report.plan_problems)
        return True

    @on(DataTable.RowSelected, "#plans-table")
    def review_selected(self) -> None:
        path = self._selected_path()
        if path is None:
            return
        selected = self._selected_state()
        self.app.push_screen(ReviewScreen(self.session, path, state=selected.state if selected else None))

    def action_refresh(self) -> None:
        self.query_one("#database-activity", Activity).start("Refreshing…")
        self.load_status()

    def action_problems(self) -> None:
        if self.report is None or not self.report.plan_problems:
            return
        body = Content("\n\n").join(markup("• $problem", problem=p) for p in self.report.plan_problems)
        title = f"{plural(len(self.report.plan_problems), 'problem')} in {self.session.plans_dir}"
        self.app.push_screen(ResultModal(title, body, passed=False))

    def action_new_plan(self) -> None:
        if not self.session.schema:
            self.notify("Start sovrium tui with a SCHEMA file to make plans from it.", title="No schema")
            return
        self.app.push_screen(NewPlanModal(self.session.schema, self.session.plans_dir), self._make_plan)

    def _make_plan(self, request: NewPlanRequest | None) -> None:
        if request is not None:
            how = "the newest plan file" if request.offline else "the database"
            self.query_one("#plans-activity", Activity).start(
                f"Making a plan: diffing {self.session.schema} with {how}…"
            )
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
            self.post_message(self.Planned(None, error))
            return
        self.post_message(self.Planned(outcome))

    @on(Planned)
    def planned(self, message: Planned) -> None:
        self.query_one("#plans-activity", Activity).stop()
        if message.outcome is None:
            assert message.error is not None
            self.report_failure("make a plan", message.error)
            return
        outcome = message.outcome
        if outcome.plan is None or outcome.path is None:
            self.notify("No schema changes: nothing to plan.", title="New plan")
            return
        self.load_status()
        self.app.push_screen(ReviewScreen(self.session, str(outcome.path), state="pending"))

    def action_archive(self) -> None:
        selected = self._selected_state()
        if selected is None or selected.state not in ARCHIVABLE:
            return
        body = markup(
            "Move [b]$path[/b] (version $version, $state) into [b]$dir/archive/[/b]? It leaves the chain of plans, "
            "so a new plan (n) can take its version's place. Nothing in the database changes; the file is kept.",
            path=selected.path,
            version=selected.version,
            state=selected.state,
            dir=self.session.plans_dir,
        )
        self.app.push_screen(
            ConfirmModal(f"Archive plan {selected.version}?", body, confirm_label="Archive"),
            partial(self._archive, selected.path),
        )

    def _archive(self, path: str, confirmed: bool | None) -> None:
        if confirmed:
            self.query_one("#plans-activity", Activity).start(f"Archiving {path}…")
            self.archive(path)

    @work(exclusive=True, group="archive", exit_on_error=False)
    async def archive(self, path: str) -> None:
        try:
            outcome = await services.archive(path, database_url=self.session.database_url)
        except Exception as error:
            self.post_message(self.Archived(None, error))
            return
        self.post_message(self.Archived(outcome))

    @on(Archived)
    def archived(self, message: Archived) -> None:
        self.query_one("#plans-activity", Activity).stop()
        if message.outcome is None:
            assert message.error is not None
            self.app.push_screen(ErrorModal.of(message.error, doing="archive the plan"))
            return
        self.notify(message.outcome.describe(), title="Archived", markup=False)
        self.load_status()

    def action_apply(self) -> None:
        if self.report is None:
            self.notify("The database is not reachable: press r to try again.", severity="warning")
            return
        # A rolled-back version is applied again by `apply`, like a pending one.
        pending = [p for p in self.report.plans if p.state in APPLICABLE]
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

    def action_fleet(self) -> None:
        from sovrium_tui.tui.fleet import FleetScreen, TargetsFileModal

        if self.session.targets_file is not None:
            self.app.push_screen(FleetScreen(self.session))
        else:
            self.app.push_screen(TargetsFileModal(), self._open_fleet)

    def _open_fleet(self, path: str | None) -> None:
        from sovrium_tui.tui.fleet import FleetScreen

        if path is not None:
            self.session.targets_file = path
            self.app.push_screen(FleetScreen(self.session))
