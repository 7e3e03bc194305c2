"""What the executor reports while it works, as typed values; the CLI prints them, the TUI posts them.

The executor never prints: it hands each event to a `Reporter`, so one code path serves a terminal, a
Textual screen and a test that collects events in a list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from sovrium_tui.records import record

# What a transaction that did not commit left behind: nothing (rolled back), nothing on purpose (a dry run),
# or nobody knows (the connection was lost while COMMIT was on its way).
Outcome = Literal["unchanged", "dry-run", "unknown"]


@record
class PlanStarted:
    """The lock is held and every check passed; `step_count` steps are about to run. `version` is the version
    the apply makes, or the version a rollback goes back to."""

    version: int
    step_count: int
    operation: Literal["apply", "rollback"] = "apply"


@record
class StepStarted:
    """One step is being sent to the database (as one round trip)."""

    step_id: int
    summary: str


@record
class StepFinished:
    """One step ran without error; the transaction is still open. `sent_with`: the step it was sent with, in one
    round trip (that step's time is the group's)."""

    step_id: int
    elapsed_ms: int
    sent_with: int | None = None

    @property
    def took(self) -> str:
        return f"with step {self.sent_with}" if self.sent_with is not None else f"{self.elapsed_ms} ms"


@record
class StepFailed:
    """One step failed with `message` (PostgreSQL's own text); the transaction will be rolled back."""

    step_id: int
    message: str


@record
class PlanFinished:
    """The transaction committed; the database is at `version`."""

    version: int
    elapsed_ms: int


@record
class PlanRolledBack:
    """The transaction did not commit (a failure, a refusal or a dry run): `outcome` says what that left.

    `version` is the version the apply would have made, or the version a rollback aimed for.
    """

    version: int
    reason: str
    outcome: Outcome = "unchanged"
    operation: Literal["apply", "rollback"] = "apply"


@record
class LockWaiting:
    """Another runner holds the migration lock; we wait for it (bounded by the lock wait)."""

    holder: str


@record
class TableLockWaiting:
    """A step (or the locking of the plan's tables) waits for a lock another session holds; sent about every
    second while it waits, so a screen can say who is in the way and how long is left."""

    what: str  # "step 3", "locking the plan's tables"
    holders: str  # who holds the lock, in words (pid, user, application, state, how long, last query)
    waited_s: float
    limit: str  # the lock_timeout that will end the wait

    @property
    def seconds_left(self) -> float | None:
        """How long until lock_timeout ends the wait; None when it never does (0) or cannot be read."""
        limit = duration_seconds(self.limit)
        return None if not limit else max(0.0, limit - self.waited_s)


Event = (
    PlanStarted
    | StepStarted
    | StepFinished
    | StepFailed
    | PlanFinished
    | PlanRolledBack
    | LockWaiting
    | TableLockWaiting
)
Reporter = Callable[[Event], None]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def duration_seconds(setting: str) -> float | None:
    """A PostgreSQL time setting ("10s", "1min", "500" meaning ms) in seconds; None when it is not one."""
    match = _DURATION.match(setting)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "ms"]


def ignore_events(event: Event) -> None:
    """A reporter that drops every event, for callers that only want the result."""
    del event
