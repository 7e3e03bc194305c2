"""How a column changes type: the USING expression, and what can go wrong, in each direction."""

from __future__ import annotations

import re

from sovrium_tui.identifiers import quote_ident
from sovrium_tui.planning.changes import AlterColumnType
from sovrium_tui.planning.hazards import Hazard

_REWRITE: tuple[Hazard, ...] = ("table-rewrite", "exclusive-lock")
_MAY_FAIL: tuple[Hazard, ...] = ("narrowing", "fails-on-existing-rows", "table-rewrite", "exclusive-lock")
_LOSSY: tuple[Hazard, ...] = ("data-loss", "narrowing", "table-rewrite", "exclusive-lock")

_INTEGER_RANK = {"smallint": 1, "integer": 2, "bigint": 3}
_VARCHAR = re.compile(r"character varying(?:\((\d+)\))?")
_NUMERIC = re.compile(r"numeric(?:\((\d+),(\d+)\))?")
_STRINGS = ("text", "character varying")
_TIME = "time without time zone"


def type_change(table: str, column: str, before: str, after: str) -> AlterColumnType | None:
    """The change from `before` to `after` with USING expressions and hazards both ways; None: no conversion."""
    if not (_convertible(before, after) and _convertible(after, before)):
        return None
    using, hazards = _direction(column, before, after)
    reverse_using, reverse_hazards = _direction(column, after, before)
    return AlterColumnType(table, column, before, after, using, reverse_using, hazards, reverse_hazards)


def _convertible(before: str, after: str) -> bool:
    """Whether PostgreSQL can convert values of `before` to `after` at all (directly or through text): a uuid's
    text is never a number, a date or a truth value, nor is theirs ever a uuid, so a conversion between them
    would fail on every row that has a value (a uuid key turned integer is a new column, marked data-loss)."""
    if _is_array(after):
        return _is_array(before)
    if _is_array(before) or "point" in (before, after) or ("uuid" in (before, after) and before != after):
        return _is_string(after) or _is_string(before)
    return True


def _is_array(type_text: str) -> bool:
    return type_text.endswith("[]")


# Casts PostgreSQL has between these (other non-text sources go through text).
_DIRECT_CASTS = frozenset(
    {
        ("boolean", "integer"),
        ("integer", "boolean"),
        ("json", "jsonb"),
        ("jsonb", "json"),
        ("time without time zone", "interval"),
        ("interval", "time without time zone"),
    }
)


def _direction(column: str, before: str, after: str) -> tuple[str | None, tuple[Hazard, ...]]:
    name = quote_ident(column)
    if _is_string(before) and _is_string(after):
        return _string_to_string(name, before, after)
    if before in _INTEGER_RANK and after in _INTEGER_RANK:
        return (None, _REWRITE) if _INTEGER_RANK[after] > _INTEGER_RANK[before] else (None, _MAY_FAIL)
    if before in _INTEGER_RANK and _NUMERIC.fullmatch(after):
        return (None, _REWRITE) if after == "numeric" else (None, _MAY_FAIL)
    if _NUMERIC.fullmatch(before) and after in _INTEGER_RANK:
        return None, _LOSSY
    if _NUMERIC.fullmatch(before) and _NUMERIC.fullmatch(after):
        return None, (_REWRITE if after == "numeric" else _LOSSY)
    if _is_string(after):
        limit = _varchar_limit(after)
        if limit is None:
            return f"{name}::text", _REWRITE
        return f"left({name}::text, {limit})", _LOSSY
    if {before, after} == {"timestamp without time zone", "timestamp with time zone"}:
        return None, _REWRITE
    if before == "date" and after.startswith("timestamp"):
        return None, _REWRITE
    if before.startswith("timestamp") and after == "date":
        return None, _LOSSY
    if before.startswith("timestamp") and after == _TIME:
        return f"{name}::{_TIME}", _LOSSY  # the date is dropped
    if before == _TIME and after.startswith("timestamp"):
        # no cast exists: the time of day on 1970-01-01 (the session's time zone is UTC), so a datetime turned
        # into a time and back keeps what the time kept, and values written as times can be rolled back
        return f"('1970-01-01'::date + {name})::{after}", _REWRITE
    if before == "interval" and (after in _INTEGER_RANK or _NUMERIC.fullmatch(after)):
        # a number becomes a duration in seconds (`42::text::interval` is 42 seconds): the same way back
        return f"extract(epoch FROM {name})::{after}", (_REWRITE if after == "numeric" else _LOSSY)
    if _is_array(before) and _is_array(after):  # element by element, as the elements' cast (or through text)
        direct = _has_cast(before.removesuffix("[]"), after.removesuffix("[]"))
        return f"{name}::{after}" if direct else f"{name}::text::{after}", _MAY_FAIL
    if _is_string(before) or _is_array(before) or (before, after) in _DIRECT_CASTS:
        return f"{name}::{after}", _MAY_FAIL
    return f"{name}::text::{after}", _MAY_FAIL


_NUMBER = re.compile(r"smallint|integer|bigint|real|double precision|numeric(?:\(\d+,\d+\))?")
_MOMENTS = frozenset({"date", "timestamp without time zone", "timestamp with time zone"})


def _has_cast(before: str, after: str) -> bool:
    """Whether PostgreSQL has a cast from `before` to `after` (element types of arrays: an array casts element by
    element, and refuses the cast when its elements have none, `date[]` to `integer[]`)."""
    if before == after or _is_string(before) or _is_string(after) or (before, after) in _DIRECT_CASTS:
        return True
    if _NUMBER.fullmatch(before) and _NUMBER.fullmatch(after):
        return True
    return before in _MOMENTS and (after in _MOMENTS or (after == _TIME and before != "date"))


def _string_to_string(name: str, before: str, after: str) -> tuple[str | None, tuple[Hazard, ...]]:
    limit_after = _varchar_limit(after)
    if limit_after is None:
        return None, ()
    limit_before = _varchar_limit(before)
    if limit_before is not None and limit_before <= limit_after:
        return None, ()
    return f"left({name}, {limit_after})", _LOSSY


def _is_string(type_text: str) -> bool:
    return type_text == "text" or bool(_VARCHAR.fullmatch(type_text))


def _varchar_limit(type_text: str) -> int | None:
    match = _VARCHAR.fullmatch(type_text)
    if match is None or match.group(1) is None:
        return None
    return int(match.group(1))
