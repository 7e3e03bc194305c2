"""Plan review, read like Terraform's plan: the tally of what the steps do and what they destroy first, then
the steps with their hazards before their summaries, and the selected step's SQL under a title that repeats
its hazards and counts."""

from __future__ import annotations

import re
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header

from sovrium_tui import services
from sovrium_tui.execution.events import Event, StepStarted
from sovrium_tui.execution.verify import VerifyResult
from sovrium_tui.planning.plan import Plan, Step, shown_hazards
from sovrium_tui.text import plural
from sovrium_tui.tui.apply import ApplyScreen
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import cell, error_text, hazard_text, loss_total, markup, plain, short, step_tally
from sovrium_tui.tui.modals import ResultModal
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import Activity, Panel, RowTable, SqlView, TextView, lock_wait_text

# The plan states apply is offered in (unknown: the database could not be asked; apply's dry run will say).
APPLICABLE = ("pending", "rolled back", "unknown", None)
_STEP_OF_LOSS = re.compile(r"^step (\d+) ")
# Review counts with a dry run that must never hold up a busy database: it gives up quickly instead.
REVIEW_LOCK_TIMEOUT = "2s"
REVIEW_STATEMENT_TIMEOUT = "10s"
REVIEW_LOCK_WAIT = 2.0


def losses_by_step(losses: tuple[str, ...]) -> dict[int, list[str]]:
    """A plan's loss lines ("step 3 drops column t.c (40 non-null values)") by the step they belong to."""
    found: dict[int, list[str]] = {}
    for loss in losses:
        match = _STEP_OF_LOSS.match(loss)
        if match:
            found.setdefault(int(match.group(1)), []).append(loss)
    return found


_CANNOT_UNDO = "(no reverse SQL: this step cannot be undone)"
_NO_REVERSE = {"compute_columns": "(no reverse SQL: nothing to undo; undoing the column's add drops it)"}


class ReviewScreen(InnerScreen):
    """One plan file, read from disk (an edited file is shown with its digest state, not refused)."""

    NAME = "Plan review"
    HELP = (
        "A plan file as it will run. The header tallies what the steps do (create, rename, change, drop, "
        "destroy) and, for a plan not applied yet, what a dry run counts they would destroy (a dry run that gives "
        "up at once on a busy database); then the steps, hazards first (data loss in red), and the highlighted "
        "step's forward SQL (what apply runs) and reverse SQL (what a rollback runs), titled with that step's "
        "hazards and counts. Arrows move between steps; tab moves into the SQL, where the arrows scroll it; f "
        "shows the focused panel full-screen (escape returns). a applies this plan after a dry run and a "
        "confirmation (not offered once it is applied); v verifies it on a scratch database first."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply"),
        Binding("v", "verify", "Verify"),
    ]

    class Verified(Message):
        def __init__(self, result: VerifyResult | None, error: Exception | None = None) -> None:
            super().__init__()
            self.result = result
            self.error = error

    class Counted(Message):
        """The dry run of the pending plans up to this one: what this plan would destroy, or why it fails."""

        def __init__(self, check: services.PlanCheck | None, error: Exception | None = None) -> None:
            super().__init__()
            self.check = check
            self.error = error

    class Progress(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, session: Session, plan_path: str, *, state: str | None = None) -> None:
        super().__init__(session)
        self.plan_path = plan_path
        self.state = state
        self.plan: Plan | None = None
        self.check: services.PlanCheck | None = None
        self.count_problem: str | None = None
        self.losses: dict[int, list[str]] = {}
        self.step: Step | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Panel(id="plan-header"):
            yield Activity(id="review-activity")
            yield TextView(id="plan-summary")
        with Panel(title="Steps", id="steps"):
            yield RowTable(id="steps-table", cursor_type="row")
        with Container(id="sql"):
            with Panel(title="Forward SQL", id="forward"):
                yield SqlView(id="forward-sql")
            with Panel(title="Reverse SQL (rollback)", id="reverse"):
                yield SqlView(id="reverse-sql")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#steps-table", DataTable)
        table.add_column("#", key="id")
        table.add_column("Hazards", key="hazards")
        table.add_column("Summary", key="summary")
        table.add_column("Op", key="op")
        table.add_column("Target", key="target")
        try:
            self.plan = services.show(self.plan_path)
        except Exception as error:
            self.query_one("#plan-summary", TextView).show(
                markup("[$text-error b]✗ $problem[/]", problem=error_text(error))
            )
            self.report_failure("read the plan", error)
            return
        self._fill(self.plan)
        self._show_header()
        table.focus()
        if self.state in APPLICABLE and self.state != "unknown":
            self.query_one("#review-activity", Activity).start("Dry run: counting what this plan would destroy…")
            self.count_losses(self.plan.version)

    # --- header ---------------------------------------------------------------------------------------------

    def _show_header(self) -> None:
        plan = self.plan
        if plan is None:
            return
        header = self.query_one("#plan-header")
        header.border_title = plain(f"Plan {plan.version:04d} · {plan.app}")
        header.border_subtitle = plain(self.plan_path)
        tally = step_tally((step.op, shown_hazards(step)) for step in plan.steps)
        lines = [markup("[b]$tally[/b]$counted", tally=tally, counted=self._counted())]
        lines += self._hazard_lines(plan)
        lines.append(markup("[b]$summary[/b]", summary=plan.summary))
        origin = f"{plan.from_version} ({short(plan.from_checksum)})" if plan.from_version else "0 (empty)"
        digest = "[$text-success]digest intact[/]" if plan.digest_ok else "[$text-error b]edited: digest mismatch[/]"
        lines.append(
            markup(
                f"version $origin → [b]$to[/b] · {digest} · $state · [$text-muted]made $made[/]",
                origin=origin,
                to=plan.version,
                state=self._state_words(),
                made=plan.created_at,
            )
        )
        self.query_one("#plan-summary", TextView).show(Content("\n").join(lines))

    def _counted(self) -> str:
        if self.check is not None and self.check.losses:
            return f": {loss_total(self.check.losses) or 'values not countable'}"
        if self.check is not None and self.check.outcome == "passes":
            return ": no value lost"
        return ""

    def _hazard_lines(self, plan: Plan) -> list[Content]:
        """What the dry run found (or, before it, the destructive steps), ahead of the summary."""
        check = self.check
        if check is not None and check.outcome == "fails":
            return [markup("[$text-error b]✗ The dry run fails:[/] $problem", problem=check.problem or "")]
        if check is not None and check.outcome == "not checked":
            return [markup("[$text-warning]$problem[/]", problem=check.problem or "")]
        lines = []
        if check is not None:
            lines = [markup("[$text-error b]⚠ $loss[/]", loss=loss) for loss in check.losses]
        elif plan.destructive_steps:
            lines = [
                markup("[$text-error b]⚠ step $id: $summary[/]", id=step.id, summary=step.summary)
                for step in plan.destructive_steps
            ]
        if self.count_problem:
            lines.append(markup("[$text-muted]values not counted: $why[/]", why=self.count_problem))
        return lines

    def _state_words(self) -> str:
        if self.state in ("applied", "edited after apply"):
            return f"{self.state} (nothing to apply)"
        if self.state == "other plan applied":
            return "another plan made this version here (this one can never apply)"
        if self.state == "off chain":
            return "off chain (apply never runs it)"
        return self.state or "state unknown"

    # --- steps and SQL ----------------------------------------------------------------------------------------

    def _fill(self, plan: Plan) -> None:
        table = self.query_one("#steps-table", DataTable)
        table.clear()
        for step in plan.steps:
            table.add_row(
                cell(str(step.id), justify="right"),
                hazard_text(shown_hazards(step)),
                cell(step.summary),
                cell(step.op),
                cell(step.target),
                key=str(step.id),
            )
        self.query_one("#steps").border_subtitle = f"{plural(len(plan.steps), 'step')} · hazards first"
        if not plan.steps:
            self._show_step(None)

    @on(DataTable.RowHighlighted, "#steps-table")
    def step_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.plan is None or event.row_key.value is None:
            return
        step_id = int(event.row_key.value)
        self._show_step(next((s for s in self.plan.steps if s.id == step_id), None))

    def _show_step(self, step: Step | None) -> None:
        self.step = step
        forward = self.query_one("#forward")
        forward.border_title = plain(self._sql_title(step))
        forward.border_subtitle = plain(step.summary if step else "")
        self.query_one("#forward-sql", SqlView).show_sql(
            step.forward if step else (), empty="(no SQL now: this step's work is in its reverse, for a rollback)"
        )
        self.query_one("#reverse-sql", SqlView).show_sql(
            step.reverse if step else (), empty=_NO_REVERSE.get(step.op if step else "", _CANNOT_UNDO)
        )

    def _sql_title(self, step: Step | None) -> str:
        """`Forward SQL · step 3 · data-loss · 40 non-null values`: the step's hazards and what it destroys."""
        if step is None:
            return "Forward SQL"
        parts = [f"Forward SQL · step {step.id}", *shown_hazards(step)]
        counts = [re.sub(r"^.*\((.*)\)$", r"\1", loss) for loss in self.losses.get(step.id, [])]
        parts += [count for count in counts if count]
        return " · ".join(parts)

    # --- the dry run that counts ------------------------------------------------------------------------------

    @work(exclusive=True, group="count", exit_on_error=False)
    async def count_losses(self, version: int) -> None:
        try:
            preflight = await services.preflight(
                plans_dir=self.session.plans_dir,
                until_version=version,
                database_url=self.session.database_url,
                lock_wait=REVIEW_LOCK_WAIT,
                lock_timeout=REVIEW_LOCK_TIMEOUT,
                statement_timeout=REVIEW_STATEMENT_TIMEOUT,
                reporter=self._report,
            )
        except Exception as error:
            self.post_message(self.Counted(None, error))
            return
        check = next((c for c in preflight.checks if c.version == version), None)
        self.post_message(self.Counted(check))

    def _report(self, event: Event) -> None:
        self.post_message(self.Progress(event))

    @on(Progress)
    def progressed(self, message: Progress) -> None:
        activity = self.query_one("#review-activity", Activity)
        waiting = lock_wait_text(message.event)  # the migration lock or a table lock
        if waiting is not None:
            activity.explain(waiting)
        elif isinstance(message.event, StepStarted):
            activity.explain(None)

    @on(Counted)
    def counted(self, message: Counted) -> None:
        self.query_one("#review-activity", Activity).stop()
        if message.error is not None:
            self.count_problem = error_text(message.error).splitlines()[0]
        elif message.check is None:
            self.count_problem = "this plan is not pending on the chain of plans"
        self.check = message.check
        self.losses = losses_by_step(message.check.losses) if message.check else {}
        self._show_header()
        self._show_step(self.step)

    # --- verify and apply -------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            return self.plan is not None and self.state in APPLICABLE
        return True

    def action_verify(self) -> None:
        if self.plan is None:
            self.notify("This plan file cannot be read, so it cannot be verified.", severity="error")
            return
        self.query_one("#review-activity", Activity).start("Verifying on a scratch database…")
        self.verify()

    @work(exclusive=True, group="verify", exit_on_error=False)
    async def verify(self) -> None:
        try:
            result = await services.verify(self.plan_path, database_url=self.session.database_url)
        except Exception as error:
            self.post_message(self.Verified(None, error))
            return
        self.post_message(self.Verified(result))

    @on(Verified)
    def verified(self, message: Verified) -> None:
        self.query_one("#review-activity", Activity).stop()
        if message.result is None:
            assert message.error is not None
            self.report_failure("verify", message.error)
            return
        result = message.result
        heading = "Verify: the plan round-trips" if result.round_trips else "Verify: the plan does NOT round-trip"
        self.app.push_screen(ResultModal(heading, plain(result.describe()), passed=result.round_trips))

    def action_apply(self) -> None:
        if self.plan is None or self.state not in APPLICABLE:
            return
        self.app.push_screen(ApplyScreen(self.session, ((self.plan_path, self.plan),), target=self.plan_path))
