"""Widgets more than one screen uses: panels that open full-screen, scrollable text and SQL, tables whose home
and end keys move between rows, a spinner for every wait, and the per-step progress of an apply or rollback."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text, TextType
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.render import measure
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowKey

from sovrium_tui.execution.events import (
    Event,
    LockWaiting,
    PlanRolledBack,
    PlanStarted,
    StepFailed,
    StepFinished,
    StepStarted,
    TableLockWaiting,
)
from sovrium_tui.tui.fmt import cell, markup, plain, safe, state_text

FULL_SCREEN = Binding("f", "screen.maximize", "Full screen", show=False)


class Panel(Vertical):
    """A bordered, titled part of a screen; `f` on what is focused inside it opens it full-screen (escape closes)."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, title: str = "", id: str | None = None, classes: str = "") -> None:
        super().__init__(id=id, classes=f"panel {classes}".strip())
        self.border_title = plain(title)


class TextView(VerticalScroll, can_focus=True):
    """Read-only text that scrolls with the arrow keys when focused; `f` shows its panel full-screen."""

    ALLOW_MAXIMIZE = True
    BINDINGS: ClassVar[list[BindingType]] = [FULL_SCREEN]

    def __init__(self, content: Content | str = "", *, id: str | None = None, classes: str = "") -> None:
        super().__init__(id=id, classes=classes)
        self._initial = content

    def compose(self) -> ComposeResult:
        yield Static(self._initial, classes="text-view-body")

    def show(self, content: Content | str) -> None:
        """Replace the text (never read as markup: build `Content` with values for anything from outside)."""
        body = self.query_one(".text-view-body", Static)
        body.update(content if isinstance(content, Content) else plain(content))
        self.scroll_home(animate=False)

    @property
    def text(self) -> str:
        return str(self.query_one(".text-view-body", Static).render())


class SqlView(TextView):
    """Read-only SQL with PostgreSQL syntax highlighting in the theme's colours."""

    def show_sql(self, statements: Sequence[str], *, empty: str = "(no SQL)") -> None:
        text = "\n\n".join(_terminated(safe(statement)) for statement in statements)
        self.show(highlight(text, language="postgresql") if statements else Content.styled(empty, "$text-muted"))


def _terminated(statement: str) -> str:
    """A statement ending in `;` (a line that is only a comment, a heading between statements, stays as is)."""
    text = statement.rstrip()
    if text.startswith("--") and "\n" not in text:
        return text
    return text.rstrip(";") + ";"


class RowTable(DataTable[Text]):
    """A table of rows: home and end go to the first and last row (not sideways); `f` opens it full-screen."""

    ALLOW_MAXIMIZE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
        FULL_SCREEN,
    ]

    def add_row(
        self, *cells: Text, height: int | None = 1, key: str | None = None, label: TextType | None = None
    ) -> RowKey:
        """Add a row and widen its auto-width columns to fit it now.

        DataTable widens them later, when it is idle; the test suite twice caught a screen whose log kept a column
        at its header's width although the table was settled and its rows were in, so the width no longer waits.
        """
        row_key = super().add_row(*cells, height=height, key=key, label=label)
        for column, content in zip(self.ordered_columns, cells, strict=False):
            if column.auto_width:
                column.content_width = max(column.content_width, measure(self.app.console, content, 1))
        return row_key

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


class Activity(Static):
    """What the screen waits for, with a spinner and the seconds it has taken; hidden when nothing is waited for.

    `clock` is what tests freeze, so a snapshot never depends on timing.
    """

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    clock: ClassVar[Callable[[], float]] = time.monotonic

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, classes="activity")
        self.label = ""
        self.detail: Content | None = None
        self.started = 0.0
        self._timer: Timer | None = None

    @property
    def busy(self) -> bool:
        return self._timer is not None

    def start(self, label: str) -> None:
        """Begin (or rename) a wait; the elapsed time counts from the first start until `stop`."""
        if self._timer is None:
            self.started = Activity.clock()
            self._timer = self.set_interval(0.1, self._tick)
        self.label = label
        self.detail = None
        self.display = True
        self._tick()

    def explain(self, detail: Content | None) -> None:
        """A second part below the label: who blocks the wait and how long is left, say."""
        self.detail = detail
        self._tick()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.display = False

    def _tick(self) -> None:
        elapsed = max(0.0, Activity.clock() - self.started)
        frame = self.FRAMES[int(elapsed * 10) % len(self.FRAMES)]
        line = Content.assemble((frame, "bold $accent"), " ", plain(self.label), (f" · {elapsed:.0f} s", "$text-muted"))
        self.update(line if self.detail is None else Content("\n").join([line, self.detail]))


def lock_wait_text(event: Event) -> Content | None:
    """What a run waits for, as an Activity explains it: the migration lock and who holds it, or a table lock with
    who blocks it, for how long it has waited and how long is left before lock_timeout gives up; None for other
    events."""
    if isinstance(event, LockWaiting):
        return markup("[$text-warning b]Waiting for the migration lock[/], held by $holder", holder=event.holder)
    if not isinstance(event, TableLockWaiting):
        return None
    left = event.seconds_left
    limit = (
        f"gives up in {left:.0f} s (lock_timeout {event.limit})" if left is not None else "waits without a time limit"
    )
    return markup(
        "[$text-warning b]$what waits for a lock[/] ($waited s, $limit):\n$holders",
        what=event.what[:1].upper() + event.what[1:],
        waited=f"{event.waited_s:.0f}",
        limit=limit,
        holders=event.holders,
    )


class RunProgress(RowTable):
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
        self.add_row(cell(label), state_text("pending"), Text(""), cell(summary), key=key)
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
            case StepFinished(step_id=step_id, elapsed_ms=elapsed_ms, sent_with=sent_with):
                took = f"{elapsed_ms} ms" if sent_with is None else f"with #{sent_with}"  # sent in its round trip
                self._mark(self._key(step_id, self._plan), "done", took)
            case StepFailed(step_id=step_id):
                self._mark(self._key(step_id, self._plan), "failed")
            case PlanRolledBack(outcome=outcome) if outcome != "dry-run":
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
            self.update_cell(key, "time", cell(elapsed, justify="right"))

    def _key(self, step_id: int, plan: int | None) -> str:
        return f"{plan}:{step_id}" if self._per_plan else str(step_id)
