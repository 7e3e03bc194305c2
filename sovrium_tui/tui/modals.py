"""Modal screens: an error, a yes/no confirmation, a typed confirmation for data loss, help, and a new plan."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from sovrium_tui.records import record
from sovrium_tui.tui.fmt import error_text, error_title, markup, plain

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
            dialog.border_title = plain(self.error_heading)
            yield Label(markup("[dim]enter / escape to close · arrows scroll[/]"), classes="dialog-foot")
            with VerticalScroll(classes="dialog-body"):
                yield Static(plain(self.error_body), id="error-text")

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
            dialog.border_title = plain(self.result_title)
            yield Label(markup("[dim]enter / escape to close · arrows scroll[/]"), classes="dialog-foot")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body, id="result-body")

    def action_close(self) -> None:
        self.dismiss(None)


class ScrollsBody:
    """Arrows and page keys scroll a dialog's body while the focus stays on its answer."""

    SCROLL_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_body('up')", "Scroll up", show=False),
        Binding("down", "scroll_body('down')", "Scroll down", show=False),
        Binding("pageup", "scroll_body('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll_body('page_down')", "Page down", show=False),
    ]

    def action_scroll_body(self, how: str) -> None:
        assert isinstance(self, ModalScreen)
        body = self.query_one(".dialog-body", VerticalScroll)
        {"up": body.scroll_up, "down": body.scroll_down, "page_up": body.scroll_page_up}.get(
            how, body.scroll_page_down
        )(animate=False)


class ConfirmModal(ScrollsBody, ModalScreen[bool]):
    """A yes/no question that states what will happen; y or enter confirms, n or escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        *ScrollsBody.SCROLL_BINDINGS,
    ]

    def __init__(self, title: str, body: Content | str, *, confirm_label: str = "Confirm") -> None:
        super().__init__()
        self.question = title
        self.body = body
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = plain(self.question)
            with Horizontal(classes="dialog-foot dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm", variant="primary", compact=True)
                yield Button("Cancel (n)", id="cancel", compact=True)
            with VerticalScroll(classes="dialog-body", can_focus=False):
                yield Static(self.body)

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TypedConfirmModal(ScrollsBody, ModalScreen[bool]):
    """Data would be lost: only typing the confirmation word and pressing enter goes ahead; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        *ScrollsBody.SCROLL_BINDINGS,
    ]

    def __init__(self, title: str, body: Content | str, *, word: str = CONFIRM_WORD) -> None:
        super().__init__()
        self.question = title
        self.body = body
        self.word = word

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger-dialog") as dialog:
            dialog.border_title = plain(self.question)
            with Vertical(classes="dialog-foot"):
                yield Label(
                    markup(
                        "Type [b]$word[/b] and press enter to go ahead · escape cancels · ↑↓ scroll",
                        word=self.word,
                    ),
                    classes="dialog-prompt",
                )
                yield Input(placeholder=self.word, id="confirm-word", compact=True)
                yield Label("", id="confirm-refusal")
            with VerticalScroll(classes="dialog-body", can_focus=False):
                yield Static(self.body)

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
            markup("[$text-error]$typed is not [b]$word[/b]: nothing was done.[/]", typed=repr(typed), word=self.word)
        )
        event.input.clear()

    def action_cancel(self) -> None:
        self.dismiss(False)


class HelpModal(ModalScreen[None]):
    """What the screen underneath is for, and every key that works there (arrows scroll a long list)."""

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
            dialog.border_title = plain(f"Help: {self.help_title}")
            yield Label(
                markup("[dim]escape closes · ↑↓ scroll · ctrl+q quits · ctrl+p: every action[/]"),
                classes="dialog-foot",
            )
            with VerticalScroll(classes="dialog-body", id="help-body"):
                yield Static(Content("\n").join(lines))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class ReasonModal(ModalScreen[str | None]):
    """Ask for the reason an audited action needs (it is kept in the log); enter goes ahead, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, body: Content | str, *, action_label: str) -> None:
        super().__init__()
        self.question = title
        self.body = body
        self.action_label = action_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = plain(self.question)
            with Vertical(classes="dialog-foot"):
                yield Input(placeholder="reason (kept in the audit log)", id="reason-text", compact=True)
                yield Label(
                    markup("[dim]enter: $label · escape: cancel (nothing is done)[/]", label=self.action_label),
                    id="reason-hint",
                )
            with VerticalScroll(classes="dialog-body", can_focus=False):
                yield Static(self.body)

    def on_mount(self) -> None:
        self.query_one("#reason-text", Input).focus()

    @on(Input.Submitted, "#reason-text")
    def submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            self.query_one("#reason-hint", Label).update(
                markup("[$text-error]A reason is needed: it is kept in the audit log.[/]")
            )
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


@record
class NewPlanRequest:
    name: str | None
    offline: bool


class OfflineCheckbox(Checkbox, inherit_bindings=False):
    """Space toggles it; enter is left to the dialog (makes the plan), as its button says."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_button", "Toggle", show=False),
    ]


class NewPlanModal(ModalScreen[NewPlanRequest | None]):
    """Ask how to make the next plan from the schema: an optional name, and online or offline."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "make", "Make plan"),
    ]

    def __init__(self, schema: str, plans_dir: str) -> None:
        super().__init__()
        self.schema = schema
        self.plans_dir = plans_dir

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "New plan"
            yield Static(
                markup(
                    "Diff [b]$schema[/b] against the database and write the next plan into [b]$dir[/b].",
                    schema=self.schema,
                    dir=self.plans_dir,
                )
            )
            yield Input(placeholder="name (optional, e.g. add_phone)", id="plan-name", compact=True)
            yield OfflineCheckbox(
                "offline: diff against the newest plan file instead (space toggles)", id="plan-offline", compact=True
            )
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

    def action_make(self) -> None:
        self.dismiss(self._request())

    def action_cancel(self) -> None:
        self.dismiss(None)
