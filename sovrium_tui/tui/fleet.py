"""The fleet view: every database of a targets file grouped by version, and apply to one group at a time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Header, Input, Static

from sovrium_tui.fleet import rollout, survey
from sovrium_tui.fleet.runner import FleetEvent, Limits, TargetDone
from sovrium_tui.fleet.selection import Selection, select_targets
from sovrium_tui.fleet.survey import FleetStatus, TargetRead, VersionGroup
from sovrium_tui.text import plural
from sovrium_tui.tui.base import SovriumScreen
from sovrium_tui.tui.fmt import error_text, short
from sovrium_tui.tui.modals import ConfirmModal
from sovrium_tui.tui.session import Session

if TYPE_CHECKING:
    from sovrium_tui.services import StatusReport

OUTCOME_STYLES = {"applied": "green", "up-to-date": "green", "failed": "bold red", "skipped": "dim"}


class TargetsFileModal(ModalScreen[str | None]):
    """Ask for the targets file to open (a YAML list of the fleet's databases)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, suggestion: str | None = None) -> None:
        super().__init__()
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Open a targets file"
            yield Static(
                Content.from_markup(
                    "A YAML file listing the fleet's databases: [b]targets:[/b] with [b]name[/b], "
                    "[b]url[/b] or [b]url_env[/b], and [b]labels[/b]."
                )
            )
            yield Input(value=self.suggestion or "", placeholder="targets.yaml", id="targets-path", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Open (enter)", id="open", variant="primary", compact=True)
                yield Button("Cancel (escape)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#targets-path", Input).focus()

    def _path(self) -> str | None:
        return self.query_one("#targets-path", Input).value.strip() or None

    @on(Input.Submitted, "#targets-path")
    def submitted(self) -> None:
        self.dismiss(self._path())

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._path() if event.button.id == "open" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FleetScreen(SovriumScreen):
    """Groups of targets by version (left to right: version, checksum, how many), then the highlighted group's
    targets with drift, lock and the last apply's result; `a` applies the pending plans to that group."""

    NAME = "Fleet"
    HELP = (
        "Every database of the targets file, grouped by the version it is at (and its checksum); unreachable "
        "ones are a group of their own. Highlight a group to see its targets; a applies the pending plans of the "
        "plans directory to every target of that group, each in its own transaction, four at a time. Data loss "
        "is never allowed here: such a plan is refused per target with its counts (use the CLI's "
        "--allow-destructive after review)."
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply to group"),
        Binding("r", "refresh", "Refresh"),
        Binding("o", "open", "Open file"),
        Binding("escape,q", "back", "Back"),
    ]

    class Loaded(Message):
        def __init__(self, selection: Selection | None, status: FleetStatus | None, error: Exception | None) -> None:
            super().__init__()
            self.selection = selection
            self.status = status
            self.error = error

    class Progress(Message):
        def __init__(self, event: FleetEvent) -> None:
            super().__init__()
            self.event = event

    class Applied(Message):
        def __init__(self, report: rollout.RolloutReport | None, error: Exception | None = None) -> None:
            super().__init__()
            self.report = report
            self.error = error

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.selection: Selection | None = None
        self.status: FleetStatus | None = None
        self.results: dict[str, rollout.TargetOutcome] = {}
        self.running = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="fleet-groups", classes="panel") as groups:
            groups.border_title = "Fleet"
            yield Static(Content.from_markup("[$text-muted]Reading the targets…[/]"), id="fleet-status")
            yield DataTable[Text](id="groups-table", cursor_type="row")
        with Vertical(id="fleet-targets", classes="panel") as targets:
            targets.border_title = "Targets"
            yield DataTable[Text](id="targets-table", cursor_type="row")
            yield Static("", id="target-detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        groups = self.query_one("#groups-table", DataTable)
        groups.add_column("Version", key="version", width=11)
        groups.add_column("Checksum", key="checksum", width=12)
        groups.add_column("Targets", key="count", width=7)
        groups.add_column("Drifted", key="drifted", width=7)
        groups.add_column("Locked", key="locked", width=6)
        groups.add_column("Pending", key="pending")
        targets = self.query_one("#targets-table", DataTable)
        targets.add_column("Target", key="name")
        targets.add_column("Labels", key="labels")
        targets.add_column("Drift", key="drift", width=8)
        targets.add_column("Lock", key="lock", width=6)
        targets.add_column("Last apply", key="result")
        groups.focus()
        self.load()

    # --- loading ---------------------------------------------------------------------------------------------

    @work(exclusive=True, group="fleet-status", exit_on_error=False)
    async def load(self) -> None:
        path = self.session.targets_file
        if path is None:
            return
        try:
            selection = select_targets(path)
            status = await survey.status(selection, plans_dir=self.session.plans_dir)
        except Exception as error:
            self.post_message(self.Loaded(None, None, error))
            return
        self.post_message(self.Loaded(selection, status, None))

    @on(Loaded)
    def loaded(self, message: Loaded) -> None:
        self.selection, self.status = message.selection, message.status
        panel = self.query_one("#fleet-groups")
        panel.border_title = f"Fleet: {self.session.targets_file}"
        panel.set_class(message.error is not None, "-failed")
        if message.status is None:
            assert message.error is not None
            self._say(
                Content.from_markup(
                    "[$text-error b]✗ $problem[/]\n[$text-muted]o opens another file, r reads it again.[/]",
                    problem=error_text(message.error),
                )
            )
            self.query_one("#groups-table", DataTable).clear()
            self.query_one("#targets-table", DataTable).clear()
            return
        status = message.status
        groups = status.groups
        versions = sum(1 for g in groups if g.version is not None)
        unreachable = sum(len(g.members) for g in groups if g.version is None)
        summary = f"{plural(len(status.targets), 'target')} at {plural(versions, 'version')}"
        if unreachable:
            summary += f", [$text-error]{unreachable} unreachable[/]"
        self._say(Content.from_markup(summary + " · plans from $plans", plans=self.session.plans_dir))
        self._fill_groups(groups)

    def _say(self, content: Content) -> None:
        self.query_one("#fleet-status", Static).update(content)

    def _fill_groups(self, groups: tuple[VersionGroup, ...]) -> None:
        table = self.query_one("#groups-table", DataTable)
        selected = self._selected_group_key()
        table.clear()
        for group in groups:
            reports = [m.report for m in group.members if m.report is not None]
            if group.version is None:
                version = Text("unreachable", "bold red")
            else:
                version = Text(str(group.version) if group.checksum else "0 (new)", justify="right")
            pending = sorted({p.version for r in reports for p in r.pending})
            table.add_row(
                version,
                Text(short(group.checksum) if group.version is not None else ""),
                Text(str(len(group.members)), justify="right"),
                _count_text(sum(1 for r in reports if r.drift), "bold red"),
                _count_text(sum(1 for r in reports if r.lock_holder), "yellow"),
                Text(", ".join(str(v) for v in pending) if pending else ("none" if reports else "")),
                key=group.key,
            )
        keys = [g.key for g in groups]
        if selected in keys:
            table.move_cursor(row=keys.index(selected))
        self._fill_targets()

    def _selected_group(self) -> VersionGroup | None:
        key = self._selected_group_key()
        if self.status is None or key is None:
            return None
        return next((g for g in self.status.groups if g.key == key), None)

    def _selected_group_key(self) -> str | None:
        table = self.query_one("#groups-table", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def _fill_targets(self) -> None:
        table = self.query_one("#targets-table", DataTable)
        table.clear()
        group = self._selected_group()
        panel = self.query_one("#fleet-targets")
        if group is None:
            panel.border_title = "Targets"
            self._show_detail(None)
            return
        panel.border_title = f"Targets: {group.title}"
        for member in group.members:
            table.add_row(*self._target_cells(member), key=member.target.name)
        self._show_detail(group.members[0].target.name if group.members else None)

    def _target_cells(self, member: TargetRead[StatusReport]) -> tuple[Text, ...]:
        target = member.target
        labels = Text(" ".join(f"{k}={v}" for k, v in target.labels), style="dim")
        result = self._result_text(target.name)
        report = member.report
        if report is None:
            return Text(target.name), labels, Text(""), Text(""), result if result.plain else Text("unreachable", "red")
        drift = {None: Text("—", "dim"), True: Text("DRIFTED", "bold red"), False: Text("none", "green")}[report.drift]
        lock = Text("held", "yellow") if report.lock_holder else Text("free", "green")
        return Text(target.name), labels, drift, lock, result

    def _result_text(self, name: str) -> Text:
        outcome = self.results.get(name)
        if outcome is None:
            return Text("")
        if outcome.outcome == "applied":
            return Text(f"applied {outcome.from_version} → {outcome.to_version}", OUTCOME_STYLES["applied"])
        if outcome.outcome == "up-to-date":
            return Text(f"up to date at {outcome.to_version}", OUTCOME_STYLES["up-to-date"])
        return Text(outcome.outcome, OUTCOME_STYLES.get(outcome.outcome, ""))  # the reason: in the detail line

    @on(DataTable.RowHighlighted, "#groups-table")
    def group_highlighted(self) -> None:
        self._fill_targets()

    @on(DataTable.RowHighlighted, "#targets-table")
    def target_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(str(event.row_key.value))

    def _show_detail(self, name: str | None) -> None:
        """The highlighted target's story in full: why it failed or cannot be read, or who holds its lock."""
        detail = self.query_one("#target-detail", Static)
        group = self._selected_group()
        member = next((m for m in group.members if m.target.name == name), None) if group else None
        outcome = self.results.get(name or "")
        if outcome is not None and outcome.reason:
            detail.update(Content.from_markup("[$text-error]$name: $reason[/]", name=name, reason=outcome.reason))
        elif member is not None and member.report is None:
            detail.update(Content.from_markup("[$text-error]$name: $reason[/]", name=name, reason=member.reason or ""))
        elif member is not None and member.report is not None and member.report.lock_holder:
            detail.update(
                Content.from_markup("$name: lock held by $holder", name=name, holder=member.report.lock_holder)
            )
        else:
            detail.update("")

    # --- applying --------------------------------------------------------------------------------------------

    def action_apply(self) -> None:
        if self.running:
            self.notify("A rollout is running: wait for it to finish.", severity="warning")
            return
        group = self._selected_group()
        if self.selection is None or group is None:
            self.notify("No targets loaded: press o to open a targets file.", severity="warning")
            return
        if group.version is None:
            self.notify("These targets cannot be reached: nothing can be applied to them.", severity="warning")
            return
        pending = sorted({p.version for m in group.members if m.report for p in m.report.pending})
        if not pending:
            self.notify("Nothing pending for this group: it is up to date with the plans.", title="Apply")
            return
        names = [m.target.name for m in group.members]
        body = Content.from_markup(
            "Apply the pending plans of [b]$plans[/b] (versions $versions) to $count at version $version: "
            "$names.\n\nEach target is its own transaction with every check; data loss is refused.",
            plans=self.session.plans_dir,
            versions=", ".join(str(v) for v in pending),
            count=plural(len(names), "target"),
            version=str(group.version),
            names=", ".join(names),
        )
        self.app.push_screen(
            ConfirmModal(f"Apply to {plural(len(names), 'target')}?", body, confirm_label="Apply"),
            lambda confirmed: self._confirmed(names, bool(confirmed)),
        )

    def _confirmed(self, names: list[str], confirmed: bool) -> None:
        if not confirmed or self.selection is None:
            return
        self.running = True
        for name in names:
            self.results.pop(name, None)
        self._say(Content.from_markup("[$text-warning]Applying to $count…[/]", count=plural(len(names), "target")))
        self.apply_group(self.selection.narrowed(names))

    @work(exclusive=True, group="fleet-apply", exit_on_error=False)
    async def apply_group(self, selection: Selection) -> None:
        try:
            report = await rollout.apply(
                selection,
                self.session.plans_dir,
                limits=Limits(),
                reporter=self._post_progress,
            )
        except Exception as error:
            self.post_message(self.Applied(None, error))
            return
        self.post_message(self.Applied(report))

    def _post_progress(self, event: FleetEvent) -> None:
        self.post_message(self.Progress(event))

    @on(Progress)
    def progress(self, message: Progress) -> None:
        event = message.event
        if isinstance(event, TargetDone):
            outcome = rollout.TargetOutcome.of(event.finished)
            self.results[outcome.name] = outcome
            table = self.query_one("#targets-table", DataTable)
            if outcome.name in {str(key.value) for key in table.rows}:
                table.update_cell(outcome.name, "result", self._result_text(outcome.name))
                if outcome.reason and table.get_row_index(outcome.name) == table.cursor_row:
                    self._show_detail(outcome.name)

    @on(Applied)
    def applied(self, message: Applied) -> None:
        self.running = False
        if message.report is None:
            assert message.error is not None
            self._say(Content.from_markup("[$text-error b]✗ $problem[/]", problem=error_text(message.error)))
            return
        report = message.report
        counts = report.counts()
        done = ", ".join(f"{counts[o]} {o.replace('-', ' ')}" for o in rollout.OUTCOMES if counts[o])
        if report.ok:
            self.notify(done, title="Apply finished")
        else:
            self.notify(done, title="Apply: some targets failed", severity="error")
        self.load()

    # --- other keys ------------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._say(Content.from_markup("[$text-muted]Refreshing…[/]"))
        self.load()

    def action_open(self) -> None:
        self.app.push_screen(TargetsFileModal(self.session.targets_file), self._open)

    def _open(self, path: str | None) -> None:
        if path is None:
            return
        self.session.targets_file = str(Path(path))
        self.results.clear()
        self.action_refresh()

    def action_back(self) -> None:
        if self.running:
            self.notify("A rollout is running: wait for it to finish.", severity="warning")
            return
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)
        else:
            self.app.exit()


def _count_text(count: int, style: str) -> Text:
    return Text(str(count), style=style if count else "dim", justify="right")
