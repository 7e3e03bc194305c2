"""What changed between two recorded versions: the differ run on their two schema snapshots."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from sovrium_tui import services
from sovrium_tui.execution.store import HistoryEntry
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import error_text, hazard_text, plural
from sovrium_tui.tui.session import Session


@dataclass(frozen=True, slots=True)
class ChangeLine:
    op: str
    summary: str
    hazards: tuple[str, ...]


def changes_between(older: HistoryEntry, newer: HistoryEntry) -> tuple[ChangeLine, ...]:
    """The changes that take the older snapshot to the newer one, in the order a plan would run them."""
    changes = services.changes_between(older.schema, newer.schema)
    return tuple(ChangeLine(change.op, change.summary(), tuple(change.hazards())) for change in changes)


class CompareScreen(InnerScreen):
    """Two versions side by side, as the list of changes from the older to the newer."""

    HELP = (
        "The changes that take the older version's schema snapshot to the newer one's, as a plan between them "
        "would make them (with their hazards). The snapshots come from the database's history."
    )

    class Compared(Message):
        def __init__(self, changes: tuple[ChangeLine, ...] | None, error: Exception | None = None) -> None:
            super().__init__()
            self.changes = changes
            self.error = error

    def __init__(self, session: Session, older: HistoryEntry, newer: HistoryEntry) -> None:
        super().__init__(session)
        self.older = older
        self.newer = newer

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="compare", classes="panel") as panel:
            panel.border_title = f"Version {self.older.version} → version {self.newer.version}"
            yield Static(Content.from_markup("[$text-muted]Comparing the snapshots…[/]"), id="compare-text")
            yield DataTable[Text](id="compare-table", cursor_type="row")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Compare versions"
        table = self.query_one("#compare-table", DataTable)
        table.add_column("Hazards")
        table.add_column("Change")
        table.add_column("Op")
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
            text.update(Content.from_markup("[$text-error b]✗ $problem[/]", problem=error_text(message.error)))
            return
        if not message.changes:
            text.update("No differences: both versions give the same database schema.")
            return
        text.update(
            Content.from_markup(
                "$count from version $a to version $b:",
                count=plural(len(message.changes), "change"),
                a=self.older.version,
                b=self.newer.version,
            )
        )
        table = self.query_one("#compare-table", DataTable)
        for change in message.changes:
            table.add_row(hazard_text(change.hazards), Text(change.summary), Text(change.op))
