"""One recorded version: its state (applied, or rolled back when and why), its schema snapshot as a tree of
tables and fields, and the steps that made it with their forward and reverse SQL."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.widgets import DataTable, Footer, Header, Tree

from sovrium_tui.execution.store import HistoryEntry
from sovrium_tui.text import plural
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import cell, hazard_text, markup, plain, safe, short, when
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import Panel, RowTable, SqlView, TextView

_FLAGS = ("required", "unique", "indexed")


def field_label(field: dict[str, Any]) -> Text:
    """`name  type · required · default x` for one field of a snapshot."""
    flags = [flag for flag in _FLAGS if field.get(flag) is True]
    if "default" in field:
        flags.append(f"default {field['default']}")
    extra = " · ".join(flags)
    return Text.assemble(
        (safe(field.get("name", "?")), "bold"),
        "  ",
        (safe(field.get("type", "?")), "cyan"),
        (f" · {safe(extra)}" if extra else "", "dim"),
    )


class VersionScreen(InnerScreen):
    """A version as recorded when it was applied (the snapshot and steps live in the database, not in files)."""

    HELP = (
        "One version as the database recorded it when it was applied: whether it is still applied or was rolled "
        "back (when, and why), the complete schema snapshot (tables and their fields) and the steps that were "
        "run, with their hazards and the highlighted step's forward and reverse SQL. Tab moves between the "
        "tree, the steps and the SQL; f shows the focused panel full-screen."
    )

    def __init__(self, session: Session, entry: HistoryEntry) -> None:
        super().__init__(session)
        self.entry = entry
        self.screen_name = f"Version {entry.version}"
        steps = entry.plan.get("steps", [])
        self.steps: list[dict[str, Any]] = [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []

    def compose(self) -> ComposeResult:
        entry = self.entry
        yield Header()
        title = f"Version {entry.version}" + (" · ROLLED BACK" if entry.rolled_back_at else "")
        with Panel(title=title, id="version-header", classes="-rolled-back" if entry.rolled_back_at else ""):
            yield TextView(self._header(), id="version-text")
        with Container(id="version-body"):
            with Panel(title="Schema snapshot", id="snapshot"):
                yield Tree[None](cell(str(entry.schema.get("name", "app"))), id="snapshot-tree")
            with Panel(title="Steps", id="version-steps"):
                yield RowTable(id="version-steps-table", cursor_type="row")
        with Panel(title="SQL", id="version-sql"):
            yield SqlView(id="version-sql-text")
        yield Footer(compact=True, show_command_palette=False)

    def _header(self) -> Content:
        entry = self.entry
        lines = []
        if entry.rolled_back_at:
            lines.append(
                markup(
                    "[$text-warning b]Rolled back $at UTC:[/] $reason",
                    at=when(entry.rolled_back_at),
                    reason=entry.rollback_reason or "no reason recorded",
                )
            )
        lines.append(markup("[b]$summary[/b]", summary=str(entry.plan.get("summary", ""))))
        state = "[$text-success b]applied[/]" if entry.rolled_back_at is None else "[$text-muted]was applied[/]"
        lines.append(
            markup(
                f"{state} $at UTC by $by · checksum $checksum",
                at=when(entry.applied_at),
                by=entry.applied_by,
                checksum=short(entry.checksum),
            )
        )
        return Content("\n").join(lines)

    def on_mount(self) -> None:
        tree = self.query_one("#snapshot-tree", Tree)
        tables = self.entry.schema.get("tables", [])
        tree.root.set_label(
            Text.assemble((safe(self.entry.schema.get("name", "app")), "bold"), f" ({plural(len(tables), 'table')})")
        )
        for table in tables:
            fields = table.get("fields", [])
            node = tree.root.add(
                Text.assemble((safe(table.get("name", "?")), "bold"), f" ({plural(len(fields), 'field')})"),
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
        for number, step in enumerate(self.steps):
            steps.add_row(
                cell(str(step.get("id", "")), justify="right"),
                hazard_text(tuple(step.get("hazards", ()))),
                cell(str(step.get("summary", ""))),
                cell(str(step.get("op", ""))),
                key=str(number),
            )
        self.query_one("#version-steps").border_subtitle = plural(len(self.steps), "step")
        if not self.steps:
            why = "Sovrium recorded this version without steps" if not self.entry.has_steps else "no steps"
            self.query_one("#version-sql-text", SqlView).show_sql((), empty=f"(no SQL: {why})")
        tree.focus()

    @on(DataTable.RowHighlighted, "#version-steps-table")
    def step_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        step = self.steps[int(event.row_key.value)]
        forward = [str(s) for s in step.get("forward", ())]
        reverse = [str(s) for s in step.get("reverse", ())]
        panel = self.query_one("#version-sql")
        panel.border_title = plain(
            " · ".join([f"SQL · step {step.get('id', '?')}", *map(str, step.get("hazards", ()))])
        )
        panel.border_subtitle = plain(step.get("summary", ""))
        statements = ["-- forward (what apply ran)", *forward, "-- reverse (what a rollback runs)", *reverse]
        self.query_one("#version-sql-text", SqlView).show_sql(statements)
