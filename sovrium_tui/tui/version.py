"""One recorded version: its schema snapshot as a tree of tables and fields, and the steps that made it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.content import Content
from textual.widgets import DataTable, Footer, Header, Static, Tree

from sovrium_tui.execution.store import HistoryEntry
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import hazard_text, plural, short, when
from sovrium_tui.tui.session import Session

_FLAGS = ("required", "unique", "indexed")


def field_label(field: dict[str, Any]) -> Text:
    """`name  type · required · default x` for one field of a snapshot."""
    flags = [flag for flag in _FLAGS if field.get(flag) is True]
    if "default" in field:
        flags.append(f"default {field['default']}")
    extra = " · ".join(flags)
    return Text.assemble(
        (str(field.get("name", "?")), "bold"),
        "  ",
        (str(field.get("type", "?")), "cyan"),
        (f" · {extra}" if extra else "", "dim"),
    )


class VersionScreen(InnerScreen):
    """A version as recorded when it was applied (the snapshot and steps live in the database, not in files)."""

    HELP = (
        "One version as the database recorded it when it was applied: the complete schema snapshot (tables and "
        "their fields) and the steps that were run, with their hazards. Tab moves between the tree and the steps."
    )

    def __init__(self, session: Session, entry: HistoryEntry) -> None:
        super().__init__(session)
        self.entry = entry

    def compose(self) -> ComposeResult:
        entry = self.entry
        yield Header()
        with Vertical(id="version-header", classes="panel") as header:
            header.border_title = f"Version {entry.version}"
            yield Static(self._header(), id="version-text")
        with Container(id="version-body"):
            with Vertical(id="snapshot", classes="panel") as snapshot:
                snapshot.border_title = "Schema snapshot"
                yield Tree[None](Text(str(entry.schema.get("name", "app"))), id="snapshot-tree")
            with Vertical(id="version-steps", classes="panel") as steps:
                steps.border_title = "Steps"
                yield DataTable[Text](id="version-steps-table", cursor_type="row")
        yield Footer(compact=True, show_command_palette=False)

    def _header(self) -> Content:
        entry = self.entry
        rolled_back = (
            Content.from_markup(
                "\n[$text-warning]rolled back $at UTC: $reason[/]",
                at=when(entry.rolled_back_at),
                reason=entry.rollback_reason or "no reason recorded",
            )
            if entry.rolled_back_at
            else Content("")
        )
        state = "[$text-success b]applied[/]" if entry.rolled_back_at is None else "[$text-warning b]rolled back[/] ·"
        return Content.assemble(
            Content.from_markup(
                f"[b]$summary[/b]\n{state} $at UTC by $by · checksum $checksum",
                summary=str(entry.plan.get("summary", "")),
                at=when(entry.applied_at),
                by=entry.applied_by,
                checksum=short(entry.checksum),
            ),
            rolled_back,
        )

    def on_mount(self) -> None:
        self.sub_title = f"Version {self.entry.version}"
        tree = self.query_one("#snapshot-tree", Tree)
        tables = self.entry.schema.get("tables", [])
        tree.root.set_label(
            Text.assemble((str(self.entry.schema.get("name", "app")), "bold"), f" ({plural(len(tables), 'table')})")
        )
        for table in tables:
            fields = table.get("fields", [])
            node = tree.root.add(
                Text.assemble((str(table.get("name", "?")), "bold"), f" ({plural(len(fields), 'field')})"),
                expand=True,
            )
            for field in fields:
                node.add_leaf(field_label(field))
        tree.root.expand()
        if not tables:
            tree.root.add_leaf(Text("no tables", style="dim"))
        steps = self.query_one("#version-steps-table", DataTable)
        steps.add_column("#")
        steps.add_column("Hazards")
        steps.add_column("Summary")
        steps.add_column("Op")
        steps.add_column("Target")
        for step in self.entry.plan.get("steps", []):
            steps.add_row(
                Text(str(step.get("id", "")), justify="right"),
                hazard_text(tuple(step.get("hazards", ()))),
                Text(str(step.get("summary", ""))),
                Text(str(step.get("op", ""))),
                Text(str(step.get("target", ""))),
            )
        tree.focus()
