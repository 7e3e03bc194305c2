"""Turning what the database or the connection raised into one of this tool's errors, in words."""

from __future__ import annotations

from sovrium_tui.errors import ConnectionFailed, SovriumError


def postgres_text(failure: BaseException) -> str:
    """PostgreSQL's message on one line, with its detail and hint (once each) when it gave them.

    All of the server's message is kept (a step's `RAISE EXCEPTION` may span lines: they are joined); of any
    other error, the first line.
    """
    message = getattr(failure, "message", None)
    if message:
        text = " ".join(str(message).split())
    else:
        text = str(failure.args[0] if failure.args else failure)
        text = " ".join(text.split("\n", maxsplit=1)[0].split()) if text else type(failure).__name__
    for label in ("detail", "hint"):
        extra = getattr(failure, label, None)
        if extra:
            text += f" ({label}: {extra})"
    return text


def connection_lost(failure: BaseException) -> bool:
    """Whether the server ended the session (shut down, crashed, killed it) or the connection broke."""
    state = str(getattr(failure, "sqlstate", "") or "")
    return state.startswith(("08", "57P"))


def as_sovrium_error(failure: BaseException, *, doing: str = "migration") -> SovriumError:
    """The failure as one of our errors: ours unchanged, a lost connection or a database error in words."""
    import asyncpg

    if isinstance(failure, SovriumError):
        return failure
    if isinstance(failure, asyncpg.PostgresError) and not connection_lost(failure):
        return SovriumError(f"{doing} failed: {postgres_text(failure)}")
    if isinstance(failure, (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        return ConnectionFailed(
            f"Database connection failed during the {doing}: {postgres_text(failure)}; PostgreSQL rolls back a "
            "transaction whose connection is lost, so nothing was changed"
        )
    return SovriumError(f"{doing} failed: {type(failure).__name__}: {failure}")
