"""Plan review: the plan's header, its steps with hazard badges, and the selected step's forward and reverse SQL."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from sovrium_tui import services
from sovrium_tui.execution.verify import VerifyResult
from sovrium_tui.planning.plan import Plan, Step
from sovrium_tui.tui.apply import ApplyScreen
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import error_text, hazard_text, plural, short
from sovrium_tui.tui.modals import ResultModal
from sovrium_tui.tui.session import Session
from sovrium_tui.tui.widgets import SqlView


class ReviewScreen(InnerScreen):
    """One plan file, read from disk (an edited file is shown with its digest state, not refused)."""

    HELP = (
        "A plan file as it will run: every step with its hazards (data loss in red), and the highlighted "
        "step's forward SQL (what apply runs) and reverse SQL (what a rollback runs). Move between steps with "
        "the arrow keys; tab moves into the SQL to scroll it. a applies this plan after a confirmation; v "
        "verifies it on a scratch database first (apply forward, compare with the target, apply the reverse, "
        "compare with the start), without touching the real one."
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

    def __init__(self, session: Session, plan_path: str) -> None:
        super().__init__(session)
        self.plan_path = plan_path
        self.plan: Plan | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="plan-header", classes="panel"):
            yield Static(id="plan-summary")
        with Vertical(id="steps", classes="panel") as steps:
            steps.border_title = "Steps"
            yield DataTable[Text](id="steps-table", cursor_type="row")
        with Container(id="sql"):
            with Vertical(id="forward", classes="panel") as forward:
                forward.border_title = "Forward SQL"
                yield SqlView(id="forward-sql")
            with Vertical(id="reverse", classes="panel") as reverse:
                reverse.border_title = "Reverse SQL (rollback)"
                yield SqlView(id="reverse-sql")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Plan review"
        table = self.query_one("#steps-table", DataTable)
        table.add_column("#", key="id")
        table.add_column("Summary", key="summary")
        table.add_column("Hazards", key="hazards")
        table.add_column("Op", key="op")
        table.add_column("Target", key="target")
        try:
            self.plan = services.show(self.plan_path)
        except Exception as error:
            self.query_one("#plan-summary", Static).update(
                Content.from_markup("[$text-error b]✗ $problem[/]", problem=error_text(error))
            )
            self.report_failure("read the plan", error)
            return
        self._show(self.plan)
        table.focus()

    def _show(self, plan: Plan) -> None:
        header = self.query_one("#plan-header")
        header.border_title = f"Plan {plan.version:04d} · {plan.app}"
        header.border_subtitle = self.plan_path
        digest = "[$text-success]digest intact[/]" if plan.digest_ok else "[$text-error b]edited: digest mismatch[/]"
        destructive = len(plan.destructive_steps)
        danger = f" · [$text-error b]{destructive} destructive[/]" if destructive else ""
        origin = f"{plan.from_version} ({short(plan.from_checksum)})" if plan.from_version else "0 (empty)"
        self.query_one("#plan-summary", Static).update(
            Content.from_markup(
                f"[b]$summary[/b]\nversion $origin → [b]$to[/b] · $steps{danger} · {digest}\n"
                "[$text-muted]made $made[/]",
                summary=plan.summary,
                origin=origin,
                to=plan.version,
                steps=plural(len(plan.steps), "step"),
                made=plan.created_at,
            )
        )
        table = self.query_one("#steps-table", DataTable)
        for step in plan.steps:
            table.add_row(
                Text(str(step.id), justify="right"),
                Text(step.summary),
                hazard_text(step.hazards),
                Text(step.op),
                Text(step.target),
                key=str(step.id),
            )
        if not plan.steps:
            self._show_step(None)

    @on(DataTable.RowHighlighted, "#steps-table")
    def step_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.plan is None or event.row_key.value is None:
            return
        step_id = int(event.row_key.value)
        self._show_step(next((s for s in self.plan.steps if s.id == step_id), None))

    def _show_step(self, step: Step | None) -> None:
        forward = self.query_one("#forward")
        forward.border_title = f"Forward SQL · step {step.id}" if step else "Forward SQL"
        forward.border_subtitle = step.summary if step else ""
        self.query_one("#forward-sql", SqlView).show(step.forward if step else ())
        self.query_one("#reverse-sql", SqlView).show(
            step.reverse if step else (), empty="(no reverse SQL: this step cannot be undone)"
        )

    def action_verify(self) -> None:
        if self.plan is None:
            self.notify("This plan file cannot be read, so it cannot be verified.", severity="error")
            return
        self.query_one("#plan-header").border_subtitle = "verifying on a scratch database…"
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
        self.query_one("#plan-header").border_subtitle = self.plan_path
        if message.result is None:
            assert message.error is not None
            self.report_failure("verify", message.error)
            return
        result = message.result
        heading = "Verify: the plan round-trips" if result.round_trips else "Verify: the plan does NOT round-trip"
        self.app.push_screen(ResultModal(heading, Content(result.describe()), passed=result.round_trips))

    def action_apply(self) -> None:
        if self.plan is None:
            self.notify("This plan file cannot be read, so it cannot be applied.", severity="error")
            return
        self.app.push_screen(ApplyScreen(self.session, ((self.plan_path, self.plan),), target=self.plan_path))
