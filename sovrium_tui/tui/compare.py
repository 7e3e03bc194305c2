"""What changed between two recorded versions, as tables and fields (renames as renames), each opening the
SQL that carries it out."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from sovrium_tui import services
from sovrium_tui.execution.store import HistoryEntry
from sovrium_tui.planning.schema_diff import SchemaChange
from sovrium_tui.text import plural
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import cell, error_text, hazard_text, markup, plain
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import Panel, RowTable, SqlView

KIND_MARKS = {"add": ("+", "green"), "drop": ("−", "bold red"), "rename": ("→", "cyan"), "change": ("~", "yellow")}


def changes_between(older: HistoryEntry, newer: HistoryEntry) -> tuple[SchemaChange, ...]:
    """The table and field changes from the older snapshot to the newer one."""
    return services.compare_snapshots(older.schema, newer.schema)


class CompareScreen(InnerScreen):
    """Two versions compared table by table and field by field; the highlighted change's SQL below."""

    NAME = "Compare versions"
    HELP = (
        "What changed from the older version's schema snapshot to the newer one's, table by table and field by "
        "field: + added, − dropped, → renamed (ids match, so values are kept), ~ changed. The highlighted "
        "change's SQL, as a plan between the two versions would run it, is shown below with its hazards; tab "
        "moves into it and f shows it full-screen. The snapshots come from the database's history."
    )

    class Compared(Message):
        def __init__(self, changes: tuple[SchemaChange, ...] | None, error: Exception | None = None) -> None:
            super().__init__()
            self.changes = changes
            self.error = error

    def __init__(self, session: Session, older: HistoryEntry, newer: HistoryEntry) -> None:
        super().__init__(session)
        self.older = older
        self.newer = newer
        self.changes: tuple[SchemaChange, ...] = ()

    def compose(self) -> ComposeResult:
        yield Header()
        with Panel(title=f"Version {self.older.version} → version {self.newer.version}", id="compare"):
            yield Static(markup("[$text-muted]Comparing the snapshots…[/]"), id="compare-text")
            yield RowTable(id="compare-table", cursor_type="row")
        with Panel(title="SQL", id="compare-sql"):
            yield SqlView(id="compare-sql-text")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.add_column(" ", width=1)
        table.add_column("Table")
        table.add_column("Field")
        table.add_column("Hazards")
        table.add_column("Change")
        table.focus()
        self.compare()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def compare(self) -> None:
        try:
            changes = changes_between(self.older, self.newer)
        except Exception as error:
            self.post_message(self.Compared(None, error))
            return
        self.post_message(self.Compared(changes))

    @on(Compared)
    def compared(self, message: Compared) -> None:
        text = self.query_one("#compare-text", Static)
        if message.changes is None:
            assert message.error is not None
            text.update(markup("[$text-error b]✗ $problem[/]", problem=error_text(message.error)))
            return
        self.changes = message.changes
        if not message.changes:
            text.update("No differences: both versions give the same database schema.")
            return
        counts = {kind: sum(1 for c in message.changes if c.kind == kind) for kind in KIND_MARKS}
        tally = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
        text.update(
            markup(
                "$tally from version $a to version $b ($steps in a plan):",
                tally=tally,
                a=self.older.version,
                b=self.newer.version,
                steps=plural(sum(len(c.changes) for c in message.changes), "step"),
            )
        )
        table = self.query_one("#compare-table", DataTable)
        for number, change in enumerate(message.changes):
            mark, style = KIND_MARKS[change.kind]
            table.add_row(
                cell(mark, style=style),
                cell(change.table, style="bold"),
                cell(change.field or ""),
                hazard_text(change.hazards),
                cell(change.detail),
                key=str(number),
            )

    @on(DataTable.RowHighlighted, "#compare-table")
    def change_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None or not self.changes:
            return
        change = self.changes[int(event.row_key.value)]
        panel = self.query_one("#compare-sql")
        where = f"{change.table}.{change.field}" if change.field else change.table
        panel.border_title = plain(" · ".join([f"SQL · {where}", *change.hazards]))
        self.query_one("#compare-sql-text", SqlView).show_sql(
            change.forward, empty="(no SQL: nothing in the database changes)"
        )
