"""History and audit: every recorded version and log event, filtered by version and date; open or compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from sovrium_tui import services
from sovrium_tui.execution.store import HistoryEntry
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.compare import CompareScreen
from sovrium_tui.tui.fmt import cell, error_text, markup, short, state_text, when
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.version import VersionScreen
from sovrium_tui.tui.widgets import Activity, Panel, RowTable

MARK = "●"


class VersionsTable(RowTable):
    """The recorded versions; enter opens the highlighted one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open"),
    ]


class HistoryFilter(ValueError):
    """A filter field that does not parse; its message says which and why."""


def parse_filters(version: str, since: str, until: str) -> tuple[int | None, datetime | None, datetime | None]:
    """The filter fields as the history service takes them; a date-only `until` includes that whole day."""
    try:
        number = int(version) if version.strip() else None
    except ValueError:
        raise HistoryFilter(f"version must be a whole number, not {version!r}") from None
    return number, _moment(since, "since", whole_day=False), _moment(until, "until", whole_day=True)


def _moment(text: str, field: str, *, whole_day: bool) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryFilter(f"{field} must be a date like 2026-01-31 or 2026-01-31T12:00, not {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if whole_day and len(text) == 10:
        moment += timedelta(days=1)
    return moment


class HistoryScreen(InnerScreen):
    """The audit trail of this database, newest first."""

    NAME = "History"
    HELP = (
        "Every version applied to this database (rolled-back ones stay, marked) and the audit log. Filter by "
        "version and by date (UTC; a date-only 'until' includes that day): / jumps to the filters, enter applies "
        "them. Enter on a version opens its schema snapshot and steps. Mark two versions with space and press c "
        "to see what changed between them. In the log, AUTO-ROLLBACK is the automatic rollback of a migration "
        "that failed (nothing was changed), not a rollback someone asked for. f shows a list full-screen."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "refresh", "Refresh"),
    ]

    class Loaded(Message):
        def __init__(self, report: services.HistoryReport) -> None:
            super().__init__()
            self.report = report

    class Unavailable(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.entries: dict[str, HistoryEntry] = {}
        self.marked: list[str] = []
        self.log_lines: dict[str, services.LogLine] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Label("Version ")
            yield Input(placeholder="any", id="filter-version", compact=True, restrict=r"\d*")
            yield Label("  Since ")
            yield Input(placeholder="YYYY-MM-DD", id="filter-since", compact=True)
            yield Label("  Until ")
            yield Input(placeholder="YYYY-MM-DD", id="filter-until", compact=True)
        with Panel(title="Versions", id="versions"):
            yield Activity(id="history-activity")
            yield Static("", id="versions-empty", classes="empty")
            yield VersionsTable(id="versions-table", cursor_type="row")
        with Panel(title="Log", id="log"):
            yield RowTable(id="log-table", cursor_type="row")
            yield Static("", id="log-detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        versions = self.query_one("#versions-table", DataTable)
        versions.add_column(" ", key="mark", width=1)
        versions.add_column("Ver", key="version")
        versions.add_column("Applied (UTC)", key="applied", width=16)
        versions.add_column("By", key="by", width=14)
        versions.add_column("Checksum", key="checksum", width=8)
        versions.add_column("State", key="state", width=11)
        versions.add_column("Rollback reason", key="reason")
        log = self.query_one("#log-table", DataTable)
        log.add_column("At (UTC)", width=16)
        log.add_column("Event", width=14)
        log.add_column("Status", width=9)
        log.add_column("Versions", width=8)
        log.add_column("Reason")
        versions.focus()
        self.load()

    def load(self) -> None:
        self.query_one("#history-activity", Activity).start("Reading the audit trail…")
        self.read_history()

    @work(exclusive=True, group="history", exit_on_error=False)
    async def read_history(self) -> None:
        try:
            version, since, until = parse_filters(*self._filter_values())
            report = await services.history(
                since=since, until=until, version=version, database_url=self.session.database_url
            )
        except Exception as error:
            self.post_message(self.Unavailable(error))
            return
        self.post_message(self.Loaded(report))

    def _filter_values(self) -> tuple[str, str, str]:
        return (
            self.query_one("#filter-version", Input).value,
            self.query_one("#filter-since", Input).value,
            self.query_one("#filter-until", Input).value,
        )

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        self.query_one("#history-activity", Activity).stop()
        report = message.report
        self.entries = {str(e.id): e for e in report.entries}
        self.marked = [key for key in self.marked if key in self.entries]
        table = self.query_one("#versions-table", DataTable)
        table.clear()
        for key, entry in sorted(self.entries.items(), key=lambda item: item[1].id, reverse=True):
            table.add_row(
                self._mark_cell(key),
                cell(str(entry.version), justify="right"),
                cell(when(entry.applied_at)[:16]),
                cell(entry.applied_by),
                cell(short(entry.checksum)),
                state_text(entry.state),
                cell(entry.rollback_reason or ""),
                key=key,
            )
        filtered = any(value.strip() for value in self._filter_values())
        self.query_one("#versions").set_class(not self.entries, "-empty")
        self.query_one("#versions-empty", Static).update(
            "No version matches these filters."
            if filtered
            else "No migrations recorded in this database yet: apply a plan from the dashboard."
        )
        self.query_one("#versions").border_subtitle = "filtered" if filtered else ""
        log = self.query_one("#log-table", DataTable)
        log.clear()
        self.log_lines = {}
        for event in reversed(report.log):
            line = services.log_line(event)
            self.log_lines[str(event.id)] = line
            log.add_row(
                cell(when(event.created_at)[:16]),
                cell(line.event),
                state_text(line.status),
                cell(line.versions),
                cell(line.reason),
                key=str(event.id),
            )
        if not report.log:
            log.add_row(Text("no events", style="dim"), Text(""), Text(""), Text(""), Text(""))
        self.refresh_bindings()

    @on(Unavailable)
    def unavailable(self, message: Unavailable) -> None:
        self.query_one("#history-activity", Activity).stop()
        self._show_nothing(markup("[$text-error b]✗ $problem[/]", problem=error_text(message.error)))

    def _show_nothing(self, why: Content) -> None:
        """Empty both lists (rows from an earlier filter would read as the answer to this one) and say why."""
        self.entries = {}
        self.query_one("#versions").add_class("-empty")
        self.query_one("#versions-empty", Static).update(why)
        self.query_one("#versions-table", DataTable).clear()
        self.query_one("#log-table", DataTable).clear()
        self.query_one("#log-detail", Static).update("")
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#log-table")
    def log_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted event's whole reason, which the table cuts at its edge."""
        line = self.log_lines.get(str(event.row_key.value))
        detail = self.query_one("#log-detail", Static)
        detail.update(
            markup(
                "[b]$event $status[/b] $versions: $reason",
                event=line.event,
                status=line.status,
                versions=line.versions,
                reason=line.reason or "(no reason)",
            )
            if line
            else ""
        )

    def _mark_cell(self, key: str) -> Text:
        return Text(MARK, style="bold cyan") if key in self.marked else Text(" ")

    # --- actions -------------------------------------------------------------------------------------------

    @on(Input.Submitted)
    def filter_submitted(self) -> None:
        try:
            parse_filters(*self._filter_values())
        except HistoryFilter as problem:
            self.query_one("#versions").border_subtitle = "invalid filter"
            self._show_nothing(markup("[$text-error b]✗ $problem[/]: fix it and press enter.", problem=str(problem)))
            return
        self.query_one("#versions-table", DataTable).focus()
        self.load()

    def action_filter(self) -> None:
        self.query_one("#filter-version", Input).focus()

    def action_refresh(self) -> None:
        self.load()

    def _cursor_key(self) -> str | None:
        table = self.query_one("#versions-table", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def action_mark(self) -> None:
        key = self._cursor_key()
        if key is None:
            return
        if key in self.marked:
            self.marked.remove(key)
        else:
            self.marked = [*self.marked, key][-2:]
        table = self.query_one("#versions-table", DataTable)
        for row_key in self.entries:
            table.update_cell(row_key, "mark", self._mark_cell(row_key))

    def action_compare(self) -> None:
        picked = list(self.marked)
        cursor = self._cursor_key()
        if len(picked) < 2 and cursor is not None and cursor not in picked:
            picked.append(cursor)
        if len(picked) < 2:
            self.notify("Mark two versions with space, then press c.", title="Compare")
            return
        older, newer = sorted((self.entries[key] for key in picked[:2]), key=lambda e: (e.version, e.id))
        self.app.push_screen(CompareScreen(self.session, older, newer))

    @on(DataTable.RowSelected, "#versions-table")
    def open_version(self, event: DataTable.RowSelected) -> None:
        entry = self.entries.get(str(event.row_key.value))
        if entry is not None:
            self.app.push_screen(VersionScreen(self.session, entry))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("mark", "compare"):
            return bool(self.entries)
        return True
