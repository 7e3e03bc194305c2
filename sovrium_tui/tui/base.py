"""The base screens: each holds the Session it was given; inner screens go back with escape or q."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen

from sovrium_tui.tui.session import ServiceFailed, Session


class SovriumScreen(Screen[None]):
    """A full screen of the app. `HELP` is the paragraph the help screen shows above the keys."""

    HELP: ClassVar[str | None] = None

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def report_failure(self, action: str, error: Exception) -> None:
        """Post a failed service call upwards: this screen may show it as state, else the app shows a modal."""
        self.post_message(ServiceFailed(action, error))


class InnerScreen(SovriumScreen):
    """A screen opened from another: escape or q returns to it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
    ]

    def action_back(self) -> None:
        self.dismiss(None)
