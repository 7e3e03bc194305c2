"""Compile a validated App into the Catalog PostgreSQL prints back for it: pure, deterministic, no I/O.

Every text is written in PostgreSQL's own deparsed form (`format_type`, `pg_get_expr`,
`pg_get_constraintdef`, `pg_get_indexdef` keys, `prosrc`), chosen so that PostgreSQL 15 and 18 print the
same text back when it is used as DDL. Temporal literals assume the sessions that create and introspect run
with `TimeZone = 'UTC'`, `DateStyle = 'ISO, MDY'` and `IntervalStyle = 'postgres'` (the server defaults).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Literal, TypeVar

from sovrium_tui.catalog import ai, formula
from sovrium_tui.catalog.model import (
    AuthUsers,
    Catalog,
    Column,
    Constraint,
    Function,
    Index,
    Table,
    Trigger,
    View,
)
from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.identifiers import MAX_IDENTIFIER_BYTES, quote_ident, quote_literal, truncate_identifier
from sovrium_tui.pgparse import column_references
from sovrium_tui.records import record
from sovrium_tui.schema.field_types import (
    BARCODE_PATTERNS,
    COLOR_PATTERN,
    FOREIGN_KEY_RELATIONS,
    NO_COLUMN_TYPES,
    VIEW_COMPUTED_TYPES,
    canonical_type,
    creates_column,
)
from sovrium_tui.schema.formula import parse_formula
from sovrium_tui.schema.formula_types import field_kinds, result_type_problem, trigger_result_problem
from sovrium_tui.schema.model import App, DefaultValue, Field
from sovrium_tui.schema.model import Table as SchemaTable

VARCHAR_255 = "character varying(255)"
MAX_COLUMNS = 1600  # PostgreSQL's MaxHeapAttributeNumber
TIMESTAMP = "timestamp without time zone"
TIMESTAMPTZ = "timestamp with time zone"

# The only table outside `public` the compiler points at: Better Auth's users (when `app.auth` is set).
AUTH_USER_REFERENCE = 'auth."user"(id)'
AUTH_USER_TABLE = "user"  # pg_constraint's referenced relname, as introspection reports it

# `array.itemType` spellings and the element type format_type() prints for them.
ARRAY_ITEM_TYPES = {
    **dict.fromkeys(("text", "string"), "text"),
    **dict.fromkeys(("varchar", "character varying"), "character varying"),
    **dict.fromkeys(("integer", "int", "int4"), "integer"),
    **dict.fromkeys(("bigint", "int8"), "bigint"),
    **dict.fromkeys(("smallint", "int2"), "smallint"),
    **dict.fromkeys(("number", "decimal", "numeric"), "numeric"),
    **dict.fromkeys(("double precision", "float", "float8"), "double precision"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    "date": "date",
    **dict.fromkeys(("datetime", "timestamptz", "timestamp with time zone"), TIMESTAMPTZ),
    **dict.fromkeys(("timestamp", "timestamp without time zone"), TIMESTAMP),
    **dict.fromkeys(("time", "time without time zone"), "time without time zone"),
    "interval": "interval",
    "uuid": "uuid",
    "jsonb": "jsonb",
}

_REFERENTIAL_ACTIONS = {
    "cascade": "CASCADE",
    "set-null": "SET NULL",
    "set-default": "SET DEFAULT",
    "restrict": "RESTRICT",
    "no-action": None,
}

# Plural table names Sovrium singularises by hand for junction columns; any other word loses one final "s".
IRREGULAR_SINGULARS = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "mice": "mouse",
    "geese": "goose",
    "feet": "foot",
    "teeth": "tooth",
    "data": "datum",
    "media": "medium",
    "criteria": "criterion",
    "phenomena": "phenomenon",
}


_T = TypeVar("_T")


class _FieldError(ValueError):
    """A field (or table rule) the compiler cannot turn into DDL; becomes one Problem."""


# ---------------------------------------------------------------------------------------------------------
# Constants in PostgreSQL's printed form
# ---------------------------------------------------------------------------------------------------------

_INT4 = range(-(2**31), 2**31)
_INT8 = range(-(2**63), 2**63)


@record
class NumberLiteral:
    """A numeric constant as ruleutils prints it, with the type the parser gives it."""

    text: str
    kind: str  # "integer", "bigint" or "numeric"

    def as_numeric(self) -> str:
        """The constant coerced to numeric, as printed inside expressions (the cast shows there)."""
        return self.text if self.kind == "numeric" else f"({self.text})::numeric"


@functools.lru_cache(maxsize=4096, typed=True)  # the same few bounds and defaults, field after field
def number_literal(value: int | float | Decimal | str) -> NumberLiteral:
    """Print a number the way PostgreSQL deparses the constant: negatives and big values quoted and cast."""
    if isinstance(value, bool):
        raise _FieldError(f"expected a number, got {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise _FieldError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise _FieldError(f"expected a finite number, got {value!r}")
    if number.is_zero():
        number = abs(number)
    digits = format(number, "f")
    if "." in digits:
        kind, plain = "numeric", not number.is_signed()
    else:
        whole = int(digits)
        kind = "integer" if whole in _INT4 else "bigint" if whole in _INT8 else "numeric"
        plain = kind == "integer" and whole >= 0
    return NumberLiteral(digits if plain else f"{quote_literal(digits)}::{kind}", kind)


_TYPE_MODIFIER = re.compile(r"\(\d+(?:,\d+)?\)")


def _base_type(pg_type: str) -> str:
    """A format_type() text without its modifier: `character varying(255)` → `character varying`."""
    return _TYPE_MODIFIER.sub("", pg_type)


def _text_of(value: DefaultValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        raise _FieldError("a list default needs a list column (multi-select or array)")
    return value if isinstance(value, str) else str(value)


def _string_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    return f"{quote_literal(_text_of(value))}::{_base_type(pg_type)}"


def _whole_number(value: DefaultValue) -> int:
    number = _number_of(value)
    try:
        decimal = Decimal(repr(number)) if isinstance(number, float) else Decimal(str(number).strip())
    except InvalidOperation:
        raise _FieldError(f"expected a whole number, got {value!r}") from None
    if not decimal.is_finite() or decimal != decimal.to_integral_value():
        raise _FieldError(f"expected a whole number, got {value!r}")
    return int(decimal)


def _integer_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    whole = _whole_number(value)
    if nested and pg_type != "integer":  # array elements of bigint/smallint keep their cast when printed
        return f"{quote_literal(str(whole))}::{pg_type}"
    return number_literal(whole).text


def float_text(value: float) -> str:
    """A double as float8out prints it: shortest round-trip digits, exponent form outside 1e-4 .. 1e15."""
    number = Decimal(repr(value))
    if number.is_zero():
        return "0"
    sign, digits, exponent = number.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    power = len(mantissa) + exponent - 1
    prefix = "-" if sign else ""
    if -4 <= power < 15:
        return prefix + format(abs(number).normalize(), "f")
    fraction = f".{mantissa[1:]}" if len(mantissa) > 1 else ""
    return f"{prefix}{mantissa[0]}{fraction}e{'-' if power < 0 else '+'}{abs(power):02d}"


def _float_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    number = _number_of(value)
    try:
        double = float(number)
    except ValueError:
        raise _FieldError(f"expected a number, got {value!r}") from None
    if not math.isfinite(double):
        raise _FieldError(f"expected a finite number, got {value!r}")
    return f"{quote_literal(float_text(double))}::{pg_type}"


def _numeric_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    literal = number_literal(_number_of(value))
    return literal.as_numeric() if nested else literal.text


def _number_of(value: DefaultValue) -> int | float | str:
    if isinstance(value, bool | tuple):
        raise _FieldError(f"expected a number, got {value!r}")
    return value


_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0"})


def _boolean_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    word = _text_of(value).strip().lower()
    if word in _TRUE_WORDS:
        return "true"
    if word in _FALSE_WORDS:
        return "false"
    raise _FieldError(f"expected a boolean, got {value!r}")


# Date/time keywords PostgreSQL keeps as expressions (the implicit cast to the column type is not printed).
_TEMPORAL_KEYWORDS = {
    "NOW()": "now()",
    "CURRENT_DATE": "CURRENT_DATE",
    "CURRENT_TIMESTAMP": "CURRENT_TIMESTAMP",
    "CURRENT_TIME": "CURRENT_TIME",
    "LOCALTIME": "LOCALTIME",
    "LOCALTIMESTAMP": "LOCALTIMESTAMP",
}


# The keywords whose value PostgreSQL cannot assign to every date or time column (a day has no time of day, a time
# no day), and the columns it can assign each kind to; NOW(), CURRENT_TIMESTAMP and LOCALTIMESTAMP go to any.
_KEYWORD_KINDS = {"CURRENT_DATE": "date", "CURRENT_TIME": "time of day", "LOCALTIME": "time of day"}
_KEYWORD_TARGETS = {"date": {"date", TIMESTAMP, TIMESTAMPTZ}, "time of day": {"time without time zone"}}


def _fraction(microseconds: int) -> str:
    return f".{microseconds:06d}".rstrip("0") if microseconds else ""


def _clock(moment: time | datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{_fraction(moment.microsecond)}"


def _day(moment: date | datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def _canonical_date(text: str) -> str:
    return _day(date.fromisoformat(text))


def _canonical_time(text: str) -> str:
    return _clock(time.fromisoformat(text))


def _canonical_timestamp(text: str) -> str:
    moment = datetime.fromisoformat(text)  # an offset is ignored by `timestamp without time zone`
    return f"{_day(moment)} {_clock(moment)}"


def _canonical_timestamptz(text: str) -> str:
    moment = datetime.fromisoformat(text)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{_day(moment)} {_clock(moment)}+00"


_CANONICAL_TEMPORAL: dict[str, Callable[[str], str]] = {
    "date": _canonical_date,
    "time without time zone": _canonical_time,
    TIMESTAMP: _canonical_timestamp,
    TIMESTAMPTZ: _canonical_timestamptz,
}


# Words PostgreSQL's date and time input reads as the moment it reads them: a column default written so is that
# one moment, fixed when the column is made (and printed back as it), not the moment of each insert.
_READ_ONCE = frozenset({"now", "today", "tomorrow", "yesterday"})
# Words that are one fixed value, as PostgreSQL prints that value back for each type.
_FIXED_WORDS = {
    **{(word, kind): word for word in ("infinity", "-infinity") for kind in ("date", TIMESTAMP, TIMESTAMPTZ)},
    ("epoch", "date"): "1970-01-01",
    ("epoch", TIMESTAMP): "1970-01-01 00:00:00",
    ("epoch", TIMESTAMPTZ): "1970-01-01 00:00:00+00",
    ("allballs", "time without time zone"): "00:00:00",
}
_LOOSE_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?=$|[T ])")  # 2024-1-5: a day PostgreSQL reads, Python not


def _temporal_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    """A date or time default as PostgreSQL prints it back (so the database matches the schema after it is made):
    a keyword, a fixed word, or ISO 8601 text; other text PostgreSQL would keep in its own form is refused."""
    text = _text_of(value).strip()
    keyword = _TEMPORAL_KEYWORDS.get(text.upper().replace(" ", ""))
    each_insert = "CURRENT_DATE" if pg_type == "date" else "CURRENT_TIME" if pg_type.startswith("time ") else "NOW()"
    if keyword is not None:
        kind = _KEYWORD_KINDS.get(keyword)
        if kind is not None and pg_type not in _KEYWORD_TARGETS[kind]:
            raise _FieldError(
                f"{keyword} is a {kind}, which PostgreSQL cannot store in a {pg_type} column; write {each_insert} "
                "for the moment of each insert"
            )
        return keyword
    if text.lower() in _READ_ONCE:
        raise _FieldError(
            f"{text!r} is read once, when the column is made: every row would get that moment as its default; "
            f"write {each_insert} for the moment of each insert"
        )
    fixed = _FIXED_WORDS.get((text.lower(), pg_type))
    if fixed is not None:
        return f"{quote_literal(fixed)}::{pg_type}"
    padded = _LOOSE_DAY.sub(lambda day: f"{day[1]}-{int(day[2]):02d}-{int(day[3]):02d}", text, count=1)
    try:
        canonical = _CANONICAL_TEMPORAL[pg_type](padded)
    except ValueError:
        example = (
            "10:30:00" if pg_type.startswith("time ") else "2024-01-31" if pg_type == "date" else "2024-01-31T10:30:00Z"
        )
        raise _FieldError(
            f"write a date or time default as ISO 8601 (e.g. {example}) or {each_insert}, not {text!r}: PostgreSQL "
            "would keep it in its own form, and the database would never match the schema"
        ) from None
    return f"{quote_literal(canonical)}::{pg_type}"


def interval_text(seconds: Decimal) -> str:
    """A number of seconds as IntervalStyle `postgres` prints it: `[-]HH:MM:SS[.ffffff]`, hours unbounded."""
    micro = int((seconds * 1_000_000).to_integral_value(ROUND_HALF_EVEN))
    sign = "-" if micro < 0 else ""
    hours, rest = divmod(abs(micro), 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    whole, fraction = divmod(rest, 1_000_000)
    return f"{sign}{hours:02d}:{minutes:02d}:{whole:02d}{_fraction(fraction)}"


_CLOCK = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d{1,6})?))?")


def _interval_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    text = _text_of(value).strip()
    try:
        seconds = Decimal(text)
    except InvalidOperation:
        clock = _CLOCK.fullmatch(text)
        if clock is None:
            raise _FieldError(
                f"write a duration default as a number of seconds (5400) or HH:MM:SS (01:30:00), not {text!r}: "
                "PostgreSQL would keep other text in its own form, and the database would never match the schema"
            ) from None
        hours, minutes, whole = clock.groups()
        seconds = Decimal(hours) * 3600 + Decimal(minutes) * 60 + Decimal(whole or 0)
    if not seconds.is_finite():
        raise _FieldError(f"expected a number of seconds, got {value!r}")
    return f"{quote_literal(interval_text(seconds))}::interval"


def _json_string(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(escapes.get(ch, f"\\u{ord(ch):04x}" if ch < " " else ch) for ch in text) + '"'


def jsonb_text(value: object) -> str:
    """A parsed JSON value printed the way jsonb_out does (keys by length then bytes, `, ` and `: `)."""
    match value:
        case None:
            return "null"
        case bool():
            return "true" if value else "false"
        case Decimal():
            return format(abs(value) if value.is_zero() else value, "f")
        case str():
            return _json_string(value)
        case list():
            return "[" + ", ".join(jsonb_text(item) for item in value) + "]"
        case dict():
            keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
            return "{" + ", ".join(f"{_json_string(k)}: {jsonb_text(value[k])}" for k in keys) + "}"
    raise _FieldError(f"not a JSON value: {value!r}")


def _reject_constant(name: str) -> object:
    raise _FieldError(f"{name} is not valid in jsonb")


def _json_value(value: DefaultValue) -> object:
    """A default as a JSON value: text is parsed as JSON; numbers become Decimal as jsonb stores them."""
    match value:
        case str():
            try:
                return json.loads(value, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
            except json.JSONDecodeError as error:
                raise _FieldError(f"default is not valid JSON: {error.msg}") from None
        case bool():
            return value
        case tuple():
            return list(value)
        case float():
            return Decimal(repr(value))
        case _:
            return Decimal(value)


def _jsonb_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    return f"{quote_literal(jsonb_text(_json_value(value)))}::jsonb"


def _uuid_literal(value: DefaultValue, pg_type: str, nested: bool) -> str:
    text = _text_of(value).strip()
    if text.lower() == "gen_random_uuid()":
        return "gen_random_uuid()"
    try:
        return f"{quote_literal(str(uuid.UUID(text)))}::uuid"
    except ValueError:
        raise _FieldError(f"expected a UUID, got {value!r}") from None


_LiteralRenderer = Callable[[DefaultValue, str, bool], str]

_LITERALS: dict[str, _LiteralRenderer] = {
    "character varying": _string_literal,
    "text": _string_literal,
    "integer": _integer_literal,
    "bigint": _integer_literal,
    "smallint": _integer_literal,
    "numeric": _numeric_literal,
    "double precision": _float_literal,
    "boolean": _boolean_literal,
    "date": _temporal_literal,
    "time without time zone": _temporal_literal,
    TIMESTAMP: _temporal_literal,
    TIMESTAMPTZ: _temporal_literal,
    "interval": _interval_literal,
    "jsonb": _jsonb_literal,
    "uuid": _uuid_literal,
}


def _scalar_literal(value: DefaultValue, pg_type: str, *, nested: bool) -> str:
    render = _LITERALS.get(_base_type(pg_type))
    if render is None:  # point and the like: left as written
        return f"{quote_literal(_text_of(value))}::{pg_type}"
    return render(value, pg_type, nested)


def _array_literal(items: Sequence[DefaultValue], item_type: str) -> str:
    if not items:
        return f"ARRAY[]::{item_type}[]"
    element_type = "text" if _base_type(item_type) == "character varying" else item_type
    return "ARRAY[" + ", ".join(_scalar_literal(i, element_type, nested=True) for i in items) + "]"


def default_sql(value: DefaultValue, pg_type: str) -> str:
    """A field default as pg_get_expr() prints it for a column of `pg_type`."""
    if pg_type.endswith("[]"):
        items = value if isinstance(value, tuple) else (value,)
        return _array_literal(items, pg_type[:-2])
    return _scalar_literal(value, pg_type, nested=False)


# ---------------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------------


def object_name(*parts: str) -> str:
    """`parts` joined by `_`, cut to the 63 bytes PostgreSQL keeps."""
    return truncate_identifier("_".join(parts))


def singular(word: str) -> str:
    """Sovrium's singular of a table name's last word: a few irregular plurals, else one final `s` dropped."""
    head, _, last = word.rpartition("_")
    last = IRREGULAR_SINGULARS.get(last, last[:-1] if last.endswith("s") and len(last) > 1 else last)
    return f"{head}_{last}" if head else last


def junction_column_name(table: SchemaTable) -> str:
    """The junction table's column that points at `table`: its singular name and `_id`."""
    return object_name(singular(table.physical_name), "id")


def junction_table_name(source: SchemaTable, related: SchemaTable) -> str:
    """The many-to-many junction table between two tables: `<source>_<related>`."""
    return object_name(source.physical_name, related.physical_name)


def _idents(names: Iterable[str]) -> str:
    return ", ".join(quote_ident(name) for name in names)


# ---------------------------------------------------------------------------------------------------------
# Constraint and index texts
# ---------------------------------------------------------------------------------------------------------


def _check(name: str, expression: str, columns: tuple[str, ...]) -> Constraint:
    return Constraint(truncate_identifier(name), "check", f"CHECK ({expression})", columns)


def _conjunction(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _range_check(column: Column, low: int | float | None, high: int | float | None) -> tuple[Constraint, ...]:
    numeric_column = _base_type(column.type) == "numeric"
    parts = []
    for operator, bound in ((">=", low), ("<=", high)):
        if bound is None:
            continue
        literal = number_literal(bound)
        subject = quote_ident(column.name)
        if numeric_column:
            value = literal.as_numeric()
        else:
            value = literal.text
            subject = f"({subject})::numeric" if literal.kind == "numeric" else subject
        parts.append(f"({subject} {operator} {value})")
    if not parts:
        return ()
    return (_check(f"check_{column.name}_range", _conjunction(parts), (column.name,)),)


def _text_array(values: Iterable[str]) -> str:
    return "ARRAY[" + ", ".join(f"{quote_literal(v)}::text" for v in values) + "]"


def _enum_check(column: Column, options: tuple[str, ...]) -> tuple[Constraint, ...]:
    if not options:
        return ()
    expression = f"(({quote_ident(column.name)})::text = ANY ({_text_array(options)}))"
    return (_check(f"check_{column.name}_enum", expression, (column.name,)),)


def _options_check(column: Column, options: tuple[str, ...]) -> tuple[Constraint, ...]:
    if not options:
        return ()
    expression = f"({quote_ident(column.name)} <@ {_text_array(options)})"
    return (_check(f"check_{column.name}_options", expression, (column.name,)),)


def _count_check(column: Column, suffix: str, measure: str, limit: int | None) -> tuple[Constraint, ...]:
    if limit is None:
        return ()
    bound = number_literal(limit).text
    expression = f"(({measure} IS NULL) OR ({measure} <= {bound}))"
    return (_check(f"check_{column.name}_{suffix}", expression, (column.name,)),)


def _format_check(column: Column, pattern: str | None) -> tuple[Constraint, ...]:
    if pattern is None:
        return ()
    expression = f"(({quote_ident(column.name)})::text ~ {quote_literal(pattern)}::text)"
    return (_check(f"check_{column.name}_format", expression, (column.name,)),)


def _referential_clause(event: str, action: str | None) -> str:
    if action is None:
        return ""
    keyword = _REFERENTIAL_ACTIONS.get(re.sub(r"[\s_]+", "-", action.strip().lower()))
    return f" ON {event} {keyword}" if keyword else ""


def foreign_key_definition(
    columns: Sequence[str], target: str, on_delete: str | None = None, on_update: str | None = None
) -> str:
    """`FOREIGN KEY (…) REFERENCES target` with the actions pg_get_constraintdef prints (UPDATE first)."""
    actions = _referential_clause("UPDATE", on_update) + _referential_clause("DELETE", on_delete)
    return f"FOREIGN KEY ({_idents(columns)}) REFERENCES {target}{actions}"


def _references(table: str, columns: Sequence[str]) -> str:
    return f"{quote_ident(table)}({_idents(columns)})"


def _index(name: str, table: str, columns: Sequence[str], *, unique: bool = False, method: str = "btree") -> Index:
    return Index(truncate_identifier(name), table, tuple(quote_ident(c) for c in columns), unique, method)


# ---------------------------------------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------------------------------------


@record
class _Resolver:
    """Finds related tables and the type of the column a foreign key points at."""

    app: App
    seen: frozenset[tuple[str, str]] = frozenset()

    def table(self, name: str | None) -> SchemaTable:
        found = self.app.table_named(name or "") or next((t for t in self.app.tables if t.physical_name == name), None)
        if found is None:
            raise _FieldError(f'relatedTable "{name}" does not exist')
        return found

    def column_type(self, table: SchemaTable, column: str) -> str:
        key = (table.name, column)
        if key in self.seen:
            raise _FieldError(f'foreign keys form a loop through "{table.name}.{column}"')
        target = table.field_named(column)
        if target is None:
            automatic = _automatic_id(table) if column == "id" else None
            if automatic is None:
                raise _FieldError(f'relatedField "{column}" not found in related table "{table.name}"')
            return automatic.type
        if not creates_column(target.type, target.relation_type):
            raise _FieldError(f'relatedField "{column}" of table "{table.name}" has no column')
        inner = _Resolver(self.app, self.seen | {key})
        return _compile_field(_context(self.app, table, inner), target).column.type


@record
class _Context:
    app: App
    table: SchemaTable
    name: str  # the physical table that holds the rows (`<t>_base` for a view-backed table)
    resolver: _Resolver
    serial_fields: frozenset[str]  # integer fields that become SERIAL as a single-field primary key
    label: str  # the name the app sees; unique and foreign-key constraints are named after it, as in Sovrium
    formulas: Mapping[str, formula.FormulaKind]  # how each formula field is computed
    # The parts of fields compiled so far in this app, by the Field object, for the kinds whose parts follow from
    # the field alone (_FROM_THE_FIELD_ALONE): validation makes a field written alike, with the same id and name,
    # in table after table one object, and its column and checks are then built once.
    built: dict[int, tuple[Field, _FieldParts]]
    kinds: Mapping[str, list[str]]  # the table's field names by canonical type, in field order


@record
class _FieldParts:
    column: Column
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()


def _column(
    field: Field, pg_type: str, *, not_null: bool = False, default: str | None = None, serial: bool = False
) -> Column:
    if default is None and field.default is not None and not serial:
        default = default_sql(field.default, pg_type)
    return Column(field.name, pg_type, not (field.required or not_null), None if serial else default, serial)


def _typed(pg_type: str) -> Callable[[_Context, Field], _FieldParts]:
    def build(ctx: _Context, field: Field) -> _FieldParts:
        return _FieldParts(_column(field, pg_type))

    return build


def _integer(ctx: _Context, field: Field) -> _FieldParts:
    serial = field.name in ctx.serial_fields
    column = _column(field, "integer", not_null=serial, serial=serial)
    return _FieldParts(column, _range_check(column, field.min, field.max))


def _decimal(ctx: _Context, field: Field) -> _FieldParts:
    precision = field.precision
    column = _column(field, "numeric" if precision is None else f"numeric({18 + precision},{precision})")
    return _FieldParts(column, _range_check(column, field.min, field.max))


def _rating(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, "integer")
    if field.min is None and field.max is None:
        return _FieldParts(column)
    return _FieldParts(column, _range_check(column, 1 if field.min is None else field.min, field.max))


def _progress(ctx: _Context, field: Field) -> _FieldParts:
    fallback = "0" if field.required and field.default is None else None
    column = _column(field, "integer", default=fallback)
    return _FieldParts(column, _range_check(column, 0, 100))


def _autonumber(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, "integer", not_null=True, serial=True)
    unique = _index(f"idx_{ctx.name}_{field.name}_unique", ctx.name, (field.name,), unique=True)
    return _FieldParts(column, indexes=(unique,))


def _select(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, VARCHAR_255)
    return _FieldParts(column, _enum_check(column, field.options))


def _multi_select(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, "text[]")
    return _FieldParts(column, _options_check(column, field.options))


def _array(ctx: _Context, field: Field) -> _FieldParts:
    item = (field.item_type or "text").strip().lower()
    element = ARRAY_ITEM_TYPES.get(item)
    if element is None:
        raise _FieldError(f"Unsupported array itemType: {field.item_type}")
    column = _column(field, f"{element}[]")
    measure = f"array_length({quote_ident(column.name)}, 1)"
    return _FieldParts(column, _count_check(column, "max_items", measure, field.max_items))


def _single_attachment(ctx: _Context, field: Field) -> _FieldParts:
    return _FieldParts(_column(field, "jsonb" if field.store_metadata else VARCHAR_255))


def _multiple_attachments(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, "jsonb")
    measure = f"jsonb_array_length({quote_ident(column.name)})"
    return _FieldParts(column, _count_check(column, "max_files", measure, field.max_files))


def _rich_text(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, "text")
    checks: tuple[Constraint, ...] = ()
    if field.max_length is not None:
        length = number_literal(field.max_length).text
        expression = f"(length({quote_ident(column.name)}) <= {length})"
        checks = (_check(f"check_{column.name}_max_length", expression, (column.name,)),)
    indexes: tuple[Index, ...] = ()
    if field.full_text_search:
        key = f"to_tsvector('english'::regconfig, {quote_ident(column.name)})"
        name = object_name("idx", ctx.name, field.name, "fulltext")
        indexes = (Index(name, ctx.name, (key,), method="gin"),)
    return _FieldParts(column, checks, indexes)


def _barcode(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, VARCHAR_255)
    return _FieldParts(column, _format_check(column, BARCODE_PATTERNS.get(field.format or "")))


def _color(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, "character varying(7)")
    return _FieldParts(column, _format_check(column, COLOR_PATTERN))


def _fk_index(ctx: _Context, field: Field) -> Index:
    return _index(f"idx_{ctx.name}_{field.name}_fk", ctx.name, (field.name,))


def _user(ctx: _Context, field: Field) -> _FieldParts:
    column = _column(field, "text")
    if not ctx.app.auth:  # no auth.user table to point at
        return _FieldParts(column, indexes=(_fk_index(ctx, field),))
    definition = foreign_key_definition((field.name,), AUTH_USER_REFERENCE)
    fk = Constraint(
        object_name(ctx.label, field.name, "fkey"), "foreign_key", definition, (field.name,), AUTH_USER_TABLE
    )
    return _FieldParts(column, (fk,), (_fk_index(ctx, field),))


def _created_by(ctx: _Context, field: Field) -> _FieldParts:
    return _FieldParts(_column(field, "text", not_null=ctx.app.auth))


def _automatic_timestamp(ctx: _Context, field: Field) -> _FieldParts:
    return _FieldParts(Column(field.name, TIMESTAMP, nullable=False, default="CURRENT_TIMESTAMP"))


def _relationship(ctx: _Context, field: Field) -> _FieldParts:
    related = ctx.resolver.table(field.related_table)
    target_column = field.related_field or "id"
    column = _column(field, ctx.resolver.column_type(related, target_column))
    target = _references(related.storage_name, (target_column,))
    definition = foreign_key_definition((field.name,), target, field.on_delete, field.on_update)
    fk = Constraint(
        object_name(ctx.label, field.name, "fkey"), "foreign_key", definition, (field.name,), related.storage_name
    )
    return _FieldParts(column, (fk,), (_fk_index(ctx, field),))


def _formula(ctx: _Context, field: Field) -> _FieldParts:
    if not field.formula:
        raise _FieldError("formula is required")
    pg_type = formula.column_type(field)
    if ctx.formulas.get(field.name) == "generated":
        kinds = functools.partial(field_kinds, ctx.table.fields)
        problem = result_type_problem(parse_formula(field.formula).tree, kinds, pg_type, field.result_type)
        if problem is not None:
            raise _FieldError(f'Formula of field "{field.name}": {problem}')
        return _FieldParts(Column(field.name, pg_type, generated=formula.translate(field.formula, ctx.table)))
    if ctx.formulas.get(field.name) == "trigger":
        kinds = functools.partial(field_kinds, ctx.table.fields)
        problem = trigger_result_problem(parse_formula(field.formula).tree, kinds, pg_type, field.result_type)
        if problem is not None:
            raise _FieldError(f'Formula of field "{field.name}": {problem}')
    return _FieldParts(Column(field.name, pg_type, derived=True))


def _ai_field(ctx: _Context, field: Field) -> _FieldParts:
    default = ai.TAG_DEFAULT if field.type == "ai-tag" else None
    return _FieldParts(_column(field, ai.COLUMN_TYPES[field.type], default=default))


_BUILDERS: dict[str, Callable[[_Context, Field], _FieldParts]] = {
    "single-line-text": _typed(VARCHAR_255),
    "email": _typed(VARCHAR_255),
    "url": _typed(VARCHAR_255),
    "phone-number": _typed(VARCHAR_255),
    "long-text": _typed("text"),
    "code": _typed("text"),
    "rich-text": _rich_text,
    "integer": _integer,
    "decimal": _decimal,
    "currency": _decimal,
    "percentage": _decimal,
    "rating": _rating,
    "progress": _progress,
    "autonumber": _autonumber,
    "checkbox": _typed("boolean"),
    "date": _typed("date"),
    "datetime": _typed(TIMESTAMPTZ),
    "time": _typed("time without time zone"),
    "duration": _typed("interval"),
    "single-select": _select,
    "status": _select,
    "multi-select": _multi_select,
    "array": _array,
    "json": _typed("jsonb"),
    "geolocation": _typed("point"),
    "single-attachment": _single_attachment,
    "multiple-attachments": _multiple_attachments,
    "barcode": _barcode,
    "color": _color,
    "user": _user,
    "created-by": _created_by,
    "updated-by": _typed("text"),
    "deleted-by": _typed("text"),
    "created-at": _automatic_timestamp,
    "updated-at": _automatic_timestamp,
    "deleted-at": _typed(TIMESTAMP),
    "relationship": _relationship,
    "formula": _formula,
    **dict.fromkeys(ai.COLUMN_TYPES, _ai_field),
}

_INDEX_METHODS = {"array": "gin", "json": "gin", "geolocation": "gist"}


def _unique_rule(ctx: _Context, field: Field, kind: str) -> tuple[Constraint, ...]:
    one_to_one = kind == "relationship" and field.relation_type == "one-to-one"
    if not (field.unique or one_to_one):
        return ()
    name = object_name(ctx.label, field.name, "key")
    if kind == "geolocation":  # points have no btree equality: an exclusion constraint does the job
        definition = f"EXCLUDE USING gist ({quote_ident(field.name)} WITH ~=)"
        return (Constraint(name, "exclude", definition, (field.name,)),)
    return (Constraint(name, "unique", f"UNIQUE ({quote_ident(field.name)})", (field.name,)),)


def _declared_index(ctx: _Context, field: Field, kind: str) -> tuple[Index, ...]:
    if not field.indexed:
        return ()
    suffix = "status" if kind == "status" else field.name  # Sovrium's fixed name for status fields
    method = _INDEX_METHODS.get(kind, "btree")
    return (_index(f"idx_{ctx.name}_{suffix}", ctx.name, (field.name,), method=method),)


# Kinds whose builder reads nothing but the field: not the table (names of indexes, serial keys, formulas), the
# app (auth) or other tables (relationships). Their unique rule and declared index are named after the table and
# are added per table below.
_FROM_THE_FIELD_ALONE = frozenset(
    {
        *("single-line-text", "email", "url", "phone-number", "long-text", "code", "checkbox", "date", "datetime"),
        *("time", "duration", "json", "geolocation", "updated-by", "deleted-by", "deleted-at", "created-at"),
        *("updated-at", "decimal", "currency", "percentage", "rating", "progress", "single-select", "status"),
        *("multi-select", "array", "single-attachment", "multiple-attachments", "barcode", "color"),
        *ai.COLUMN_TYPES,
    }
)


def _compile_field(ctx: _Context, field: Field) -> _FieldParts:
    kind = canonical_type(field.type)
    build = _BUILDERS.get(kind)
    if build is None:
        raise _FieldError(f"Unknown field type: {field.type}")
    if kind in _FROM_THE_FIELD_ALONE:
        known = ctx.built.get(id(field))
        if known is not None and known[0] is field:
            parts = known[1]
        else:
            parts = build(ctx, field)
            ctx.built[id(field)] = (field, parts)
    else:
        parts = build(ctx, field)
    unique, declared = _unique_rule(ctx, field, kind), _declared_index(ctx, field, kind)
    if not unique and not declared:
        return parts
    return _FieldParts(parts.column, parts.constraints + unique, parts.indexes + declared)


def _stores_column(ctx: _Context, field: Field) -> bool:
    kind = canonical_type(field.type)
    if kind in NO_COLUMN_TYPES or kind in VIEW_COMPUTED_TYPES or ctx.formulas.get(field.name) == "view":
        return False
    if kind == "relationship":
        return (field.relation_type or "many-to-one") in FOREIGN_KEY_RELATIONS
    return True  # unknown and unsupported types reach the builder table and are reported there


# ---------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------


def _automatic_id(table: SchemaTable) -> Column | None:
    """The `id` column the compiler adds, or None when a field takes the name or the key is other fields."""
    key = table.primary_key
    if table.field_named("id") is not None:
        return None
    if key is not None and key.type == "composite":
        return Column("id", "integer", nullable=False, serial=True) if "id" in key.fields else None
    match key.type if key else None:
        case "uuid":
            return Column("id", "uuid", nullable=False, default="gen_random_uuid()")
        case "text":
            return Column("id", "text", nullable=False, default="(gen_random_uuid())::text")
        case "bigserial":
            return Column("id", "bigint", nullable=False, serial=True)
        case _:
            return Column("id", "integer", nullable=False, serial=True)


_SYSTEM_TIMESTAMPS = (
    Column("created_at", TIMESTAMPTZ, nullable=False, default="CURRENT_TIMESTAMP"),
    Column("updated_at", TIMESTAMPTZ, nullable=False, default="CURRENT_TIMESTAMP"),
    Column("deleted_at", TIMESTAMPTZ),
)


def _system_columns(table: SchemaTable) -> list[Column]:
    """`id`, `created_at`, `updated_at`, `deleted_at`, in that order, less those a field replaces."""
    automatic = [c for c in (_automatic_id(table),) if c is not None]
    return automatic + [c for c in _SYSTEM_TIMESTAMPS if table.field_named(c.name) is None]


def _serial_fields(table: SchemaTable) -> frozenset[str]:
    key = table.primary_key
    if key is None or key.type != "composite" or len(key.fields) != 1:
        return frozenset()
    target = table.field_named(key.fields[0])
    return frozenset({target.name}) if target and canonical_type(target.type) == "integer" else frozenset()


def _context(
    app: App, table: SchemaTable, resolver: _Resolver, built: dict[int, tuple[Field, _FieldParts]] | None = None
) -> _Context:
    return _Context(
        app,
        table,
        table.storage_name,
        resolver,
        _serial_fields(table),
        table.physical_name,
        formula.formula_kinds(table),
        {} if built is None else built,
        _names_by_kind(table),
    )


def _names_by_kind(table: SchemaTable) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for f in table.fields:
        kinds.setdefault(canonical_type(f.type), []).append(f.name)
    return kinds


def _primary_key(ctx: _Context, column_names: set[str]) -> Constraint | None:
    key = ctx.table.primary_key
    if key is None or key.type != "composite":
        columns: tuple[str, ...] = ("id",) if _automatic_id(ctx.table) is not None else ()
    else:
        columns = key.fields
    if not columns:
        return None
    missing = [c for c in columns if c not in column_names]
    if missing:
        raise _FieldError(f'primaryKey column "{missing[0]}" does not exist')
    return Constraint(object_name(ctx.name, "pkey"), "primary_key", f"PRIMARY KEY ({_idents(columns)})", columns)


def _table_rules(ctx: _Context) -> tuple[list[Constraint], list[Index]]:
    """The table-level `indexes`, unique groups, composite foreign keys and raw CHECKs."""
    table, constraints, indexes = ctx.table, [], []
    for spec in table.indexes:
        # User SQL, kept as written (PostgreSQL would reprint it): the index's comment stores the text.
        predicate = f"({spec.where})" if spec.where else None
        index = _index(spec.name, ctx.name, spec.fields, unique=spec.unique)
        indexes.append(replace(index, predicate=predicate, verbatim=predicate is not None))
    for number, group in enumerate(table.unique_constraints):
        if group.name is not None or len(group.fields) == 1:
            name = group.name or object_name(ctx.label, group.fields[0], "key")
            definition = f"UNIQUE ({_idents(group.fields)})"
            constraints.append(Constraint(truncate_identifier(name), "unique", definition, group.fields))
        else:
            name = "_".join(("uq", ctx.name, *group.fields, f"_{number}"))[:60]
            indexes.append(_index(name, ctx.name, group.fields, unique=True))
    for fk in table.foreign_keys:
        referenced = ctx.app.table_named(fk.referenced_table)
        target_name = referenced.storage_name if referenced else fk.referenced_table
        definition = foreign_key_definition(
            fk.fields, _references(target_name, fk.referenced_fields), fk.on_delete, fk.on_update
        )
        constraints.append(Constraint(truncate_identifier(fk.name), "foreign_key", definition, fk.fields, target_name))
    for check in table.checks:
        # The user's expression as written (PostgreSQL would reprint it): the constraint's comment stores it. The
        # columns it reads, as PostgreSQL's parser reads them: a plan that drops and adds one of them again (a
        # field turned into a formula, say) makes the rule again after it (PostgreSQL drops it with the column).
        read = dict.fromkeys(name for name, *rest in column_references(check.check) or () if not rest)
        constraints.append(
            Constraint(truncate_identifier(check.name), "check", f"CHECK ({check.check})", tuple(read), verbatim=True)
        )
    return constraints, indexes


# Column types by the btree family PostgreSQL compares them in: a foreign key's two sides must share one (any other
# type is a family of its own). A whole number also references a numeric (it is cast up), not the other way.
_TYPE_FAMILIES = {
    **dict.fromkeys(("smallint", "integer", "bigint"), "integer"),
    **dict.fromkeys(("real", "double precision"), "float"),
    **dict.fromkeys(("text", "character varying"), "text"),
    **dict.fromkeys(("date", TIMESTAMP, TIMESTAMPTZ), "datetime"),
}
_REFERENCES_ACROSS = frozenset({("integer", "numeric")})


def _type_family(pg_type: str) -> str:
    base = pg_type.split("(", maxsplit=1)[0]
    return _TYPE_FAMILIES.get(base, base)


def _foreign_key_type_problems(ctx: _Context, position: int, columns: Sequence[Column]) -> list[Problem]:
    """Table-level foreign keys whose columns cannot be compared with the columns they reference
    (`foreign key constraint … cannot be implemented`): each pair of unlike types, said with both types."""
    own = {c.name: c.type for c in columns}
    problems: list[Problem] = []
    for number, fk in enumerate(ctx.table.foreign_keys):
        referenced = ctx.app.table_named(fk.referenced_table)
        if referenced is None:
            continue
        for local, remote in zip(fk.fields, fk.referenced_fields, strict=False):
            try:
                remote_type = ctx.resolver.column_type(referenced, remote)
            except _FieldError:
                continue  # not a column this check can type: left to the rest of validation and PostgreSQL
            local_type = own.get(local)
            if local_type is None:
                continue
            pair = tuple(
                _TYPE_FAMILIES.get(base, base) for t in (local_type, remote_type) for base in (t.split("(")[0],)
            )
            if pair[0] == pair[1] or pair in _REFERENCES_ACROSS:
                continue
            message = (
                f'Foreign key "{fk.name}": column "{local}" ({local_type}) cannot reference '
                f'"{referenced.name}.{remote}" ({remote_type}): PostgreSQL compares only like types; reference a '
                "column of the same type, or change this field's type"
            )
            problems.append(Problem(message, f"tables[{position}].foreignKeys[{number}]"))
    return problems


# `=` compares any two numbers; otherwise like with like, as a foreign key's two sides.
_COMPARED_AS = {"integer": "number", "float": "number", "numeric": "number"}


def _compared_family(pg_type: str) -> str:
    family = _type_family(pg_type)
    return _COMPARED_AS.get(family, family)


def _back_reference_type_problems(ctx: _Context, position: int) -> list[Problem]:
    """Rollups, counts and one-to-many lookups whose related table's back-reference column cannot be compared
    with the key of this table it should hold (`operator does not exist: timestamp with time zone = integer` when
    the view is made): a column named like the relationship that holds something else, a system timestamp."""
    from sovrium_tui.catalog.views import back_reference

    problems: list[Problem] = []
    for number, field in enumerate(ctx.table.fields):
        if field.type not in ("rollup", "count", "lookup"):
            continue
        relationship = ctx.table.field_named(field.relationship_field or "")
        if relationship is None or relationship.type != "relationship" or relationship.relation_type == "many-to-many":
            continue
        if field.type == "lookup" and relationship.relation_type != "one-to-many":
            continue  # a many-to-one lookup follows this table's own foreign key
        related, back, matched = back_reference(ctx.app, ctx.table, relationship)
        try:
            back_type, own_type = _any_column_type(ctx, related, back), _any_column_type(ctx, ctx.table, matched)
        except _FieldError:
            continue  # not a column this check can type: left to the rest of validation
        if _compared_family(back_type) == _compared_family(own_type):
            continue
        message = (
            f'{field.type.capitalize()} field "{ctx.table.name}.{field.name}": the related table\'s column '
            f'"{related.name}.{back}" ({back_type}) cannot hold this table\'s "{matched}" ({own_type}), so the two '
            f'cannot be matched; set foreignKey on the relationship "{relationship.name}" to the column of '
            f'"{related.name}" that holds this table\'s ids'
        )
        problems.append(Problem(message, f"tables[{position}].fields[{number}]"))
    return problems


def _any_column_type(ctx: _Context, table: SchemaTable, column: str) -> str:
    """A column's type: a field's, or a system column's."""
    system = next((c for c in _SYSTEM_TIMESTAMPS if c.name == column), None)
    if system is not None and table.field_named(column) is None:
        return system.type
    return ctx.resolver.column_type(table, column)


_TRIGGER_BODY_END = ("  RETURN NEW;", "END;")


def _body(lines: Iterable[str]) -> str:
    return "\n".join(("BEGIN", *lines, *_TRIGGER_BODY_END))


def _set_on_insert_body(columns: Sequence[str]) -> str:
    lines: list[str] = []
    for name in columns:
        column = f"NEW.{quote_ident(name)}"
        lines += [f"  IF {column} IS NULL THEN", f"    {column} := CURRENT_TIMESTAMP;", "  END IF;"]
    return _body(lines)


def _keep_old_body(columns: Sequence[str]) -> str:
    return _body(f"  NEW.{quote_ident(name)} := OLD.{quote_ident(name)};" for name in columns)


def _touch_body(columns: Sequence[str]) -> str:
    return _body(f"  NEW.{quote_ident(name)} := CURRENT_TIMESTAMP;" for name in columns)


@record
class _TriggerPlan:
    function: str
    body: str
    trigger: str
    timing: Literal["BEFORE", "AFTER"]
    events: tuple[str, ...]


def _trigger_plans(ctx: _Context) -> list[_TriggerPlan]:
    t = ctx.name

    def of_kind(kind: str, system: str | None) -> list[str]:
        own = [system] if system and ctx.table.field_named(system) is None else []
        return own + ctx.kinds.get(kind, [])

    created, updated = of_kind("created-at", "created_at"), of_kind("updated-at", "updated_at")
    autonumbers = of_kind("autonumber", None)
    plans = []
    if created:
        plans += [
            _TriggerPlan(
                f"set_{t}_created_at",
                _set_on_insert_body(created),
                f"a_trigger_{t}_set_created_at",
                "BEFORE",
                ("INSERT",),
            ),
            _TriggerPlan(
                f"prevent_{t}_created_at_update",
                _keep_old_body(created),
                f"a_trigger_{t}_created_at_immutable",
                "BEFORE",
                ("UPDATE",),
            ),
        ]
    if updated:
        plans.append(
            _TriggerPlan(
                f"update_{t}_updated_at",
                _touch_body(updated),
                f"a_trigger_{t}_updated_at",
                "BEFORE",
                ("INSERT", "UPDATE"),
            )
        )
    if autonumbers:
        plans.append(
            _TriggerPlan(
                f"prevent_{t}_autonumber_update",
                _keep_old_body(autonumbers),
                f"trigger_{t}_autonumber_immutable",
                "BEFORE",
                ("UPDATE",),
            )
        )
    return plans


# Sovrium's one function for every `updated-by` trigger: a placeholder that keeps the row as the app wrote it.
SET_UPDATED_BY = Function("set_updated_by", _body(()))


def _triggers(ctx: _Context) -> tuple[list[Function], list[Trigger]]:
    functions, triggers = [], []
    for plan in _trigger_plans(ctx):
        function_name = truncate_identifier(plan.function)
        functions.append(Function(function_name, plan.body))
        trigger_name = truncate_identifier(plan.trigger)
        triggers.append(Trigger(trigger_name, ctx.name, plan.timing, plan.events, function_name))
    if "updated-by" in ctx.kinds:
        # Named alike on every table; the shared function is added once, by compile_app.
        triggers.append(Trigger("set_updated_by", ctx.name, "BEFORE", ("UPDATE",), SET_UPDATED_BY.name))
    computed = [name for name, kind in ctx.formulas.items() if kind == "trigger"]
    if computed:
        function_name = formula.trigger_function_name(ctx.name)
        functions.append(Function(function_name, formula.trigger_body(ctx.table, computed)))
        events = ("INSERT", "UPDATE")
        triggers.append(Trigger(formula.trigger_name(ctx.name), ctx.name, "BEFORE", events, function_name))
    ai_functions, ai_triggers = ai.ai_objects(ctx.name, ctx.table.fields)
    return functions + ai_functions, triggers + ai_triggers


@dataclass(slots=True)
class _TableBuild:
    columns: list[Column] = dataclasses.field(default_factory=list)
    constraints: list[Constraint] = dataclasses.field(default_factory=list)
    indexes: list[Index] = dataclasses.field(default_factory=list)
    problems: list[Problem] = dataclasses.field(default_factory=list)


def _add_fields(ctx: _Context, position: int, build: _TableBuild) -> None:
    for number, spec in enumerate(ctx.table.fields):
        if not _stores_column(ctx, spec):
            continue
        try:
            parts = _compile_field(ctx, spec)
        except _FieldError as error:
            build.problems.append(Problem(str(error), f"tables[{position}].fields[{number}]"))
            continue
        build.columns.append(parts.column)
        build.constraints.extend(parts.constraints)
        build.indexes.extend(parts.indexes)


def _add_primary_key(ctx: _Context, position: int, build: _TableBuild) -> None:
    try:
        primary = _primary_key(ctx, {c.name for c in build.columns})
    except _FieldError as error:
        build.problems.append(Problem(str(error), f"tables[{position}].primaryKey"))
        return
    if primary is not None:
        build.constraints.append(primary)
        build.columns = [replace(c, nullable=False) if c.name in primary.columns else c for c in build.columns]


def _compile_table(
    app: App, position: int, table: SchemaTable, built: dict[int, tuple[Field, _FieldParts]]
) -> tuple[Table, list[Function], list[Problem]]:
    ctx = _context(app, table, _Resolver(app), built)
    build = _TableBuild(columns=_system_columns(table))
    _add_fields(ctx, position, build)
    if any(c.name == "deleted_at" for c in build.columns):
        build.indexes.append(_index(f"idx_{ctx.name}_deleted_at", ctx.name, ("deleted_at",)))
    rules, rule_indexes = _table_rules(ctx)
    build.constraints.extend(rules)
    build.indexes.extend(rule_indexes)
    build.problems.extend(_foreign_key_type_problems(ctx, position, build.columns))
    build.problems.extend(_back_reference_type_problems(ctx, position))
    _add_primary_key(ctx, position, build)
    if len(build.columns) > MAX_COLUMNS:
        message = (
            f'Table "{table.name}" would have {len(build.columns)} columns (its fields and the system columns); '
            f"PostgreSQL allows at most {MAX_COLUMNS}"
        )
        build.problems.append(Problem(message, f"tables[{position}].fields"))
    functions, triggers = _triggers(ctx)
    constraints, indexes = tuple(_distinct(build.constraints)), tuple(_distinct(build.indexes))
    build.problems.extend(_repeated_unique_rules(ctx, position, constraints))
    return Table(ctx.name, tuple(build.columns), constraints, indexes, tuple(triggers)), functions, build.problems


def _repeated_unique_rules(ctx: _Context, position: int, constraints: Sequence[Constraint]) -> list[Problem]:
    """Unique rules (and the primary key) on the same columns in the same order under different names: a
    `CREATE TABLE` keeps only one of them (PostgreSQL drops the repeats), so the table would never match."""
    first: dict[tuple[str, ...], Constraint] = {}
    problems: list[Problem] = []
    for constraint in constraints:
        if constraint.kind not in ("unique", "primary_key") or not constraint.columns:
            continue
        earlier = first.setdefault(tuple(constraint.columns), constraint)
        if earlier is not constraint:
            columns = ", ".join(constraint.columns)
            message = (
                f'Unique rules "{earlier.name}" and "{constraint.name}" of table "{ctx.label}" cover the same columns '
                f"({columns}): PostgreSQL keeps only one of them; remove the repeat (a field's `unique`, the primary "
                "key and `uniqueConstraints` each make one)"
            )
            problems.append(Problem(message, f"tables[{position}]"))
    return problems


def _distinct(items: Iterable[_T]) -> list[_T]:
    """Items in order without exact repeats (a field `unique` and a one-field unique group agree)."""
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------------------------------------------
# Junction tables
# ---------------------------------------------------------------------------------------------------------


def _junction(resolver: _Resolver, source: SchemaTable, related: SchemaTable) -> Table:
    name = junction_table_name(source, related)
    source_column = junction_column_name(source)
    related_column = junction_column_name(related)
    if source_column == related_column:
        raise _FieldError(f'many-to-many junction "{name}" would have two columns named "{source_column}"')
    columns = (
        Column(source_column, resolver.column_type(source, "id"), nullable=False),
        Column(related_column, resolver.column_type(related, "id"), nullable=False),
    )
    key = (source_column, related_column)
    constraints = [Constraint(object_name(name, "pkey"), "primary_key", f"PRIMARY KEY ({_idents(key)})", key)]
    for column, target in ((source_column, source), (related_column, related)):
        definition = foreign_key_definition((column,), _references(target.storage_name, ("id",)))
        constraints.append(
            Constraint(object_name(name, column, "fkey"), "foreign_key", definition, (column,), target.storage_name)
        )
    return Table(name, columns, tuple(constraints))


def _junction_tables(app: App) -> tuple[list[Table], list[Problem]]:
    resolver, junctions, problems = _Resolver(app), dict[str, Table](), list[Problem]()
    for position, table in enumerate(app.tables):
        for number, spec in enumerate(table.fields):
            if canonical_type(spec.type) != "relationship" or spec.relation_type != "many-to-many":
                continue
            path = f"tables[{position}].fields[{number}]"
            try:
                junction = _junction(resolver, table, resolver.table(spec.related_table))
            except _FieldError as error:
                problems.append(Problem(str(error), path))
                continue
            earlier = junctions.setdefault(junction.name, junction)
            if earlier != junction:
                problems.append(Problem(f'junction table "{junction.name}" is declared twice differently', path))
    return list(junctions.values()), problems


# ---------------------------------------------------------------------------------------------------------
# Whole app
# ---------------------------------------------------------------------------------------------------------


def _name_problems(
    tables: Sequence[Table], functions: Sequence[Function], views: Sequence[View], paths: Mapping[str, str]
) -> list[Problem]:
    """Names PostgreSQL would refuse as duplicates (often long names cut alike at 63 bytes): each name once, with
    the objects that would share it, at the table (`paths`: physical name → path) the first of them belongs to.
    The names alone are compared first; the objects are described only for a name that repeats."""
    problems: list[Problem] = []

    def report(
        scope: str, items: Sequence[_T], name: Callable[[_T], str], describe: Callable[[_T], tuple[str, str]]
    ) -> None:
        names = [name(item) for item in items]
        if len(set(names)) == len(names):
            return
        holders: dict[str, list[tuple[str, str]]] = {}
        for item, item_name in zip(items, names, strict=True):
            holders.setdefault(item_name, []).append(describe(item))
        for shared, held in holders.items():
            if len(held) < 2:
                continue
            what = ", ".join(dict.fromkeys(w for w, _ in held))
            cut = " (PostgreSQL keeps the first 63 bytes of a name: shorten a table or field name)"
            hint = cut if len(shared.encode()) > MAX_IDENTIFIER_BYTES - 4 else ""  # cut, maybe before a wide character
            where = next((paths[t] for _, t in held if t in paths), "")
            problems.append(Problem(f'{len(held)} {scope} would be named "{shared}": {what}{hint}', where))

    # Tables, views, indexes and the indexes behind constraints share one namespace: (name, object, its table).
    relations: list[tuple[str, object, str]] = [(t.name, t, t.name) for t in tables]
    relations += [(v.name, v, v.name) for v in views]
    for table in tables:
        relations += [(i.name, i, table.name) for i in table.indexes]
        relations += [
            (c.name, c, table.name) for c in table.constraints if c.kind in ("primary_key", "unique", "exclude")
        ]
        report(
            f'columns of table "{table.name}"',
            table.columns,
            lambda c: c.name,
            functools.partial(_column_description, table.name),
        )
        report(
            f'constraints of table "{table.name}"',
            table.constraints,
            lambda c: c.name,
            functools.partial(_constraint_description, table.name),
        )
        report(f'triggers of table "{table.name}"', table.triggers, lambda t: t.name, _trigger_description)
    for view in views:
        report(f'triggers of view "{view.name}"', view.triggers, lambda t: t.name, _trigger_description)
    report("tables, views or indexes", relations, lambda r: r[0], _relation_description)
    report("functions", functions, lambda f: f.name, lambda f: (f"{f.name}()", ""))
    return problems


def _column_description(table: str, column: Column) -> tuple[str, str]:
    return f'"{column.name}"', table


def _constraint_description(table: str, constraint: Constraint) -> tuple[str, str]:
    return f"{constraint.kind.replace('_', ' ')} ({', '.join(constraint.columns)})", table


def _relation_description(relation: tuple[str, object, str]) -> tuple[str, str]:
    _, item, table = relation
    on = f'on "{table}"'
    if isinstance(item, Table):
        return f'table "{item.name}"', table
    if isinstance(item, View):
        return f'view "{item.name}"', table
    if isinstance(item, Index):
        return f"index {on} ({', '.join(item.keys)})", table
    assert isinstance(item, Constraint)
    return f"{item.kind.replace('_', ' ')} {on} ({', '.join(item.columns)})", table


def _trigger_description(trigger: Trigger) -> tuple[str, str]:
    return f"{trigger.timing} {' OR '.join(trigger.events)} calling {trigger.function}()", trigger.table


def _unknown_relations_in_queries(app: App, tables: Sequence[Table], views: Sequence[View]) -> list[Problem]:
    """A declared view's query naming a relation in `public` the app does not have (often one renamed since the
    query was written: a query is SQL as written and is not rewritten) would fail when the view is made."""
    from sovrium_tui.catalog.introspect import sovrium_owned
    from sovrium_tui.catalog.views import query_relations

    known = {t.name for t in tables} | {v.name for v in views}
    problems = []
    for position, table in enumerate(app.tables):
        for number, spec in enumerate(table.views):
            if spec.query is None or not spec.sql_view:
                continue
            for name in sorted(query_relations(spec.query) - known):
                if name.startswith("pg_") or sovrium_owned(name):
                    continue
                message = (
                    f'View "{spec.id}": its query reads "{name}", which is no table or view of this app (a query is '
                    "SQL as written: a table renamed in the schema is renamed in the query by hand)"
                )
                problems.append(Problem(message, f"tables[{position}].views[{number}].query"))
    return problems


def compile_app(app: App, *, recorded: bool = False) -> Catalog:
    """The catalog an App needs, in the exact texts PostgreSQL prints; every problem raised at once. A `recorded`
    app (a snapshot a database or plan file holds: it was applied or planned) is not held to checks of what a person
    writes that PostgreSQL itself would have refused when it was applied: it compiles as it did then."""
    from sovrium_tui.catalog.introspect import SOVRIUM_PUBLIC_TABLES
    from sovrium_tui.catalog.views import compile_views

    tables: list[Table] = []
    functions: list[Function] = []
    problems: list[Problem] = []
    built: dict[int, tuple[Field, _FieldParts]] = {}
    for position, table in enumerate(app.tables):
        if table.physical_name in SOVRIUM_PUBLIC_TABLES:
            message = (
                f'Table name "{table.name}" is Sovrium\'s own table (public.{table.physical_name}); choose another'
            )
            problems.append(Problem(message, f"tables[{position}].name"))
        compiled, table_functions, table_problems = _compile_table(app, position, table, built)
        tables.append(compiled)
        functions.extend(table_functions)
        problems.extend(table_problems)
    if any(trigger.function == SET_UPDATED_BY.name for table in tables for trigger in table.triggers):
        functions.append(SET_UPDATED_BY)
    junctions, junction_problems = _junction_tables(app)
    tables.extend(junctions)
    problems.extend(junction_problems)
    if problems:
        raise SchemaInvalid(problems)
    compiled_views = compile_views(app, tables)
    if not recorded:  # a view may have read a table kept as accepted drift then
        problems.extend(_unknown_relations_in_queries(app, tables, compiled_views.views))
    functions.extend(compiled_views.functions)
    paths = {table.physical_name: f"tables[{position}]" for position, table in enumerate(app.tables)}
    problems.extend(_name_problems(tables, functions, compiled_views.views, paths))
    if problems:
        raise SchemaInvalid(problems)
    auth: AuthUsers = "present" if uses_auth_users(app) else "absent"
    return Catalog(tuple(tables), tuple(functions), auth, compiled_views.views)


USER_FIELD_TYPES = frozenset({"user", "created-by", "updated-by", "deleted-by"})


def uses_auth_users(app: App) -> bool:
    """Whether the app has fields whose values are Better Auth user ids (so `auth."user"` must exist)."""
    return any(canonical_type(f.type) in USER_FIELD_TYPES for t in app.tables for f in t.fields)
