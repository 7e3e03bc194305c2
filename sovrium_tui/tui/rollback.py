"""Rollback: pick a target version, preview the reverse steps (from a dry run: what would run, what it would
destroy, what it cannot bring back), give a reason, confirm (typed when data would be lost), run."""

from __future__ import annotations

import re
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Label, OptionList
from textual.widgets.option_list import Option

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused
from sovrium_tui.execution.events import Event, LockWaiting, StepStarted, TableLockWaiting
from sovrium_tui.execution.executor import RollbackResult
from sovrium_tui.execution.store import HistoryEntry
from sovrium_tui.text import plural
from sovrium_tui.tui.apply import bullet_list, losses_in
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import error_text, markup, plain
from sovrium_tui.tui.history import HistoryScreen
from sovrium_tui.tui.modals import CONFIRM_WORD, ConfirmModal, TypedConfirmModal
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import Activity, Panel, RunProgress, SqlView, TextView, lock_wait_text

_RECORDED_STEP = re.compile(r"^undoing version (\d+) step (\d+): (.*)$", re.DOTALL)
_PLANNED_STEP = re.compile(r"^planned back to version \d+: (.*)$", re.DOTALL)


def step_words(number: int, summary: str) -> tuple[str, str, bool]:
    """A dry-run step as the table shows it: its label (`v3·2`), what it does, and whether it was planned from
    the snapshots (across accepted drift) rather than recorded."""
    if recorded := _RECORDED_STEP.match(summary):
        return f"v{recorded.group(1)}·{recorded.group(2)}", f"undo: {recorded.group(3)}", False
    if planned := _PLANNED_STEP.match(summary):
        return str(number), planned.group(1), True
    return str(number), summary, False


class RollbackScreen(InnerScreen):
    """Reverses every applied version above the chosen target in one transaction, from the recorded reverse SQL."""

    NAME = "Roll back"
    HELP = (
        "Roll the database back to an earlier version using the reverse SQL recorded when each version was "
        "applied (or, across drift accepted since, steps planned from the recorded snapshots). Pick the target "
        "on the left: a dry run shows the steps that would run, the data they would destroy and the values they "
        "cannot bring back. Press enter to move to the reason (it is kept in the audit log), type it and press "
        "enter (or ctrl+r from anywhere on this screen). A rollback that destroys data needs the typed "
        "confirmation word. f shows the focused panel full-screen."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "rollback", "Roll back", priority=True),
        Binding("h", "history", "History"),
    ]

    class Loaded(Message):
        def __init__(self, report: services.HistoryReport) -> None:
            super().__init__()
            self.report = report

    class Previewed(Message):
        """The dry run for `target`: what would run and be lost, whether that needs force, or why it cannot run."""

        def __init__(
            self,
            target: int,
            losses: tuple[str, ...],
            needs_force: bool,
            result: RollbackResult | None = None,
            error: Exception | None = None,
        ) -> None:
            super().__init__()
            self.target = target
            self.losses = losses
            self.needs_force = needs_force
            self.result = result
            self.error = error

    class Progress(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class Finished(Message):
        def __init__(self, result: RollbackResult) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.entries: tuple[HistoryEntry, ...] = ()
        self.applied: dict[int, HistoryEntry] = {}
        self.current = 0
        self.target: int | None = None
        self.preview: RollbackScreen.Previewed | None = None
        self.phase = "loading"  # → choosing → running → done | failed
        self.statements: dict[str, tuple[str, ...]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="rollback-top"):
            with Panel(title="Roll back to", id="targets"):
                yield OptionList(id="target-list", compact=True)
            with Panel(title="What would be lost", id="rollback-status"):
                yield Activity(id="rollback-activity")
                yield TextView(markup("[$text-muted]Reading the history…[/]"), id="rollback-text")
        with Horizontal(id="reason-row"):
            yield Label("Reason ", id="reason-label")
            yield Input(placeholder="why (kept in the audit log), then enter", id="reason", compact=True)
        with Panel(title="Reverse steps", id="reverse-steps"):
            yield RunProgress(per_plan=False, id="progress")
        with Panel(title="Reverse SQL", id="reverse-sql-panel"):
            yield SqlView(id="rollback-sql")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#rollback-activity", Activity).start("Reading the history…")
        self.load_history()

    @work(exclusive=True, group="history", exit_on_error=False)
    async def load_history(self) -> None:
        try:
            report = await services.history(database_url=self.session.database_url)
        except Exception as error:
            self.post_message(self.Failed(error))
            return
        self.post_message(self.Loaded(report))

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        self.query_one("#rollback-activity", Activity).stop()
        self.entries = message.report.entries
        self.applied = {e.version: e for e in message.report.entries if e.rolled_back_at is None}
        self.current = max(self.applied, default=0)
        targets = self.query_one("#target-list", OptionList)
        targets.clear_options()
        if not self.current:
            self._phase("failed")
            self.query_one("#rollback-status").border_title = "Nothing to roll back"
            self._status("No applied version is recorded in this database.")
            return
        for version in sorted((v for v in self.applied if v < self.current), reverse=True):
            entry = self.applied[version]
            label = f"version {version} · {entry.plan.get('summary', '')}"
            targets.add_option(Option(plain(label), id=str(version)))
        targets.add_option(Option("version 0 · before the first migration", id="0"))
        self.query_one("#targets").border_subtitle = f"now at version {self.current}"
        self._phase("choosing")
        targets.highlighted = 0
        targets.focus()

    # --- preview -------------------------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#target-list")
    def target_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.phase != "choosing" or event.option.id is None:
            return
        self.target = int(event.option.id)
        self.preview = None
        self._fill_recorded_steps(self.target)
        self._status("")
        self.query_one("#rollback-status").border_title = "What would be lost"
        self.query_one("#rollback-activity", Activity).start("Dry run: what this rollback would run and destroy…")
        self.check_rollback(self.target)

    @on(OptionList.OptionSelected, "#target-list")
    def target_chosen(self) -> None:
        self.query_one("#reason", Input).focus()

    def _fill_recorded_steps(self, target: int) -> None:
        """The recorded steps of every version above the target, newest first: shown until the dry run says."""
        progress = self.query_one(RunProgress)
        progress.reset()
        self.statements.clear()
        number = 0
        for version in sorted((v for v in self.applied if target < v <= self.current), reverse=True):
            steps = self.applied[version].plan.get("steps", [])
            for step in reversed(steps if isinstance(steps, list) else []):
                number += 1
                label = f"v{version}·{step.get('id', '?')}"
                progress.expect(number, label, f"undo: {step.get('summary', '')}")
                self.statements[str(number)] = tuple(str(s) for s in step.get("reverse", ()))
        self._steps_shown(number, "recorded")

    def _fill_planned_steps(self, result: RollbackResult) -> None:
        """The steps the dry run ran: the recorded ones, or steps planned from the snapshots across drift."""
        progress = self.query_one(RunProgress)
        progress.reset()
        self.statements.clear()
        planned = False
        for step in result.steps:
            label, what, from_snapshots = step_words(step.id, step.summary)
            planned = planned or from_snapshots
            progress.expect(step.id, label, what)
            self.statements[str(step.id)] = step.statements
        source = "planned from the snapshots (drift was accepted)" if planned else "checked by the dry run"
        self._steps_shown(len(result.steps), source)

    def _steps_shown(self, count: int, source: str) -> None:
        self.query_one("#reverse-steps").border_subtitle = f"{plural(count, 'step')}, {source}"
        if count:
            self.query_one(RunProgress).move_cursor(row=0)
            self._show_sql("1")
        else:
            self.query_one("#rollback-sql", SqlView).show_sql(())

    @on(DataTable.RowHighlighted, "#progress")
    def reverse_step_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show_sql(event.row_key.value)

    def _show_sql(self, key: str) -> None:
        self.query_one("#rollback-sql", SqlView).show_sql(self.statements.get(key, ()))

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def check_rollback(self, target: int) -> None:
        try:
            result = await services.rollback(
                to_version=target, dry_run=True, database_url=self.session.database_url, reporter=self._report
            )
        except DestructiveRefused as refusal:
            planned: RollbackResult | None = None
            try:  # run it again allowing the loss, to show the steps that would run
                planned = await services.rollback(
                    to_version=target, force=True, dry_run=True, database_url=self.session.database_url
                )
            except Exception:
                planned = None  # the refusal is what matters; the recorded steps stay shown
            self.post_message(self.Previewed(target, losses_in(refusal), needs_force=True, result=planned))
        except Exception as error:
            self.post_message(self.Previewed(target, (), needs_force=False, error=error))
        else:
            self.post_message(self.Previewed(target, result.data_loss, needs_force=False, result=result))

    @on(Previewed)
    def previewed(self, message: Previewed) -> None:
        if message.target != self.target or self.phase != "choosing":
            return
        self.query_one("#rollback-activity", Activity).stop()
        self.preview = message
        status = self.query_one("#rollback-status")
        if message.result is not None:
            self._fill_planned_steps(message.result)
        not_restored = services.values_not_restored(self.entries, current=self.current, target=message.target)
        kept = (
            Content.assemble(markup("\n[$text-warning b]Not brought back:[/]\n"), bullet_list(not_restored))
            if not_restored
            else Content("")
        )
        if message.error is not None:
            status.border_title = "Cannot roll back"
            self._status("[$text-error b]✗ $problem[/]", problem=error_text(message.error))
        elif message.losses:
            status.border_title = "What would be lost"
            self.query_one("#rollback-text", TextView).show(
                Content.assemble(
                    markup("[$text-error b]Destroys data (needs the typed word):[/]\n"),
                    bullet_list(message.losses),
                    kept,
                )
            )
        else:
            status.border_title = "What would be lost"
            self.query_one("#rollback-text", TextView).show(
                Content.assemble(markup("[$text-success]Nothing: no value would be destroyed.[/]"), kept)
            )

    # --- running -------------------------------------------------------------------------------------------

    @on(Input.Submitted, "#reason")
    def reason_given(self) -> None:
        self.action_rollback()

    def action_rollback(self) -> None:
        if self.phase != "choosing" or self.target is None:
            return
        if self.preview is None or self.preview.target != self.target:
            self.notify("Still checking what this rollback would destroy…", severity="warning")
            return
        if self.preview.error is not None:
            self.notify(error_text(self.preview.error), title="Cannot roll back", severity="error", markup=False)
            return
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.notify("Give a reason first: it is kept in the audit log.", title="Reason", severity="warning")
            self.query_one("#reason", Input).focus()
            return
        versions = [v for v in self.applied if self.target < v <= self.current]
        what = markup(
            "Roll back from version [b]$current[/b] to version [b]$target[/b] on [b]$database[/b]: undo $versions "
            "in one transaction, with the reason “$reason”.",
            current=self.current,
            target=self.target,
            database=self.session.database_label,
            versions=plural(len(versions), "version"),
            reason=reason,
        )
        not_restored = services.values_not_restored(self.entries, current=self.current, target=self.target)
        kept = (
            Content.assemble(markup("\n\n[$text-warning b]Not brought back:[/]\n"), bullet_list(not_restored))
            if not_restored
            else Content("")
        )
        if self.preview.needs_force:
            body = Content.assemble(
                what,
                markup("\n\n[$text-error b]This destroys data:[/]\n"),
                bullet_list(self.preview.losses),
                kept,
            )
            self.app.push_screen(
                TypedConfirmModal("Roll back and destroy data?", body, word=CONFIRM_WORD), self._confirmed
            )
        else:
            body = Content.assemble(what, kept)
            self.app.push_screen(ConfirmModal("Roll back?", body, confirm_label="Roll back"), self._confirmed)

    def _confirmed(self, confirmed: bool | None) -> None:
        if not confirmed or self.target is None or self.preview is None:
            return
        self._phase("running")
        status = self.query_one("#rollback-status")
        status.border_title = "Result"
        self._status("")
        self.query_one("#rollback-activity", Activity).start(f"Rolling back to version {self.target}…")
        self.query_one(RunProgress).focus()
        self.run_rollback(self.target, self.query_one("#reason", Input).value.strip(), self.preview.needs_force)

    @work(exclusive=True, group="rollback", exit_on_error=False)
    async def run_rollback(self, target: int, reason: str, force: bool) -> None:
        try:
            result = await services.rollback(
                to_version=target,
                force=force,
                reason=reason,
                database_url=self.session.database_url,
                reporter=self._report,
            )
        except Exception as error:
            self.post_message(self.Failed(error))
            return
        self.post_message(self.Finished(result))

    def _report(self, event: Event) -> None:
        self.post_message(self.Progress(event))

    @on(Progress)
    def progressed(self, message: Progress) -> None:
        event = message.event
        activity = self.query_one("#rollback-activity", Activity)
        if self.phase == "running":
            self.query_one(RunProgress).apply_event(event)
        match event:
            case LockWaiting() | TableLockWaiting():
                activity.explain(lock_wait_text(event))
            case StepStarted():
                activity.explain(None)
            case _:
                pass

    @on(Finished)
    def finished(self, message: Finished) -> None:
        self.query_one("#rollback-activity", Activity).stop()
        self._phase("done")
        result = message.result
        self.query_one("#targets").border_subtitle = f"now at version {result.to_version}"
        lines = [
            markup(
                "[$text-success b]✓ Rolled back to version $to[/] from $frm ($steps, $ms ms).",
                to=result.to_version,
                frm=result.from_version,
                steps=plural(len(result.steps), "step"),
                ms=result.elapsed_ms,
            )
        ]
        if result.data_loss:
            lines.append(markup("[$text-error b]Destroyed:[/]"))
            lines.append(bullet_list(result.data_loss))
        lines.append(markup("[$text-muted]escape returns · h shows the history · arrows scroll[/]"))
        self.query_one("#rollback-text", TextView).show(Content("\n").join(lines))

    @on(Failed)
    def failed(self, message: Failed) -> None:
        self.query_one("#rollback-activity", Activity).stop()
        was_running = self.phase == "running"
        self._phase("failed")
        self.query_one("#rollback-status").border_title = "Result" if was_running else "Cannot roll back"
        unchanged = "\nThe transaction was rolled back: nothing was changed." if was_running else ""
        self._status(
            "[$text-error b]✗ $problem[/][b]$unchanged[/]", problem=error_text(message.error), unchanged=unchanged
        )

    # --- state ---------------------------------------------------------------------------------------------

    def _phase(self, phase: str) -> None:
        self.phase = phase
        self.query_one("#reason", Input).disabled = phase != "choosing"
        self.query_one("#target-list", OptionList).disabled = phase != "choosing"
        self.refresh_bindings()

    def _status(self, template: str, **values: object) -> None:
        self.query_one("#rollback-text", TextView).show(markup(template, **values))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.phase != "running"
        if action == "rollback":
            return self.phase == "choosing"
        if action == "history":
            return self.phase in ("done", "failed")
        return True

    def action_history(self) -> None:
        self.app.switch_screen(HistoryScreen(self.session))
