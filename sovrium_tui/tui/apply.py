"""Apply: say what will happen, confirm (typed for data loss), then show each step live and the result."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Footer, Header, Static

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused
from sovrium_tui.execution.events import Event, LockWaiting, PlanFinished, PlanStarted
from sovrium_tui.planning.plan import Plan
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import error_text, plural
from sovrium_tui.tui.history import HistoryScreen
from sovrium_tui.tui.modals import CONFIRM_WORD, ConfirmModal, TypedConfirmModal
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import RunProgress


def losses_in(refusal: DestructiveRefused) -> tuple[str, ...]:
    """The data a refusal names ("step 2 drops column users.nickname (3 non-null values)"), one per item."""
    return refusal.losses or (refusal.message,)


class ApplyScreen(InnerScreen):
    """Applies one plan file, or every pending plan of the directory (`target=None`), each as one transaction."""

    HELP = (
        "Applying plans. Each plan runs as one transaction: if any step fails, the database is rolled back to "
        "exactly what it was. A plan that destroys data is applied only after you type the confirmation word. "
        "The screen cannot be left while a plan runs."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "history", "History"),
    ]

    class Checked(Message):
        """The dry run finished: what would be lost (empty when the plan is not refused), or why it cannot run."""

        def __init__(self, losses: tuple[str, ...], error: Exception | None = None) -> None:
            super().__init__()
            self.losses = losses
            self.error = error

    class Progress(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

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
        self.phase = "preparing"  # → checking → confirming → running → done | failed
        self.committed: list[int] = []
        self.started = False  # a plan's transaction began (a failure before that changed nothing either)
        self.allow_destructive = False  # set when the typed confirmation is asked for and given

    @property
    def destructive(self) -> bool:
        return any(plan.destructive_steps for _, plan in self.plans)

    @property
    def loses_data(self) -> bool:
        """Steps refused even when nothing is in the table (drops, truncating casts), unlike mere narrowing."""
        return any("data-loss" in step.hazards for _, plan in self.plans for step in plan.steps)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="apply-what", classes="panel") as what:
            what.border_title = "What will happen"
            yield Static(self._what_will_happen(), id="apply-what-text")
        with Vertical(id="apply-steps", classes="panel") as steps:
            steps.border_title = "Steps"
            yield RunProgress(per_plan=True, id="progress")
        with VerticalScroll(id="apply-result", classes="panel") as result:
            result.border_title = "Result"
            yield Static(id="result-text")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Apply"
        progress = self.query_one(RunProgress)
        several = len(self.plans) > 1
        for _, plan in self.plans:
            for step in plan.steps:
                label = f"v{plan.version}·{step.id}" if several else str(step.id)
                progress.expect(step.id, label, step.summary, plan=plan.version)
        progress.focus()
        if self.destructive:
            self._phase("checking")
            self._result("[$text-muted]Counting what the destructive steps would destroy (a dry run)…[/]")
            self.check_losses()
        else:
            self._phase("confirming")
            self._result("[$text-muted]Waiting for your confirmation.[/]")
            self._confirm(())

    def _what_will_happen(self) -> Content:
        versions = ", ".join(str(plan.version) for _, plan in self.plans)
        steps = sum(len(plan.steps) for _, plan in self.plans)
        if len(self.plans) == 1:
            subject = Content.from_markup(
                "Apply version [b]$version[/b] ($summary)", version=versions, summary=self.plans[0][1].summary
            )
        else:
            subject = Content.from_markup("Apply versions [b]$versions[/b] in order", versions=versions)
        each = "one transaction" if len(self.plans) == 1 else "one transaction per plan"
        return Content.assemble(
            subject,
            Content.from_markup(
                f" to [b]$database[/b]: $steps in {each}. If a step fails, its plan is rolled back and nothing "
                "of it is changed.",
                database=self.session.database_label,
                steps=plural(steps, "step"),
            ),
        )

    # --- confirming --------------------------------------------------------------------------------------

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def check_losses(self) -> None:
        try:
            await services.apply(
                self.target, plans_dir=self.session.plans_dir, dry_run=True, database_url=self.session.database_url
            )
        except DestructiveRefused as refusal:
            self.post_message(self.Checked(losses_in(refusal)))
        except Exception as error:
            self.post_message(self.Checked((), error))
        else:
            self.post_message(self.Checked(()))

    @on(Checked)
    def checked(self, message: Checked) -> None:
        if message.error is not None:
            self._phase("failed")
            self._result("[$text-error b]✗ $problem[/]\n\nNothing was changed.", problem=error_text(message.error))
            return
        self._phase("confirming")
        self._result("[$text-muted]Waiting for your confirmation.[/]")
        self._confirm(message.losses)

    def _confirm(self, losses: tuple[str, ...]) -> None:
        what = self._what_will_happen()
        self.allow_destructive = bool(losses) or self.loses_data
        if not self.allow_destructive:
            # Nothing is lost: narrowing steps that no row breaks (the apply re-checks, and refuses if one does).
            self.app.push_screen(ConfirmModal("Apply?", what, confirm_label="Apply"), self._confirmed)
            return
        if not losses:
            # Counts come from a dry run of the next plan only: later plans start from a state not there yet.
            first = self.plans[0][1]
            later = " (how much: unknown until the plans before it are applied)"
            losses = tuple(
                f"version {plan.version} step {step.id}: {step.summary}{'' if plan is first else later}"
                for _, plan in self.plans
                for step in plan.steps
                if "data-loss" in step.hazards
            )
        body = Content.assemble(
            what,
            Content.from_markup("\n\n[$text-error b]This destroys data:[/]\n"),
            Content("\n").join(Content.from_markup("  • $loss", loss=loss) for loss in losses),
        )
        title = "Apply and destroy data?"
        self.app.push_screen(TypedConfirmModal(title, body, word=CONFIRM_WORD), self._confirmed)

    def _confirmed(self, confirmed: bool | None) -> None:
        if not confirmed:
            self.dismiss(None)
            return
        self._phase("running")
        self._result("[$text-warning]Applying…[/]")
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
        self.post_message(self.Progress(event))

    @on(Progress)
    def progressed(self, message: Progress) -> None:
        event = message.event
        self.query_one(RunProgress).apply_event(event)
        if isinstance(event, LockWaiting):
            self._result("[$text-warning]Waiting for the migration lock, held by $holder…[/]", holder=event.holder)
        elif isinstance(event, PlanStarted):
            self.started = True
        elif isinstance(event, PlanFinished):
            self.committed.append(event.version)

    @on(Finished)
    def finished(self, message: Finished) -> None:
        self._phase("done")
        outcome = message.outcome
        lines = [Content.from_markup("[$text-warning]note:[/] $note", note=note) for note in outcome.notes]
        for run in outcome.runs:
            if run.status == "applied":
                lines.append(
                    Content.from_markup(
                        "[$text-success b]✓ Applied version $version[/] ($steps in $ms ms).",
                        version=run.version,
                        steps=plural(run.steps, "step"),
                        ms=run.elapsed_ms,
                    )
                )
            elif run.status == "already-applied":
                lines.append(
                    Content.from_markup("Version $version was already applied: nothing to do.", version=run.version)
                )
            else:
                lines.append(Content.from_markup("Version $version: $status.", version=run.version, status=run.status))
        if not outcome.runs:
            lines.append(Content("Nothing pending: the database is up to date with the plans."))
        lines.append(Content.from_markup("[$text-muted]escape returns · h shows the history[/]"))
        self.query_one("#result-text", Static).update(Content("\n").join(lines))

    @on(Failed)
    def failed(self, message: Failed) -> None:
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

    def _result(self, markup: str, **values: object) -> None:
        self.query_one("#result-text", Static).update(Content.from_markup(markup, **values))

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
