"""Checking plan SQL before anything touches the database: one statement per item, and it parses."""

from __future__ import annotations

import functools
import logging
import re

_NAME = r"(?:[a-z_][a-z0-9_$]*|\"(?:[^\"]|\"\")+\")"
_QUALIFIED = rf"(?:{_NAME}\.)?{_NAME}"

# Valid PostgreSQL statements that sqlglot (postgres dialect) cannot parse, or only keeps as an opaque
# Command. These shapes are accepted when they tokenize cleanly as one statement; any other statement
# sqlglot does not understand is refused.
_KNOWN_PARSER_GAPS = tuple(
    re.compile(pattern, re.IGNORECASE | re.DOTALL)
    for pattern in (
        rf"^ALTER TABLE {_QUALIFIED} ADD CONSTRAINT {_NAME} EXCLUDE USING \w+ \(.*\)$",
        rf"^ALTER TABLE {_QUALIFIED} RENAME CONSTRAINT {_NAME} TO {_NAME}$",
        rf"^ALTER TRIGGER {_NAME} ON {_QUALIFIED} RENAME TO {_NAME}$",
        rf"^ALTER FUNCTION {_QUALIFIED}\(\) RENAME TO {_NAME}$",
        rf"^CREATE (?:OR REPLACE )?FUNCTION {_QUALIFIED}\(\) RETURNS trigger LANGUAGE plpgsql "
        r"AS (?:(\$\w*\$).*\1|'(?:[^']|'')*')$",
        r"^DO (\$\w*\$).*\1$",
        rf"^CREATE EXTENSION (?:IF NOT EXISTS )?{_NAME}$",
        r"^COMMENT ON (?:TABLE|COLUMN|INDEX|CONSTRAINT) .+ IS '.*'$",
    )
)


@functools.cache
def _quiet_sqlglot() -> None:
    # sqlglot logs a warning when it falls back to an opaque Command; that is not a problem here.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


def statement_problem(statement: str) -> str | None:
    """Why this text is not one parseable PostgreSQL statement, or None when it is."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    _quiet_sqlglot()
    if not statement.strip():
        return "empty statement"
    known_gap = any(gap.match(statement.strip().rstrip(";").strip()) for gap in _KNOWN_PARSER_GAPS)
    try:
        parsed = [e for e in sqlglot.parse(statement, read="postgres") if e is not None]
    except TokenError as failure:
        return f"cannot be read as SQL: {_first_line(failure)}"
    except ParseError as failure:
        if not known_gap:
            return f"does not parse as PostgreSQL: {_first_line(failure)}"
        try:
            tokens = sqlglot.tokenize(statement, read="postgres")
        except TokenError as token_failure:
            return f"cannot be read as SQL: {_first_line(token_failure)}"
        separators = [t for t in tokens if t.token_type.name == "SEMICOLON"]
        if separators and separators[0] is not tokens[-1]:
            return _SEVERAL
        return None
    if len(parsed) > 1:
        return _SEVERAL
    if not parsed:
        return "expected exactly one statement"
    if isinstance(parsed[0], sqlglot.exp.Command) and not known_gap:
        words = " ".join(statement.split()[:3])
        return f"does not parse as PostgreSQL: the parser does not understand '{words} …'"
    return None


_SEVERAL = "more than one statement in one item (put each statement in its own list item)"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
