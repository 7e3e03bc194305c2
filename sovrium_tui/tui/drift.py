"""Drift: every difference between the live database and what the last migration recorded, by table."""

from __future__ import annotations

from itertools import groupby
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Footer, Header, Static, Tree

from sovrium_tui import services
from sovrium_tui.errors import UsageError
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import error_text, plural

KIND_STYLES = {"extra": "yellow", "missing": "red", "changed": "cyan"}


class DriftScreen(InnerScreen):
    """The drift report, read-only (accepting drift stays a deliberate `sovrium drift --accept` from the CLI)."""

    HELP = (
        "Compares the live database with the schema recorded by the last migration and lists every difference, "
        "grouped by table: extra (exists but was not recorded), missing (recorded but gone) or changed. Drift "
        "makes apply and rollback refuse until it is undone, or accepted with `sovrium drift --accept --reason`."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh"),
    ]

    class Loaded(Message):
        def __init__(self, report: services.DriftReport | None, error: Exception | None = None) -> None:
            super().__init__()
            self.report = report
            self.error = error

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="drift", classes="panel") as panel:
            panel.border_title = "Drift"
            yield Static(
                Content.from_markup("[$text-muted]Comparing the live database with the record…[/]"), id="drift-text"
            )
            yield Tree[None]("differences", id="drift-tree")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Drift"
        self.query_one(Tree).show_root = False
        self.load()

    @work(exclusive=True, group="drift", exit_on_error=False)
    async def load(self) -> None:
        try:
            report = await services.drift(database_url=self.session.database_url)
        except Exception as error:
            self.post_message(self.Loaded(None, error))
            return
        self.post_message(self.Loaded(report))

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        text = self.query_one("#drift-text", Static)
        tree = self.query_one(Tree)
        tree.clear()
        self.query_one("#drift").set_class(False, "-drifted")
        if message.report is None:
            assert message.error is not None
            if isinstance(message.error, UsageError):
                text.update(Content.from_markup("[$text-muted]$problem[/]", problem=error_text(message.error)))
            else:
                text.update(Content.from_markup("[$text-error b]✗ $problem[/]", problem=error_text(message.error)))
            return
        report = message.report
        if not report.recorded:
            text.update(Content.from_markup("[$text-muted]$text[/]", text=report.describe().capitalize() + "."))
            return
        if not report.drifted:
            accepted = f" ({plural(len(report.differences), 'accepted difference')})" if report.differences else ""
            text.update(
                Content.from_markup(
                    "[$text-success b]✓ No drift:[/] the database matches what version $version recorded$accepted.",
                    version=report.version,
                    accepted=accepted,
                )
            )
        else:
            self.query_one("#drift").add_class("-drifted")
            tables = {d.table for d in report.differences}
            text.update(
                Content.from_markup(
                    "[$text-error b]Drift since version $version:[/] $count in $tables.",
                    version=report.version,
                    count=plural(len(report.differences), "difference"),
                    tables=plural(len(tables), "table"),
                )
            )
            if not report.differences:
                tree.root.add_leaf(Text("the catalog fingerprint differs, but no difference can be named"))
        ordered = sorted(report.differences, key=lambda d: d.table)
        for table, differences in groupby(ordered, key=lambda d: d.table):
            found = list(differences)
            node = tree.root.add(
                Text.assemble((table or "(database-wide)", "bold"), f"  {plural(len(found), 'difference')}"),
                expand=True,
            )
            for difference in found:
                node.add_leaf(
                    Text.assemble((f"{difference.kind:<8}", KIND_STYLES.get(difference.kind, "")), difference.detail)
                )
        tree.focus()

    def action_refresh(self) -> None:
        self.load()
