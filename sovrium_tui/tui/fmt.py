"""Small formatting helpers shared by the screens: timestamps, checksums, states and error texts."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

from sovrium_tui.errors import SovriumError

# A state word → the Rich style it is shown in (Rich styles, because DataTable cells are Rich renderables).
STATE_STYLES = {
    "applied": "green",
    "pending": "yellow",
    "rolled back": "magenta",
    "edited after apply": "bold red",
    "off chain": "dim",
    "unknown": "dim",
    "running": "bold yellow",
    "done": "green",
    "failed": "bold red",
    "undone": "magenta",
    "not run": "dim",
    "skipped": "dim",
    "COMPLETED": "green",
    "FAILED": "bold red",
}

_ERROR_TITLES = {
    "ConnectionFailed": "Database unreachable",
    "DestructiveRefused": "Destructive change refused",
    "DriftDetected": "Schema drift",
    "LockNotAcquired": "Migration lock busy",
    "PlanEdited": "Plan file edited",
    "PlanInvalid": "Invalid plan file",
    "PlanStale": "Plan is stale",
    "SchemaInvalid": "Invalid schema",
    "ServerError": "Embedded PostgreSQL",
    "StepFailed": "Step failed",
    "UsageError": "Cannot do that",
}


def when(moment: datetime | str | None) -> str:
    """A timestamp as `YYYY-MM-DD HH:MM:SS` in UTC (the column headers say UTC), or "" for none."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        moment = parsed
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def short(checksum: str | None) -> str:
    """The first 12 characters of a checksum, as the CLI shows them."""
    return checksum[:12] if checksum else "—"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def state_text(state: str) -> Text:
    """A state word styled by what it means (a DataTable cell)."""
    return Text(state, style=STATE_STYLES.get(state, ""))


def hazard_text(hazards: tuple[str, ...] | list[str]) -> Text:
    """Hazard badges: data loss in red, everything else in yellow (a DataTable cell)."""
    badges = Text()
    for hazard in hazards:
        if badges:
            badges.append(" ")
        style = "bold white on red" if hazard == "data-loss" else "black on yellow"
        badges.append(f" {hazard} ", style=style)
    return badges


def error_title(error: BaseException) -> str:
    """A short heading for an error: the category a user can act on, or "Unexpected error"."""
    if isinstance(error, SovriumError):
        return _ERROR_TITLES.get(type(error).__name__, "Error")
    return "Unexpected error"


def error_text(error: BaseException) -> str:
    """What a user reads about an error: the tool's own wording, or the exception for a bug."""
    if isinstance(error, SovriumError):
        return error.render()
    detail = str(error) or "(no message)"
    return f"{type(error).__name__}: {detail}\n\nThis is a bug in sovrium; the screen stays usable."
