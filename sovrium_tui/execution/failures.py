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


# What a generated step's failure on the rows already there asks of the person applying it, by SQLSTATE and the
# start of PostgreSQL's message (the same SQLSTATE from other statements gets no advice).
_UNFIT = "values the new type cannot hold: change or clear them in an `op: sql` step before this one"
_ROW_REMEDIES = (
    (
        "23502",
        "column ",
        "rows without a value: give the field a default (the plan fills them with it), or fill them in an "
        "`op: sql` step before this one",
    ),
    (
        "23505",
        "could not create unique index",
        "duplicate values: make them unique in an `op: sql` step before this one, or drop `unique`",
    ),
    (
        "23505",
        "duplicate key value",  # filling empty rows with the default, in a unique column
        "rows the step gives the same value in a unique field (a default fills every empty row alike): give them "
        "distinct values in an `op: sql` step before this one, or drop `unique`",
    ),
    (
        "23514",
        "check constraint",
        "rows the new rule refuses: change their values in an `op: sql` step before this one",
    ),
    ("22P02", "invalid input syntax", _UNFIT),  # text that is no number, …
    ("22007", "invalid input syntax", _UNFIT),  # … or no date or time
    ("22008", "", _UNFIT),  # a date or time out of range
    ("22015", "", _UNFIT),  # a duration out of range (a date read as one)
    ("22023", "", _UNFIT),  # text read as a time with a zone that is none; a list's length asked of JSON that is none
    ("22001", "", "values longer than the new type holds: shorten them in an `op: sql` step before this one"),
    ("22003", "", "values out of the new type's range: change them in an `op: sql` step before this one"),
    (
        "23503",
        "insert or update on table",
        "rows pointing at rows that do not exist: change or clear them in an `op: sql` step before this one",
    ),
)


def row_remedy(failure: BaseException, *, adds_column: bool = False, computes: bool = False) -> str | None:
    """What to do when a generated step failed on the rows already in the table, or None. A required column
    being added (`adds_column`) cannot be filled before its step; a formula computed for the rows there
    (`computes`) fails on values it cannot compute with."""
    state = str(getattr(failure, "sqlstate", "") or "")
    message = str(getattr(failure, "message", "") or "")
    if computes and state.startswith("22"):
        return (
            "rows a new formula cannot compute (PostgreSQL would refuse them at their next write too): change them "
            "in an `op: sql` step before this one, or change the formula"
        )
    if adds_column and state == "23502":
        return (
            "rows a required field without a default cannot be added to: give it a default (every row gets it), "
            "or add it optional, fill it, then make it required"
        )
    for code, opening, remedy in _ROW_REMEDIES:
        if state == code and message.startswith(opening):
            return remedy
    return None


# What a reverse step's failure on the rows there now asks of the person rolling back, by SQLSTATE: the rows were
# written, or their values dropped, after the version being undone, so the earlier rules do not hold for them.
_ROLLBACK_REMEDIES = {
    "23502": "rows hold no value there now: fill them (or delete those rows), then roll back",
    "23505": "rows written since repeat values the earlier version kept unique: change or delete them, then roll back",
    "23514": "rows written since break a rule the earlier version had: change or delete them, then roll back",
    "23503": "rows written since point at rows the earlier version's foreign key cannot find: change or delete them, "
    "then roll back",
    **dict.fromkeys(
        ("22P02", "22007", "22008", "22015", "22023"),  # text that is no number, no date or time, a date, time or
        # duration out of range, a time zone that is none
        "values written since do not fit the earlier version's type: change or clear them, then roll back",
    ),
    "22001": "values written since are longer than the earlier version allows: shorten them, then roll back",
    "22003": "values written since are out of the earlier version's range: change them, then roll back",
}


def rollback_remedy(failure: BaseException, *, adds_column: bool = False, computes: bool = False) -> str | None:
    """What to do when a reverse step failed on the rows there now, or None. A required column coming back
    (`adds_column`) has no values to come back with: a rollback restores structure, not values. An earlier
    formula computed again (`computes`) fails on values it cannot compute with."""
    state = str(getattr(failure, "sqlstate", "") or "")
    if computes and state.startswith("22"):
        return (
            "rows there now that the earlier version's formula cannot compute (it would refuse them at their next "
            "write too): change them, then roll back"
        )
    if adds_column and state == "23502":
        return (
            "the column comes back required, and the rows there now have no value for it (the values it held went "
            "with the version that dropped it; a rollback restores structure, not values): delete those rows first, "
            "or stay at this version and plan the change you want"
        )
    return _ROLLBACK_REMEDIES.get(state)


# An object the step expects is not there, or one it makes already is: what a plan that knows nothing of the
# database's accepted drift (one made offline) meets where that drift changed the same object.
_OBJECT_STATES = frozenset({"42P01", "42703", "42704", "42883", "42P07", "42710", "42701", "2BP01"})


def drift_conflict(failure: BaseException | None, differences: int, version: int) -> str | None:
    """What to do when a generated step met an object as the database's accepted drift left it (`differences`
    from version `version`'s schema), or None when the failure is of another kind or nothing was accepted."""
    if not differences or str(getattr(failure, "sqlstate", "") or "") not in _OBJECT_STATES:
        return None
    things = "difference" if differences == 1 else "differences"
    return (
        f"this database has drift accepted since version {version}'s schema ({differences} {things}, see "
        "`sovrium drift`), which a plan made offline knows nothing of: apply the schema with `sovrium migrate "
        "SCHEMA` (it plans against the database), or revert the drift first (`sovrium drift --revert-plan`)"
    )


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
