"""Small formatting helpers shared by the screens: timestamps, checksums, states and error texts, and the only
ways text from files and databases reaches the screen (`safe`, `plain`, `cell`, `markup`): control characters
become visible escapes and Rich/Textual markup in the data is never interpreted."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from rich.console import JustifyMethod
from rich.text import Text
from textual.content import Content

from sovrium_tui.errors import SovriumError
from sovrium_tui.text import terminal_text

# A state word → the Rich style it is shown in (Rich styles, because DataTable cells are Rich renderables).
STATE_STYLES = {
    "applied": "green",
    "pending": "yellow",
    "rolled back": "magenta",
    "edited after apply": "bold red",
    "other plan applied": "bold red",
    "cannot apply": "red",
    "edited": "bold red",
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
    "passes": "green",
    "destroys": "bold red",
    "fails": "bold red",
    "not checked": "dim",
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


def safe(text: object) -> str:
    """Text from a file or a database with its control characters (an escape sequence, say) made visible."""
    return terminal_text(str(text))


def plain(text: object) -> Content:
    """Data as content: shown as it is, never read as markup (a border title, a dialog's text)."""
    return Content(safe(text))


def cell(text: object, *, style: str = "", justify: JustifyMethod | None = None) -> Text:
    """Data as a table cell or tree label (Rich text, which never reads markup)."""
    return Text(safe(text), style=style, justify=justify)


def markup(template: str, **values: object) -> Content:
    """Our markup with data substituted for `$name` (the data is never read as markup, and made safe)."""
    return Content.from_markup(template, **{key: safe(v) if isinstance(v, str) else v for key, v in values.items()})


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


def state_text(state: str) -> Text:
    """A state word styled by what it means (a DataTable cell)."""
    return cell(state, style=STATE_STYLES.get(state, ""))


def hazard_text(hazards: tuple[str, ...] | list[str]) -> Text:
    """Hazard badges: data loss in red, everything else in yellow (a DataTable cell)."""
    badges = Text()
    for hazard in hazards:
        if badges:
            badges.append(" ")
        style = "bold white on red" if hazard == "data-loss" else "black on yellow"
        badges.append(f" {safe(hazard)} ", style=style)
    return badges


def error_title(error: BaseException) -> str:
    """A short heading for an error: the category a user can act on, or "Unexpected error"."""
    if isinstance(error, SovriumError):
        return _ERROR_TITLES.get(type(error).__name__, "Error")
    return "Unexpected error"


def error_text(error: BaseException) -> str:
    """What a user reads about an error: the tool's own wording, or the exception for a bug."""
    if isinstance(error, SovriumError):
        return safe(error.render())
    detail = safe(error) or "(no message)"
    return f"{type(error).__name__}: {detail}\n\nThis is a bug in sovrium; the screen stays usable."


# How review tallies a plan's steps, like Terraform's "Plan: 6 to add, 1 to change, 1 to destroy".
_TALLY_ORDER = ("create", "rename", "change", "drop", "destroy")


def step_kind(op: str, hazards: Sequence[str]) -> str:
    """What a step does, in one word: destroy (data may be lost), drop, create, rename or change."""
    if "data-loss" in hazards or "narrowing" in hazards:
        return "destroy"
    if op.startswith("drop_"):
        return "drop"
    if op.startswith(("create_", "add_")):
        return "create"
    if op.startswith("rename_"):
        return "rename"
    return "change"


def step_tally(steps: Iterable[tuple[str, Sequence[str]]]) -> str:
    """`1 rename, 4 create, 1 drop, 1 destroy` for (op, hazards) pairs; "no steps" for none."""
    counts: dict[str, int] = {}
    for op, hazards in steps:
        kind = step_kind(op, hazards)
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{counts[kind]} {kind}" for kind in _TALLY_ORDER if kind in counts) or "no steps"


_COUNTED = re.compile(r"\((\d+) ([a-z -]+)\)$")
_UNIT_WORDS = {"non-null value": "values", "row": "rows"}


def loss_total(losses: Iterable[str]) -> str:
    """`40 values, 25 rows`: what the counted losses add up to ("" when nothing was counted)."""
    totals: dict[str, int] = {}
    for loss in losses:
        match = _COUNTED.search(loss)
        if match is None:
            continue
        unit = match.group(2).removesuffix("s")
        word = _UNIT_WORDS.get(unit, match.group(2))
        totals[word] = totals.get(word, 0) + int(match.group(1))
    return ", ".join(f"{count} {unit.removesuffix('s') if count == 1 else unit}" for unit, count in totals.items())
