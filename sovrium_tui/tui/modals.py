"""Modal screens: an error, a yes/no confirmation, a typed confirmation for data loss, help, and a new plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from sovrium_tui.tui.fmt import error_text, error_title

CONFIRM_WORD = "destroy"


class ErrorModal(ModalScreen[None]):
    """An error in words a user can act on; any of enter, escape or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.error_heading = title
        self.error_body = text

    @classmethod
    def of(cls, error: BaseException, *, doing: str | None = None) -> ErrorModal:
        """The modal for an exception; `doing` says what was attempted ("apply", "load the history")."""
        heading = error_title(error)
        if doing:
            heading = f"{heading} ({doing})"
        return cls(heading, error_text(error))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog") as dialog:
            dialog.border_title = self.error_heading
            with VerticalScroll(classes="dialog-body"):
                yield Static(Content(self.error_body), id="error-text")
            yield Label(Content.from_markup("[dim]enter / escape to close[/]"), classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


class ResultModal(ModalScreen[None]):
    """The outcome of a check (e.g. a verify round trip), green when it passed and red when not."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close"),
    ]

    def __init__(self, title: str, body: Content | str, *, passed: bool) -> None:
        super().__init__()
        self.result_title = title
        self.body = body
        self.passed = passed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog" if self.passed else "dialog error-dialog") as dialog:
            dialog.border_title = self.result_title
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body, id="result-body")
            yield Label(Content.from_markup("[dim]enter / escape to close[/]"), classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question that states what will happen; y or enter confirms, n or escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, body: Content | str, *, confirm_label: str = "Confirm") -> None:
        super().__init__()
        self.question = title
        self.body = body
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.question
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm", variant="primary", compact=True)
                yield Button("Cancel (n)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TypedConfirmModal(ModalScreen[bool]):
    """Data would be lost: only typing the confirmation word and pressing enter goes ahead; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, body: Content | str, *, word: str = CONFIRM_WORD) -> None:
        super().__init__()
        self.question = title
        self.body = body
        self.word = word

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger-dialog") as dialog:
            dialog.border_title = self.question
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body)
            yield Label(
                Content.from_markup("Type [b]$word[/b] and press enter to go ahead; escape cancels.", word=self.word),
                classes="dialog-prompt",
            )
            yield Input(placeholder=self.word, id="confirm-word", compact=True)
            yield Label("", id="confirm-refusal")

    def on_mount(self) -> None:
        self.query_one("#confirm-word", Input).focus()

    @on(Input.Submitted, "#confirm-word")
    def submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.word:
            self.dismiss(True)
            return
        typed = event.value.strip() or "nothing"
        refusal = self.query_one("#confirm-refusal", Label)
        refusal.update(
            Content.from_markup(
                "[$text-error]$typed is not [b]$word[/b]: nothing was done.[/]", typed=repr(typed), word=self.word
            )
        )
        event.input.clear()

    def action_cancel(self) -> None:
        self.dismiss(False)


class HelpModal(ModalScreen[None]):
    """What the screen underneath is for, and every key that works there."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,enter", "close", "Close"),
    ]

    def __init__(self, title: str, text: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.help_title = title
        self.help_text = text
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _ in self.keys), default=0)
        lines = [Content(self.help_text.strip()), Content("")]
        lines += [
            Content.assemble((key.rjust(width), "bold $text-accent"), "  ", description)
            for key, description in self.keys
        ]
        with Vertical(classes="dialog help-dialog") as dialog:
            dialog.border_title = f"Help: {self.help_title}"
            with VerticalScroll(classes="dialog-body"):
                yield Static(Content("\n").join(lines))
            yield Label(
                Content.from_markup("[dim]escape to close · ctrl+p lists every action[/]"), classes="dialog-hint"
            )

    def action_close(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True, slots=True)
class NewPlanRequest:
    name: str | None
    offline: bool


class NewPlanModal(ModalScreen[NewPlanRequest | None]):
    """Ask how to make the next plan from the schema: an optional name, and online or offline."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, schema: str, plans_dir: str) -> None:
        super().__init__()
        self.schema = schema
        self.plans_dir = plans_dir

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "New plan"
            yield Static(
                Content.from_markup(
                    "Diff [b]$schema[/b] against the database and write the next plan into [b]$dir[/b].",
                    schema=self.schema,
                    dir=self.plans_dir,
                )
            )
            yield Input(placeholder="name (optional, e.g. add_phone)", id="plan-name", compact=True)
            yield Checkbox("offline: diff against the newest plan file instead", id="plan-offline", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Make plan (enter)", id="make", variant="primary", compact=True)
                yield Button("Cancel (escape)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#plan-name", Input).focus()

    def _request(self) -> NewPlanRequest:
        name = self.query_one("#plan-name", Input).value.strip()
        return NewPlanRequest(name or None, self.query_one("#plan-offline", Checkbox).value)

    @on(Input.Submitted, "#plan-name")
    def submitted(self) -> None:
        self.dismiss(self._request())

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._request() if event.button.id == "make" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
