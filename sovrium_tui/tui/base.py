"""The base screens: each holds the Session it was given and says in its title when the terminal is too small;
inner screens go back with escape or q."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.screen import Screen

from sovrium_tui.tui.session import ServiceFailed, Session

# The size every screen is laid out for; below it panels shrink (the lists that matter keep a few rows).
MIN_WIDTH, MIN_HEIGHT = 80, 24


def small_terminal_notice(width: int, height: int) -> str:
    """The words the title shows below 80×24 ("" at 80×24 and up)."""
    if width >= MIN_WIDTH and height >= MIN_HEIGHT:
        return ""
    return f"{width}×{height} < {MIN_WIDTH}×{MIN_HEIGHT}"


class SovriumScreen(Screen[None]):
    """A full screen of the app. `HELP` is the paragraph the help screen shows above the keys."""

    HELP: ClassVar[str | None] = None
    NAME: ClassVar[str] = "Sovrium"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.screen_name = self.NAME

    def on_mount(self) -> None:
        self.show_title()

    def on_resize(self, event: events.Resize) -> None:
        self.show_title()

    def show_title(self) -> None:
        """The screen's name in the header, and a notice when the terminal is smaller than 80×24."""
        notice = small_terminal_notice(self.app.size.width, self.app.size.height)
        self.sub_title = f"{self.screen_name} · {notice}" if notice else self.screen_name

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
