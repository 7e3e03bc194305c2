"""Drift: every difference between the live database and what the last migration recorded, by table; accept it
(with a reason, audited) or write the plan that undoes it."""

from __future__ import annotations

from itertools import groupby
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Footer, Header, Tree

from sovrium_tui import services
from sovrium_tui.errors import UsageError
from sovrium_tui.text import plural
from sovrium_tui.tui.base import InnerScreen
from sovrium_tui.tui.fmt import error_text, markup, safe
from sovrium_tui.tui.modals import ReasonModal
from sovrium_tui.tui.review import ReviewScreen
from sovrium_tui.tui.widgets import Activity, Panel, TextView

KIND_STYLES = {"extra": "yellow", "missing": "red", "changed": "cyan"}


class DriftScreen(InnerScreen):
    """The drift report, and the two ways out of it: accept the live schema, or plan to revert it."""

    NAME = "Drift"
    HELP = (
        "Compares the live database with the schema recorded by the last migration and lists every difference, "
        "grouped by table: extra (exists but was not recorded), missing (recorded but gone) or changed. Drift "
        "makes apply and rollback refuse until it is dealt with: a accepts the live schema as the new baseline "
        "(with a reason, kept in the audit log); p writes the next plan file, which takes the database back to "
        "the recorded schema, and opens it for review (the live schema becomes that plan's starting point, "
        "audited; dropping a column added by hand is then confirmed like any data loss when you apply it)."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Accept"),
        Binding("p", "plan_revert", "Plan to revert"),
        Binding("r", "refresh", "Refresh"),
    ]

    class Loaded(Message):
        def __init__(self, report: services.DriftReport | None, error: Exception | None = None) -> None:
            super().__init__()
            self.report = report
            self.error = error

    class Accepted(Message):
        def __init__(self, report: services.DriftReport | None, error: Exception | None = None) -> None:
            super().__init__()
            self.report = report
            self.error = error

    class Planned(Message):
        def __init__(self, outcome: services.PlanOutcome | None, error: Exception | None = None) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    report: services.DriftReport | None = None
    compare_on_return = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Panel(title="Drift", id="drift"):
            yield Activity(id="drift-activity")
            yield TextView(id="drift-text")
            yield Tree[None]("differences", id="drift-tree")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(Tree).show_root = False
        self.query_one("#drift-text", TextView).can_focus = False

    def on_screen_resume(self) -> None:
        """Compare on arrival, and again on return from the review of a plan that reverts the drift (not when a
        dialog of this screen closes: its answer reloads by itself)."""
        if self.report is None or self.compare_on_return:
            self.compare_on_return = False
            self.action_refresh()

    def action_refresh(self) -> None:
        self.query_one("#drift-activity", Activity).start("Comparing the live database with the record…")
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
        self.query_one("#drift-activity", Activity).stop()
        text = self.query_one("#drift-text", TextView)
        tree = self.query_one(Tree)
        tree.clear()
        self.report = message.report
        self.query_one("#drift").set_class(False, "-drifted")
        self.refresh_bindings()
        if message.report is None:
            assert message.error is not None
            style = "$text-muted" if isinstance(message.error, UsageError) else "$text-error b"
            text.show(markup(f"[{style}]$problem[/]", problem=error_text(message.error)))
            return
        report = message.report
        if not report.recorded:
            text.show(markup("[$text-muted]$text[/]", text=report.describe().capitalize() + "."))
            return
        if not report.drifted:
            accepted = f" ({plural(len(report.differences), 'accepted difference')})" if report.differences else ""
            text.show(
                markup(
                    "[$text-success b]✓ No drift:[/] the database matches what version $version recorded$accepted.",
                    version=report.version,
                    accepted=accepted,
                )
            )
        else:
            self.query_one("#drift").add_class("-drifted")
            tables = {d.table for d in report.differences}
            text.show(
                markup(
                    "[$text-error b]Drift since version $version:[/] $count in $tables. Apply and rollback refuse "
                    "until it is dealt with: [b]a[/b] accepts it, [b]p[/b] plans its undoing.",
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
                Text.assemble((safe(table) or "(database-wide)", "bold"), f"  {plural(len(found), 'difference')}"),
                expand=True,
            )
            for difference in found:
                node.add_leaf(
                    Text.assemble(
                        (f"{difference.kind:<8}", KIND_STYLES.get(difference.kind, "")), safe(difference.detail)
                    )
                )
        tree.focus()

    # --- the ways out ---------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("accept", "plan_revert"):
            return self.report is not None and self.report.drifted
        return True

    def action_accept(self) -> None:
        if self.report is None or not self.report.drifted:
            return
        body = markup(
            "Record the live schema as what version [b]$version[/b] looks like, with its $count. Apply and rollback "
            "then accept this database again; rolling back later plans the way back from the live schema. The "
            "reason is kept in the audit log (DRIFT_ACCEPTED).",
            version=self.report.version,
            count=plural(len(self.report.differences), "difference"),
        )
        self.app.push_screen(ReasonModal("Accept the drift?", body, action_label="accept"), self._accept)

    def _accept(self, reason: str | None) -> None:
        if reason:
            self.query_one("#drift-activity", Activity).start("Accepting the live schema as the baseline…")
            self.accept(reason)

    @work(exclusive=True, group="drift-accept", exit_on_error=False)
    async def accept(self, reason: str) -> None:
        try:
            report = await services.drift(accept=True, reason=reason, database_url=self.session.database_url)
        except Exception as error:
            self.post_message(self.Accepted(None, error))
            return
        self.post_message(self.Accepted(report))

    @on(Accepted)
    def accepted(self, message: Accepted) -> None:
        self.query_one("#drift-activity", Activity).stop()
        if message.report is None:
            assert message.error is not None
            self.report_failure("accept the drift", message.error)
            return
        self.notify(message.report.describe(), title="Drift accepted", markup=False)
        self.action_refresh()

    def action_plan_revert(self) -> None:
        if self.report is None or not self.report.drifted:
            return
        body = markup(
            "Write the next plan file into [b]$dir[/b]: the steps that take the database back to what version "
            "[b]$version[/b] recorded ($count). The live schema becomes that plan's starting point (audited, with "
            "the reason), so it applies through the usual dry run and confirmation; it opens for review.",
            dir=self.session.plans_dir,
            version=self.report.version,
            count=plural(len(self.report.differences), "difference"),
        )
        self.app.push_screen(ReasonModal("Plan to revert the drift?", body, action_label="write the plan"), self._plan)

    def _plan(self, reason: str | None) -> None:
        if reason:
            self.query_one("#drift-activity", Activity).start("Writing the plan that reverts the drift…")
            self.plan_revert(reason)

    @work(exclusive=True, group="drift-plan", exit_on_error=False)
    async def plan_revert(self, reason: str) -> None:
        try:
            outcome = await services.revert_drift_plan(
                reason=reason, plans_dir=self.session.plans_dir, database_url=self.session.database_url
            )
        except Exception as error:
            self.post_message(self.Planned(None, error))
            return
        self.post_message(self.Planned(outcome))

    @on(Planned)
    def planned(self, message: Planned) -> None:
        self.query_one("#drift-activity", Activity).stop()
        if message.outcome is None or message.outcome.path is None:
            assert message.error is not None
            self.report_failure("plan to revert the drift", message.error)
            return
        self.compare_on_return = True
        self.app.push_screen(ReviewScreen(self.session, str(message.outcome.path), state="pending"))
