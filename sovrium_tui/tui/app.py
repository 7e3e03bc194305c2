"""The Textual app: its screens, the keys that work everywhere, the command palette, and the `run_tui` entry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from sovrium_tui.records import record
from sovrium_tui.tui.base import SovriumScreen
from sovrium_tui.tui.dashboard import DashboardScreen
from sovrium_tui.tui.modals import ErrorModal, HelpModal
from sovrium_tui.tui.session import ServiceFailed, Session


@record
class ScreenAction:
    key: str
    description: str
    action: str
    node: DOMNode


def screen_actions(app: App[Any], screen: Screen[Any]) -> list[ScreenAction]:
    """The actions the footer shows for a screen (its focused widget's, its own and the app's), each once."""
    actions: list[ScreenAction] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.show and binding.description and active.enabled and binding.action not in seen:
            seen.add(binding.action)
            actions.append(ScreenAction(app.get_key_display(binding), binding.description, binding.action, active.node))
    return actions


class ScreenActions(Provider):
    """Every action of the screen the palette was opened on, by its name, with its key as help."""

    async def discover(self) -> Hits:
        for found in screen_actions(self.app, self.screen):
            yield DiscoveryHit(found.description, self._runner(found), help=f"key: {found.key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for found in screen_actions(self.app, self.screen):
            score = matcher.match(found.description)
            if score > 0:
                yield Hit(score, matcher.highlight(found.description), self._runner(found), help=f"key: {found.key}")

    def _runner(self, found: ScreenAction) -> Callable[[], Awaitable[bool]]:
        return partial(self.app.run_action, found.action, found.node)


class SovriumApp(App[None]):
    """Review, apply and roll back plans; every database call goes through `services` in a worker."""

    CSS_PATH: ClassVar = ["app.tcss", "fleet.tcss"]
    TITLE = "Sovrium"
    COMMANDS: ClassVar = App.COMMANDS | {ScreenActions}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    # Below 24 rows the panels that matter keep their rows and the others shrink or step aside; from 40 up the
    # lists grow.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-normal"), (40, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Light/dark", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._recovering = False

    def get_default_screen(self) -> Screen[None]:
        if self.session.targets_file is not None:
            from sovrium_tui.tui.fleet import FleetScreen

            return FleetScreen(self.session)
        return DashboardScreen(self.session)

    def on_service_failed(self, message: ServiceFailed) -> None:
        """A screen let a failed service call through: show it, the screen stays usable."""
        self.push_screen(ErrorModal.of(message.error, doing=message.action))

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, ModalScreen):
            return
        keys = [(found.key, found.description) for found in screen_actions(self, screen)]
        keys += [("f", "Full screen: the focused panel (escape returns)"), ("tab", "Next pane")]
        keys += [("ctrl+p", "Command palette: every action by name"), ("ctrl+t", "Light or dark theme")]
        keys += [("ctrl+q", "Quit from anywhere")]
        text = screen.HELP if isinstance(screen, SovriumScreen) and screen.HELP else ""
        self.push_screen(HelpModal(screen.sub_title or "Sovrium", text, keys))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def _handle_exception(self, error: Exception) -> None:
        """A bug in a handler becomes an error modal instead of ending the session.

        The screen it happened on may no longer process messages, so closing the modal replaces that screen:
        an inner screen is closed, the dashboard is opened afresh. A second failure meanwhile ends the app.
        """
        if self._recovering or not self.is_running or not self.screen_stack:
            super()._handle_exception(error)
            return
        self._recovering = True
        # Pushed from the app's own queue: the modal's result must not be routed through the broken screen.
        self.call_later(self._show_crash, getattr(error, "error", error), self.screen)

    def _show_crash(self, error: BaseException, broken: Screen[object]) -> None:
        self.push_screen(ErrorModal.of(error), partial(self._recover, broken))

    def _recover(self, broken: Screen[object], _: None) -> None:
        self._recovering = False
        if broken is not self.screen:
            return
        if len(self.screen_stack) > 1:
            self.pop_screen()
        else:
            self.switch_screen(DashboardScreen(self.session))


def run_tui(schema: str | None, plans_dir: str, database_url: str | None, *, targets: str | None = None) -> int:
    """Run the terminal UI until the user quits; the exit status for `sovrium tui` (`targets`: the fleet view)."""
    app = SovriumApp(Session(schema=schema, plans_dir=plans_dir, database_url=database_url, targets_file=targets))
    app.run()
    return app.return_code or 0
