"""One exception family for everything a user can act on; the CLI maps it to stderr and an exit code."""

from __future__ import annotations

from sovrium_tui.records import record

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DIFFERENCES = 3


@record
class Problem:
    """One thing wrong with an input document, with where it is."""

    message: str
    path: str = ""  # e.g. "tables[1].fields[0].type", within `source`
    line: int | None = None  # 1-based line in the source file, when known
    source: str | None = None  # the file it is in, when not the top-level one (a schema composed with $ref)

    def render(self, source: str | None = None) -> str:
        source = self.source or source
        where = [part for part in (source, self.path) if part]
        prefix = ": ".join(where)
        if self.line is not None and source:
            prefix = f"{source}:{self.line}" + (f": {self.path}" if self.path else "")
        return f"{prefix}: {self.message}" if prefix else self.message


class SovriumError(Exception):
    """Base of every error the tool reports to a user instead of a traceback."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def render(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def to_json(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": self.message, "location": self.location}


class SchemaInvalid(SovriumError):
    """The schema file cannot be read or breaks one or more rules; carries every problem found."""

    def __init__(self, problems: tuple[Problem, ...] | list[Problem], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        first = self.problems[0].message if self.problems else "invalid schema"
        super().__init__(first, location=source)

    def render(self) -> str:
        return "\n".join(problem.render(self.source) for problem in self.problems)

    def to_json(self) -> dict[str, object]:
        return {
            "error": "SchemaInvalid",
            "message": self.message,
            "location": self.location,
            "problems": [
                {"source": p.source or self.source, "path": p.path, "line": p.line, "message": p.message}
                for p in self.problems
            ],
        }


class TargetsInvalid(SovriumError):
    """A targets file (the databases of a fleet) cannot be read or breaks a rule; carries every problem found."""

    def __init__(self, problems: tuple[Problem, ...] | list[Problem], *, source: str) -> None:
        self.problems = tuple(problems)
        self.source = source
        first = self.problems[0].message if self.problems else "invalid targets file"
        super().__init__(first, location=source)

    def render(self) -> str:
        return "\n".join(problem.render(self.source) for problem in self.problems)

    def to_json(self) -> dict[str, object]:
        return {
            **super().to_json(),
            "problems": [{"path": p.path, "line": p.line, "message": p.message} for p in self.problems],
        }


class UsageError(SovriumError):
    """The command line itself is wrong."""

    exit_code = EXIT_USAGE


class PlanInvalid(SovriumError):
    """A plan file cannot be read or is not a well-formed plan."""


class PlanEdited(SovriumError):
    """A plan file's digest does not match its content."""


class PlanStale(SovriumError):
    """A plan was made from another state than the database is in."""


class DriftDetected(SovriumError):
    """The live database or the bookkeeping differs from what was recorded."""


class DestructiveRefused(SovriumError):
    """A plan would destroy data and no one allowed it; `losses` says what, one line each, with counts."""

    def __init__(self, message: str, *, losses: tuple[str, ...] = (), location: str | None = None) -> None:
        super().__init__(message, location=location)
        self.losses = losses

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "losses": list(self.losses)}


class ConnectionFailed(SovriumError):
    """The database cannot be reached or refuses us."""


class CommitOutcomeUnknown(ConnectionFailed):
    """The connection was lost while COMMIT was on its way: the transaction may or may not have committed."""


class LockNotAcquired(SovriumError):
    """Another runner holds the migration lock for longer than we may wait."""


class PlanTooLarge(SovriumError):
    """A plan would need more locks in one transaction than the server can hold."""


class VerificationFailed(SovriumError):
    """After its steps the database differs from the catalog the plan promised; it was rolled back."""


class ServerError(SovriumError):
    """The local (embedded) PostgreSQL server cannot be initialised, started or stopped."""


class StepFailed(SovriumError):
    """One step of a plan failed in the database; the whole transaction was rolled back."""

    def __init__(
        self, message: str, *, step: int, sql: str, location: str | None = None, lock_timeout: bool = False
    ) -> None:
        super().__init__(message, location=location)
        self.step = step
        self.sql = sql
        self.lock_timeout = lock_timeout  # it gave up waiting for a lock another session held

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "step": self.step, "sql": self.sql}
