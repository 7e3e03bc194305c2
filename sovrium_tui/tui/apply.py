"""Apply: say what will happen, dry-run every plan (so a failure or a loss shows before anyone confirms),
confirm (typed when data would be lost), then show each step live, every wait with who causes it, and the
result."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import Footer, Header

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused
from sovrium_tui.execution.events import (
    Event,
    LockWaiting,
    PlanFinished,
    PlanStarted,
    StepFinished,
    StepStarted,
    TableLockWaiting,
)
from sovrium_tui.planning.plan import Plan
from sovrium_tui.text import plural
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import error_text, markup
from sovrium_tui.tui.history import HistoryScreen
from sovrium_tui.tui.modals import CONFIRM_WORD, ConfirmModal, TypedConfirmModal
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import Activity, Panel, RunProgress, TextView, lock_wait_text


def losses_in(refusal: DestructiveRefused) -> tuple[str, ...]:
    """The data a refusal names ("step 2 drops column users.nickname (3 non-null values)"), one per item."""
    return refusal.losses or (refusal.message,)


def bullet_list(lines: tuple[str, ...] | list[str]) -> Content:
    return Content("\n").join(markup("  • $line", line=line) for line in lines)


class ApplyScreen(InnerScreen):
    """Applies one plan file, or every pending plan of the directory (`target=None`), each as one transaction."""

    NAME = "Apply"
    HELP = (
        "Applying plans. First a dry run runs every plan (each on top of the ones before it) and rolls back, so "
        "a step that would fail on existing rows, a verification failure or the data a step would destroy show "
        "before you confirm. Then each plan runs as one transaction: if any step fails, the database is rolled "
        "back to exactly what it was. A plan that destroys data is applied only after you type the confirmation "
        "word. While a statement waits for another session's lock, the screen names that session and how long "
        "is left. The screen cannot be left while a plan runs. f shows the focused panel full-screen."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "history", "History"),
    ]

    class Checked(Message):
        """The dry run finished: what each plan would do, or why it could not run at all."""

        def __init__(self, preflight: services.Preflight | None, error: Exception | None = None) -> None:
            super().__init__()
            self.preflight = preflight
            self.error = error

    class Progress(Message):
        def __init__(self, event: Event, *, dry_run: bool) -> None:
            super().__init__()
            self.event = event
            self.dry_run = dry_run

    class Finished(Message):
        def __init__(self, outcome: services.ApplyOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    class Failed(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def __init__(self, session: Session, plans: tuple[tuple[str, Plan], ...], *, target: str | None) -> None:
        super().__init__(session)
        self.plans = plans
        self.target = target
        self.phase = "checking"  # → confirming → running → done | failed
        self.committed: list[int] = []
        self.started = False  # a plan's transaction began (a failure before that changed nothing either)
        self.allow_destructive = False  # set when the typed confirmation is asked for and given
        self.preflight: services.Preflight | None = None
        self.running_version: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Panel(title="What will happen", id="apply-what"):
            yield TextView(self._what_will_happen(), id="apply-what-text")
        with Panel(title="Result", id="apply-result"):
            yield Activity(id="apply-activity")
            yield TextView(id="result-text")
        with Panel(title="Steps", id="apply-steps"):
            yield RunProgress(per_plan=True, id="progress")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        progress = self.query_one(RunProgress)
        several = len(self.plans) > 1
        for _, plan in self.plans:
            for step in plan.steps:
                label = f"v{plan.version}·{step.id}" if several else str(step.id)
                progress.expect(step.id, label, step.summary, plan=plan.version)
        self.query_one("#apply-steps").border_subtitle = plural(progress.row_count, "step")
        progress.focus()
        self._activity(f"Dry run of {plural(len(self.plans), 'plan')}: every check and step, then rolled back…")
        self._result("[$text-muted]Nothing is changed until you confirm.[/]")
        self.check_plans()

    def _what_will_happen(self) -> Content:
        versions = ", ".join(str(plan.version) for _, plan in self.plans)
        steps = sum(len(plan.steps) for _, plan in self.plans)
        if len(self.plans) == 1:
            subject = markup(
                "Apply version [b]$version[/b] ($summary)", version=versions, summary=self.plans[0][1].summary
            )
        else:
            subject = markup("Apply versions [b]$versions[/b] in order", versions=versions)
        each = "one transaction" if len(self.plans) == 1 else "one transaction per plan"
        return Content.assemble(
            subject,
            markup(
                f" to [b]$database[/b]: $steps in {each}. If a step fails, its plan is rolled back and nothing "
                "of it is changed.",
                database=self.session.database_label,
                steps=plural(steps, "step"),
            ),
        )

    # --- the dry run ---------------------------------------------------------------------------------------

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def check_plans(self) -> None:
        try:
            preflight = await services.preflight(
                self.target,
                plans_dir=self.session.plans_dir,
                database_url=self.session.database_url,
                reporter=self._dry_run_report,
            )
        except Exception as error:
            self.post_message(self.Checked(None, error))
            return
        self.post_message(self.Checked(preflight))

    def _dry_run_report(self, event: Event) -> None:
        self.post_message(self.Progress(event, dry_run=True))

    @on(Checked)
    def checked(self, message: Checked) -> None:
        self.query_one("#apply-activity", Activity).stop()
        if message.preflight is None:
            assert message.error is not None
            self._phase("failed")
            self._result(
                "[$text-error b]✗ The dry run could not run: $problem[/]\n\nNothing was changed.",
                problem=error_text(message.error),
            )
            return
        preflight = self.preflight = message.preflight
        if not preflight.checks:
            self._phase("done")
            self._result("Nothing pending: the database is up to date with the plans.")
            return
        if not preflight.runnable:
            self._phase("failed")
            self.query_one("#result-text", TextView).show(self._dry_run_failure(preflight))
            return
        self._phase("confirming")
        self._result("[$text-success]✓ The dry run passed.[/] [$text-muted]Waiting for your confirmation.[/]")
        self._confirm(preflight)

    def _dry_run_failure(self, preflight: services.Preflight) -> Content:
        lines = [markup("[$text-error b]✗ The dry run fails: nothing was applied, nothing was changed.[/]")]
        for check in preflight.checks:
            if check.outcome == "fails":
                lines.append(
                    markup(
                        "[$text-error b]version $version fails:[/] $problem",
                        version=check.version,
                        problem=check.problem or "",
                    )
                )
            elif check.outcome == "not checked":
                lines.append(markup("[$text-muted]version $v: $why[/]", v=check.version, why=check.problem))
            else:
                lines.append(markup("version $v: would pass", v=check.version))
            lines += [markup("  [$text-error]would destroy:[/] $loss", loss=loss) for loss in check.losses]
        lines.append(markup("[$text-muted]escape returns · h shows the history[/]"))
        return Content("\n").join(lines)

    # --- confirming --------------------------------------------------------------------------------------

    def _confirm(self, preflight: services.Preflight) -> None:
        what = self._what_will_happen()
        checked = markup(
            "\n\n[$text-success]The dry run passed:[/] every check and step of $plans ran and was rolled back. "
            "[$text-muted]Not checked: $limits.[/]",
            plans=plural(len(preflight.checks), "plan"),
            limits="; ".join(preflight.limits),
        )
        losses = preflight.losses
        self.allow_destructive = bool(losses)
        if not losses:
            self.app.push_screen(
                ConfirmModal("Apply?", Content.assemble(what, checked), confirm_label="Apply"), self._confirmed
            )
            return
        body = Content.assemble(
            what,
            markup("\n\n[$text-error b]This destroys data:[/]\n"),
            bullet_list(list(losses)),
            checked,
        )
        self.app.push_screen(TypedConfirmModal("Apply and destroy data?", body, word=CONFIRM_WORD), self._confirmed)

    def _confirmed(self, confirmed: bool | None) -> None:
        if not confirmed:
            self.dismiss(None)
            return
        self._phase("running")
        self._result("[$text-warning]Applying…[/]")
        self._activity("Applying…")
        self.run_apply(allow_destructive=self.allow_destructive)

    # --- running -------------------------------------------------------------------------------------------

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def run_apply(self, allow_destructive: bool) -> None:
        try:
            outcome = await services.apply(
                self.target,
                plans_dir=self.session.plans_dir,
                allow_destructive=allow_destructive,
                database_url=self.session.database_url,
                reporter=self._report,
            )
        except Exception as error:
            self.post_message(self.Failed(error))
            return
        self.post_message(self.Finished(outcome))

    def _report(self, event: Event) -> None:
        self.post_message(self.Progress(event, dry_run=False))

    @on(Progress)
    def progressed(self, message: Progress) -> None:
        event = message.event
        activity = self.query_one("#apply-activity", Activity)
        doing = "Dry run" if message.dry_run else "Applying"
        if not message.dry_run:
            self.query_one(RunProgress).apply_event(event)
        match event:
            case LockWaiting() | TableLockWaiting():
                activity.explain(lock_wait_text(event))
            case PlanStarted(version=version, step_count=count):
                self.running_version = version
                self.started = self.started or not message.dry_run
                activity.start(f"{doing} version {version}: {plural(count, 'step')}…")
            case StepStarted(step_id=step_id, summary=summary):
                activity.start(f"{doing} version {self.running_version} step {step_id}: {summary}")
            case StepFinished():
                activity.explain(None)
            case PlanFinished(version=version) if not message.dry_run:
                self.committed.append(version)
            case _:
                pass

    @on(Finished)
    def finished(self, message: Finished) -> None:
        self.query_one("#apply-activity", Activity).stop()
        self._phase("done")
        outcome = message.outcome
        lines = [markup("[$text-warning]note:[/] $note", note=note) for note in outcome.notes]
        for run in outcome.runs:
            if run.status == "applied":
                lines.append(
                    markup(
                        "[$text-success b]✓ Applied version $version[/] ($steps in $ms ms).",
                        version=run.version,
                        steps=plural(run.steps, "step"),
                        ms=run.elapsed_ms,
                    )
                )
            elif run.status == "already-applied":
                lines.append(markup("Version $version was already applied: nothing to do.", version=run.version))
            else:
                lines.append(markup("Version $version: $status.", version=run.version, status=run.status))
        if not outcome.runs:
            lines.append(Content("Nothing pending: the database is up to date with the plans."))
        lines.append(markup("[$text-muted]escape returns · h shows the history[/]"))
        self.query_one("#result-text", TextView).show(Content("\n").join(lines))

    @on(Failed)
    def failed(self, message: Failed) -> None:
        self.query_one("#apply-activity", Activity).stop()
        self._phase("failed")
        if self.committed:
            kept = ", ".join(str(v) for v in self.committed)
            unchanged = (
                f"Version(s) {kept} were applied before the failure and stay applied; the failing plan was rolled "
                "back: nothing of it was changed."
            )
        elif self.started:
            unchanged = "The transaction was rolled back: nothing was changed."
        else:
            unchanged = "Nothing was changed."
        self._result(
            "[$text-error b]✗ $problem[/]\n\n[b]$unchanged[/]\n[$text-muted]escape returns · h shows the history[/]",
            problem=error_text(message.error),
            unchanged=unchanged,
        )

    # --- state ---------------------------------------------------------------------------------------------

    def _phase(self, phase: str) -> None:
        self.phase = phase
        self.set_class(phase == "running", "-running")
        self.refresh_bindings()

    def _activity(self, label: str) -> None:
        self.query_one("#apply-activity", Activity).start(label)

    def _result(self, template: str, **values: object) -> None:
        self.query_one("#result-text", TextView).show(markup(template, **values))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back" and self.phase == "running":
            return False
        if action == "history":
            return self.phase in ("done", "failed")
        return True

    def action_back(self) -> None:
        if self.phase == "running":
            self.notify("A plan is running: wait for it to finish.", severity="warning")
            return
        super().action_back()

    def action_history(self) -> None:
        self.app.switch_screen(HistoryScreen(self.session))
