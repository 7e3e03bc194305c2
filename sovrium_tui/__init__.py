"""sovrium-tui: schema migrations for Sovrium apps on PostgreSQL.

For an application's start-up, in-process::

    import sovrium_tui
    outcome = sovrium_tui.migrate("app.yaml", "postgresql://app@db/app")   # or await migrate_async(...)
    print(outcome.status, outcome.version)   # "up-to-date" or "migrated"

Both raise a `sovrium_tui.errors.SovriumError` (with `.render()` for the message) when the schema is invalid,
the database cannot be reached, or the migration is refused or fails (it is then rolled back completely).
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the start-up path milliseconds
if TYPE_CHECKING:
    from pathlib import Path

    from sovrium_tui.startup import MigrateOutcome

__all__ = ["__version__", "migrate", "migrate_async"]


def migrate(schema: str | Path, database_url: str | None = None, *, allow_destructive: bool = False) -> MigrateOutcome:
    """Bring the database to `schema`: instant when it is already there, else one planned transaction."""
    from sovrium_tui.startup import migrate_fast

    quick = migrate_fast(schema, database_url=database_url)
    if quick is not None:
        return quick
    from sovrium_tui import services

    return services.run_async(services.migrate(schema, database_url=database_url, allow_destructive=allow_destructive))


async def migrate_async(
    schema: str | Path, database_url: str | None = None, *, allow_destructive: bool = False
) -> MigrateOutcome:
    """The same as `migrate`, for code already running an asyncio event loop."""
    from sovrium_tui import services
    from sovrium_tui.startup import migrate_fast

    quick = migrate_fast(schema, database_url=database_url)
    if quick is not None:
        return quick
    return await services.migrate(schema, database_url=database_url, allow_destructive=allow_destructive)
