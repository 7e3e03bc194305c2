"""Widgets more than one screen uses: highlighted SQL, and the per-step progress of an apply or a rollback."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import DataTable, Static

from sovrium_tui.execution.events import (
    Event,
    PlanRolledBack,
    PlanStarted,
    StepFailed,
    StepFinished,
    StepStarted,
)
from sovrium_tui.tui.fmt import state_text


class SqlView(VerticalScroll, can_focus=True):
    """Read-only SQL with PostgreSQL syntax highlighting in the theme's colours; scrolls when focused."""

    def compose(self) -> ComposeResult:
        yield Static(classes="sql-text")

    def show(self, statements: Sequence[str], *, empty: str = "(no SQL)") -> None:
        text = "\n\n".join(statement.rstrip().rstrip(";") + ";" for statement in statements)
        body = highlight(text, language="postgresql") if statements else Content.styled(empty, "$text-muted")
        self.query_one(".sql-text", Static).update(body)
        self.scroll_home(animate=False)


class RunProgress(DataTable[Text]):
    """One row per step: pending → running → done / failed (with timings), fed by the executor's events.

    With `per_plan` the rows are keyed by (plan version, step id), since an apply runs several plans whose
    step ids restart at 1; a rollback numbers its reverse steps across versions, so the id alone is the key.
    """

    def __init__(self, *, per_plan: bool, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._per_plan = per_plan
        self._plan: int | None = None
        self._rows_of_plan: dict[int | None, list[str]] = {}
        self._states: dict[str, str] = {}

    def on_mount(self) -> None:
        self.add_column("Step", key="step")
        self.add_column("State", key="state", width=9)
        self.add_column("Time", key="time", width=8)
        self.add_column("What", key="what")

    def expect(self, step_id: int, label: str, summary: str, *, plan: int | None = None) -> None:
        """Show a step that will run, as pending."""
        key = self._key(step_id, plan)
        if key in self._states:
            return
        self.add_row(Text(label), state_text("pending"), Text(""), Text(summary), key=key)
        self._rows_of_plan.setdefault(plan if self._per_plan else None, []).append(key)
        self._states[key] = "pending"

    def reset(self) -> None:
        """Forget every row (a new preview)."""
        self.clear()
        self._plan = None
        self._rows_of_plan.clear()
        self._states.clear()

    def apply_event(self, event: Event) -> None:
        """Move the rows along as the executor reports; other events are for the screen."""
        match event:
            case PlanStarted(version=version):
                self._plan = version
            case StepStarted(step_id=step_id, summary=summary):
                key = self._key(step_id, self._plan)
                if key not in self._states:
                    self.expect(step_id, str(step_id), summary, plan=self._plan)
                self._mark(key, "running")
                self.move_cursor(row=self.get_row_index(key))
            case StepFinished(step_id=step_id, elapsed_ms=elapsed_ms):
                self._mark(self._key(step_id, self._plan), "done", f"{elapsed_ms} ms")
            case StepFailed(step_id=step_id):
                self._mark(self._key(step_id, self._plan), "failed")
            case PlanRolledBack(reason=reason) if not reason.startswith("dry run"):
                self._undo_current_plan()
            case _:
                pass

    def _undo_current_plan(self) -> None:
        """The transaction rolled back: steps that ran are undone, steps that did not will never run."""
        for key in self._rows_of_plan.get(self._plan if self._per_plan else None, []):
            state = self._states[key]
            if state == "done":
                self._mark(key, "undone")
            elif state in ("pending", "running"):
                self._mark(key, "not run")

    def _mark(self, key: str, state: str, elapsed: str | None = None) -> None:
        if key not in self._states:
            return
        self._states[key] = state
        self.update_cell(key, "state", state_text(state))
        if elapsed is not None:
            self.update_cell(key, "time", Text(elapsed, justify="right"))

    def _key(self, step_id: int, plan: int | None) -> str:
        return f"{plan}:{step_id}" if self._per_plan else str(step_id)
