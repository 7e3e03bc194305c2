"""Checking a decoded schema document against Sovrium's rules, and building the frozen App from it.

Every problem is collected with its path (`tables[1].fields[0].type`) and raised once as SchemaInvalid, so a
user fixes a file in one round. Messages keep Sovrium's wording where Sovrium has one.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.identifiers import MAX_IDENTIFIER_BYTES
from sovrium_tui.records import record
from sovrium_tui.schema import computed_fields
from sovrium_tui.schema.checksum import compact_tables_json
from sovrium_tui.schema.field_types import (
    BARCODE_PATTERNS,
    FOREIGN_KEY_RELATIONS,
    KNOWN_TYPES,
    PRIMARY_KEY_TYPES,
    REFERENTIAL_ACTIONS,
    RELATION_TYPES,
    SYSTEM_COLUMNS,
    VARCHAR_255_TYPES,
    VIEW_COMPUTED_TYPES,
    canonical_type,
    creates_column,
)
from sovrium_tui.schema.load import value_kind
from sovrium_tui.schema.model import (
    App,
    CheckSpec,
    DefaultValue,
    Field,
    ForeignKeySpec,
    IndexSpec,
    PrimaryKey,
    PrimaryKeyType,
    RelationType,
    Table,
    UniqueSpec,
    ViewSpec,
    physical_table_name,
)
from sovrium_tui.schema.names import field_name_problem, table_name_problem

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary (reference §1.1–§1.4)

APP_KEYS = frozenset(
    """name version description badge tables auth theme languages analytics components pages forms connections
    env actions automations agents buckets scripts llms palette systemSources""".split()
)
TABLE_KEYS = frozenset(
    """id name fields primaryKey indexes uniqueConstraints unique foreignKeys constraints views permissions
    rowLevelPermissions allowDestructive allowForceDelete webhooks comments aiAccess""".split()
)
COMMON_FIELD_KEYS = frozenset("id name type required unique indexed default searchWeight storage".split())

_DATE_KEYS = frozenset({"format", "dateFormat", "timeFormat", "includeTime", "timezone", "timeZone"})
_AI_KEYS = frozenset(
    """sourceFields prompt systemPrompt model temperature maxTokens computeOn categories schema tags maxTags
    targetLanguage maxLength""".split()
)
_ATTACHMENT_KEYS = frozenset({"bucket", "allowedFileTypes", "maxFileSize", "storeMetadata"})


def _keys(text: str = "") -> frozenset[str]:
    return frozenset(text.split())


# The keys each field type takes besides COMMON_FIELD_KEYS (legacy aliases use their canonical type's keys).
TYPE_KEYS: dict[str, frozenset[str]] = {
    **{kind: _keys() for kind in ("single-line-text", "long-text", "email", "url", "phone-number")},
    "rich-text": _keys("maxLength fullTextSearch toolbar placeholder collaborative"),
    "integer": _keys("min max"),
    "decimal": _keys("precision min max"),
    "currency": _keys("currency precision min max symbolPosition negativeFormat thousandsSeparator"),
    "percentage": _keys("precision min max"),
    "rating": _keys("min max style"),
    "progress": _keys("color"),
    "date": _DATE_KEYS,
    "datetime": _DATE_KEYS - {"includeTime"},
    "time": _keys("timeFormat"),
    "duration": _keys("format displayFormat"),
    "checkbox": _keys(),
    "single-select": _keys("options conditions"),
    "multi-select": _keys("options maxSelections"),
    "status": _keys("options"),
    "relationship": _keys(
        """relatedTable relationType foreignKey displayField onDelete onUpdate reciprocalField allowMultiple
        limitToView relatedField"""
    ),
    "lookup": _keys("relationshipField relatedField filters"),
    "rollup": _keys("relationshipField relatedField aggregation format filters"),
    "count": _keys("relationshipField filters"),
    "formula": _keys("formula resultType format"),
    "single-attachment": _ATTACHMENT_KEYS | {"generateThumbnail"},
    "multiple-attachments": _ATTACHMENT_KEYS | {"maxFiles", "generateThumbnails"},
    "barcode": _keys("format"),
    "color": _keys(),
    "autonumber": _keys("prefix startFrom digits"),
    "array": _keys("itemType maxItems"),
    "json": _keys("schema"),
    "code": _keys("language lineNumbers readOnly minLines maxLines tabSize"),
    "button": _keys("label action url automation"),
    "user": _keys("allowMultiple"),
    **{kind: _keys() for kind in ("created-at", "updated-at", "deleted-at", "geolocation")},
    **{kind: _keys() for kind in ("created-by", "updated-by", "deleted-by")},
    **{f"ai-{kind}": _AI_KEYS for kind in "categorize extract generate sentiment summary tag translate".split()},
}
ALL_FIELD_KEYS = COMMON_FIELD_KEYS.union(*TYPE_KEYS.values())

REQUIRED_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "currency": ("currency",),
    "single-select": ("options",),
    "multi-select": ("options",),
    "status": ("options",),
    "relationship": ("relatedTable",),
    "code": ("language",),
    "button": ("label", "action"),
    **computed_fields.REQUIRED_KEYS,
}

# What a `default` must be, per canonical type; types not listed take no default.
_DEFAULT_KIND: dict[str, str] = {
    **dict.fromkeys(
        """single-line-text long-text rich-text email url phone-number code barcode date datetime
        time""".split(),
        "text",
    ),
    **dict.fromkeys(("integer", "rating"), "integer"),
    "progress": "percent",
    **dict.fromkeys(("decimal", "currency", "percentage"), "number"),
    "duration": "duration",
    "checkbox": "boolean",
    **dict.fromkeys(("single-select", "status"), "option"),
    "multi-select": "options",
    "color": "color",
    "array": "strings",
}

_APP_NAME = re.compile(r"(?:@[a-z0-9\-~][a-z0-9\-._~]*/)?[a-z0-9\-~][a-z0-9\-._~]*")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")  # index names
_CONSTRAINT_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_ITEM_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?: [A-Za-z0-9]+)*")
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_COLOR_MESSAGE = "Invalid color format - color must be a hex code (e.g., #3B82F6)"
_INT32 = (-(2**31), 2**31 - 1)
_MAX_NESTING = 64

_MISSING = object()
# orjson writes datetimes, dataclasses and subclasses of str, int, dict and list itself; these options make it
# refuse them, so what it writes is plain JSON data.
_PLAIN_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_TEXT_ONLY = frozenset({str})


# ---------------------------------------------------------------------------------------------------------------
# Problems


class Problems:
    """The problems found so far, each a path and a message; lines are looked up once, when raising."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], None] = {}
        self._paths: set[str] = set()
        self.added = 0  # every add, repeats included: "nothing was said while reading this" is `added` unchanged

    def __len__(self) -> int:
        return len(self._found)

    def add(self, path: str, message: str) -> None:
        self.added += 1
        self._found[(path, message)] = None
        self._paths.add(path)

    def add_unless_reported(self, path: str, message: str) -> None:
        """Add a catch-all problem only when nothing more specific was said about the same place."""
        if path not in self._paths:
            self.add(path, message)

    def error(self, *, positions: Mapping[str, int] | None, source: str | None) -> SchemaInvalid:
        problems = [Problem(message, path, _line_of(path, positions)) for path, message in self._found]
        problems.sort(key=lambda problem: (problem.line is None, problem.line or 0))
        return SchemaInvalid(problems, source=source)


def _line_of(path: str, positions: Mapping[str, int] | None) -> int | None:
    """The line of `path`, or of its nearest ancestor that has one (missing keys point at their parent)."""
    if not positions:
        return None
    while path:
        line = positions.get(path)
        if line is not None:
            return line
        path = _parent(path)
    return positions.get("")


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rfind("[")]
    return path[: max(path.rfind("."), 0)]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A " (did you mean 'x'?)" suffix when some candidate is close to `word`, else ""."""
    import difflib

    by_lower = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(word.lower(), sorted(by_lower), n=1, cutoff=0.6)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""


def _show(value: object) -> str:
    """A value for a message, with any hostile characters escaped."""
    return json.dumps(value, ensure_ascii=True) if isinstance(value, str) else str(value)


def _key(key: str) -> str:
    """A key for a message: 'key' as Sovrium writes it, escaped when it holds unprintable characters."""
    return f"'{key}'" if key.isprintable() else _show(key)


def _describe(value: object) -> str:
    """A wrong value for a message: scalars with their value ("-1", 'string "x"'), the kind for the rest."""
    if value == "":
        return "an empty string"
    if isinstance(value, str):
        return f"string {_show(value)}"
    if _is_int(value) or isinstance(value, float):
        return str(value)
    return value_kind(value)


# ---------------------------------------------------------------------------------------------------------------
# Value checks: each reports a problem and returns None when the value is not what the key needs.


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect_bool(problems: Problems, value: object, path: str) -> bool | None:
    if isinstance(value, bool):
        return value
    problems.add(path, f"Expected a boolean, got {value_kind(value)}")
    return None


def _expect_str(problems: Problems, value: object, path: str, *, non_empty: bool = True) -> str | None:
    if not isinstance(value, str):
        problems.add(path, f"Expected a string, got {value_kind(value)}")
        return None
    if non_empty and not value.strip():
        problems.add(path, "Expected a non-empty string")
        return None
    return value


def _expect_int(
    problems: Problems, value: object, path: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    if not _is_int(value):
        problems.add(path, f"Expected an integer, got {_describe(value)}")
        return None
    number = cast(int, value)
    if (minimum is None or number >= minimum) and (maximum is None or number <= maximum):
        return number
    if maximum is not None:
        problems.add(path, f"Expected an integer between {minimum} and {maximum}, got {number}")
    else:
        problems.add(path, f"Expected a {'positive' if minimum == 1 else 'non-negative'} integer, got {number}")
    return None


def _expect_number(problems: Problems, value: object, path: str) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"Expected a number, got {value_kind(value)}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        problems.add(path, f"Expected a finite number, got {value}")
        return None
    return value


def _expect_list(problems: Problems, value: object, path: str) -> list[object] | None:
    if isinstance(value, list):
        return value
    problems.add(path, f"Expected a list, got {value_kind(value)}")
    return None


def _expect_mapping(problems: Problems, value: object, path: str) -> dict[str, object] | None:
    if not isinstance(value, dict):
        problems.add(path, f"Expected a mapping, got {value_kind(value)}")
        return None
    if all(isinstance(key, str) for key in value):
        return cast(dict[str, object], value)
    for key in value:
        if not isinstance(key, str):
            problems.add(_child(path, str(key)), f"Keys must be strings, got {value_kind(key)} {key!r}")
    return {key: item for key, item in value.items() if isinstance(key, str)}


def _expect_names(problems: Problems, value: object, path: str) -> tuple[str, ...] | None:
    """A non-empty list of column names."""
    items = _expect_list(problems, value, path)
    if items is None:
        return None
    if not items:
        problems.add(path, "Expected at least one field name")
        return None
    names = [_expect_str(problems, item, f"{path}[{index}]") for index, item in enumerate(items)]
    return tuple(name for name in names if name is not None)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_keys(problems: Problems, data: Mapping[str, object], path: str, allowed: frozenset[str]) -> None:
    for key in data:
        if key not in allowed:
            problems.add(_child(path, key), f"Unknown key {_key(key)}{did_you_mean(key, allowed)}")


def _require(problems: Problems, data: Mapping[str, object], key: str, path: str, what: str = "") -> object:
    if key in data:
        return data[key]
    problems.add(_child(path, key), f"Missing required key '{key}'{what}")
    return _MISSING


def _flag(problems: Problems, data: Mapping[str, object], key: str, path: str) -> bool:
    if key not in data:
        return False
    return _expect_bool(problems, data[key], _child(path, key)) or False


def _referential_action(problems: Problems, data: Mapping[str, object], key: str, path: str) -> str | None:
    """cascade / set-null / set-default / restrict / no-action, any case, with spaces or underscores."""
    if key not in data:
        return None
    text = _expect_str(problems, data[key], _child(path, key))
    if text is None:
        return None
    action = re.sub(r"[\s_]+", "-", text.strip().lower())
    if action in REFERENTIAL_ACTIONS:
        return action
    expected = ", ".join(REFERENTIAL_ACTIONS)
    problems.add(_child(path, key), f"Invalid {key} action {_show(text)} (expected one of {expected})")
    return None


def _sql_name(
    problems: Problems, data: Mapping[str, object], path: str, what: str, pattern: re.Pattern[str]
) -> str | None:
    """An index or constraint name: required, matching `pattern`, at most 63 bytes."""
    value = _require(problems, data, "name", path)
    if value is _MISSING:
        return None
    name = _expect_str(problems, value, _child(path, "name"))
    if name is None:
        return None
    if not pattern.fullmatch(name):
        problems.add(_child(path, "name"), f"Invalid {what} {_show(name)}: must match {pattern.pattern}")
        return None
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        problems.add(_child(path, "name"), f"Invalid {what} {_show(name)}: longer than 63 bytes")
        return None
    return name


def _duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


# ---------------------------------------------------------------------------------------------------------------
# Raw SQL (index `where`, table `constraints[].check`)


@record
class _RawSql:
    path: str
    key: str
    text: str
    columns: frozenset[str] = frozenset()  # the table's columns, which every name the expression reads must be


def _raw_sql(
    problems: Problems,
    value: object,
    path: str,
    key: str,
    pending: list[_RawSql],
    *,
    columns: Iterable[str] = (),
) -> str | None:
    """Keep raw SQL text; refuse statement separators, NULs and comments now, queue it for parsing."""
    text = _expect_str(problems, value, path)
    if text is None:
        return None
    if ";" in text or "\x00" in text:
        problems.add(path, f"{key} must be one SQL expression: ';' and NUL characters are not allowed")
    elif "--" in text or "/*" in text:
        problems.add(path, f"{key} must be one SQL expression: comments are not allowed")
    else:
        pending.append(_RawSql(path, key, text, frozenset(columns)))
    return text


def _check_raw_sql(problems: Problems, pending: list[_RawSql]) -> None:
    """Parse each expression with sqlglot (imported only here: it costs ~125 ms) as a PostgreSQL condition."""
    if not pending:
        return
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from sovrium_tui.pgparse import expression_problem

    boolean_like = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Column, exp.Func, exp.Null)
    for sql in pending:
        try:
            parsed = sqlglot.parse_one(sql.text, dialect="postgres")
        except SqlglotError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            reason = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", reason)
            problems.add(sql.path, f"{sql.key} is not a valid PostgreSQL expression: {reason}")
            continue
        problem = expression_problem(sql.text)
        if problem is not None:
            problems.add(sql.path, f"{sql.key} {problem}")
            continue
        while isinstance(parsed, exp.Paren):
            parsed = parsed.this
        if not isinstance(parsed, boolean_like) or isinstance(parsed, exp.Query):
            problems.add(sql.path, f"{sql.key} must be a boolean SQL expression, got {_show(sql.text)}")
        elif parsed.find(exp.Query) is not None:
            problems.add(sql.path, f"{sql.key} cannot contain a subquery (PostgreSQL refuses them here)")
        else:
            _check_raw_columns(problems, sql)


def _check_raw_columns(problems: Problems, sql: _RawSql) -> None:
    """Each column the expression reads (unqualified: its own table's) must be one of the table's columns, as
    PostgreSQL's own parser reads the names."""
    from sovrium_tui.pgparse import column_references

    reported: set[str] = set()
    for reference in column_references(sql.text) or ():
        if len(reference) != 1 or reference[0] in sql.columns or reference[0] in reported:
            continue
        reported.add(reference[0])
        hint = did_you_mean(reference[0], sql.columns)
        problems.add(sql.path, f'{sql.key} references non-existent column "{reference[0]}"{hint}')


# ---------------------------------------------------------------------------------------------------------------
# Fields


@record
class _Relation:
    table: str | None = None
    type: RelationType | None = None
    field: str | None = None
    on_delete: str | None = None
    on_update: str | None = None


class _FieldReader:
    """Reads the type-specific keys of one field whose type is known and supported."""

    def __init__(self, problems: Problems, data: Mapping[str, object], path: str, kind: str) -> None:
        self.problems = problems
        self.data = data
        self.path = path
        self.kind = kind
        self.allowed = TYPE_KEYS[kind]

    def get(self, key: str) -> object:
        """The value of a type-specific key, or _MISSING when absent or not valid for this type."""
        return self.data.get(key, _MISSING) if key in self.allowed else _MISSING

    def at(self, key: str) -> str:
        return _child(self.path, key)

    def flag(self, key: str) -> bool:
        value = self.get(key)
        return value is not _MISSING and (_expect_bool(self.problems, value, self.at(key)) or False)

    def count(self, key: str) -> int | None:
        value = self.get(key)
        return None if value is _MISSING else _expect_int(self.problems, value, self.at(key), minimum=1)

    def text(self, key: str) -> str | None:
        value = self.get(key)
        return None if value is _MISSING else _expect_str(self.problems, value, self.at(key))

    def bounds(self) -> tuple[int | float | None, int | float | None]:
        low, high = self._bound("min"), self._bound("max")
        if low is not None and high is not None and low > high:
            self.problems.add(self.at("min"), "min cannot be greater than max")
        return low, high

    def _bound(self, key: str) -> int | float | None:
        value = self.get(key)
        if value is _MISSING:
            return None
        if self.kind == "integer":
            return _expect_int(self.problems, value, self.at(key), minimum=_INT32[0], maximum=_INT32[1])
        if self.kind == "rating":
            low, high = (0, 10) if key == "min" else (1, 10)
            return _expect_int(self.problems, value, self.at(key), minimum=low, maximum=high)
        return _expect_number(self.problems, value, self.at(key))

    def precision(self) -> int | None:
        value = self.get("precision")
        if value is _MISSING:
            return None
        # Sovrium: currency and percentage take 0 (whole numbers, NUMERIC(18,0)); decimal starts at 1.
        lowest = 1 if self.kind == "decimal" else 0
        return _expect_int(self.problems, value, self.at("precision"), minimum=lowest, maximum=10)

    def options(self) -> tuple[str, ...]:
        items = self.get("options")
        if items is _MISSING:
            return ()
        listed = _expect_list(self.problems, items, self.at("options"))
        if listed is None:
            return ()
        if not listed:
            self.problems.add(self.at("options"), "At least one option is required")
        values: list[str] = []
        for index, item in enumerate(listed):
            path = f"{self.at('options')}[{index}]"
            value = self._option(item, path)
            if value is None:
                continue
            if value in values:
                self.problems.add(path, "Options must be unique (duplicate option found)")
            values.append(value)
        return tuple(values)

    def _option(self, item: object, path: str) -> str | None:
        if isinstance(item, str):
            return _expect_str(self.problems, item, path)
        if not isinstance(item, dict):
            self.problems.add(path, f"Expected an option (a string or a mapping with 'value'), got {value_kind(item)}")
            return None
        option = _expect_mapping(self.problems, item, path)
        if option is None:
            return None
        extra = "color" if self.kind == "status" else "label"
        _check_keys(self.problems, option, path, frozenset({"value", extra}))
        if extra in option:
            color = _expect_str(self.problems, option[extra], _child(path, extra))
            if extra == "color" and color is not None and not _HEX_COLOR.fullmatch(color):
                self.problems.add(_child(path, extra), _COLOR_MESSAGE)
        value = _require(self.problems, option, "value", path)
        return None if value is _MISSING else _expect_str(self.problems, value, _child(path, "value"))

    def max_selections(self, options: tuple[str, ...]) -> int | None:
        limit = self.count("maxSelections")
        if limit is not None and options and limit > len(options):
            self.problems.add(self.at("maxSelections"), "maxSelections exceeds available options")
        return limit

    def relation(self, required: bool) -> _Relation:
        if self.kind != "relationship":
            return _Relation()
        relation_type: RelationType = "many-to-one"
        written = self.get("relationType")
        if written is not _MISSING:
            text = _expect_str(self.problems, written, self.at("relationType"))
            if text is not None and text not in RELATION_TYPES:
                expected = ", ".join(RELATION_TYPES)
                self.problems.add(
                    self.at("relationType"), f"Invalid relationType {_show(text)} (expected one of {expected})"
                )
            elif text is not None:
                relation_type = cast(RelationType, text)
        on_delete = _referential_action(self.problems, self.data, "onDelete", self.path)
        if on_delete == "set-null" and required:
            self.problems.add(self.at("onDelete"), "onDelete 'set-null' cannot be used on a required field")
        return _Relation(
            table=self.text("relatedTable"),
            type=relation_type,
            field=self.text("relatedField"),
            on_delete=on_delete,
            on_update=_referential_action(self.problems, self.data, "onUpdate", self.path),
        )

    def item_type(self) -> str | None:
        name = self.text("itemType")
        if name is not None and (len(name) > MAX_IDENTIFIER_BYTES or not _ITEM_TYPE.fullmatch(name)):
            message = f"Invalid itemType {_show(name)}: use a simple type name such as text, integer or varchar"
            self.problems.add(self.at("itemType"), message)
            return None
        return name

    def barcode_format(self) -> str | None:
        """Any text, as in Sovrium; only the formats in BARCODE_PATTERNS get a CHECK on the column."""
        value = self.get("format") if self.kind == "barcode" else _MISSING
        return None if value is _MISSING else _expect_str(self.problems, value, self.at("format"), non_empty=False)

    def check_display_keys(self) -> None:
        """Keys with no DDL effect that still have a checkable shape."""
        color = self.text("color")
        if color is not None and not _HEX_COLOR.fullmatch(color):
            self.problems.add(self.at("color"), _COLOR_MESSAGE)
        for key in ("currency", "language", "label"):
            self.text(key)
        action = self.text("action")
        if action in ("url", "automation") and action not in self.data:
            message = f"Missing required key '{action}' for a button with action '{action}'"
            self.problems.add(self.at(action), message)

    def default(
        self, options: tuple[str, ...], low: int | float | None, high: int | float | None
    ) -> DefaultValue | None:
        if "default" not in self.data:
            return None
        value, path = self.data["default"], self.at("default")
        expected = _DEFAULT_KIND.get(self.kind)
        if expected is None:
            self.problems.add(path, f"Field type '{self.kind}' does not take a default")
            return None
        if expected in ("integer", "number", "percent"):
            if self.kind == "rating" and low is None and high is not None:
                low = 1  # the column's range check starts at 1 when only max is written
            return self._numeric_default(value, path, expected, low, high)
        if expected in ("option", "options"):
            return self._option_default(value, path, options, many=expected == "options")
        default = self._plain_default(value, path, expected)
        problem = self._default_rule_problem(default)
        if problem is not None:
            self.problems.add(path, problem)
            return None
        return default

    def _default_rule_problem(self, default: DefaultValue | None) -> str | None:
        """Why a default breaks the column's own rule (its length, format or item count): PostgreSQL would refuse it
        in every row that takes it, and in the rows already there when the field is added to a table."""
        if isinstance(default, (list, tuple)):
            most = self.count("maxItems") if self.kind == "array" else None
            if most is not None and len(default) > most:
                return f"Default value has {len(default)} items, more than maxItems ({most})"
            return None
        if not isinstance(default, str):
            return None
        if self.kind in VARCHAR_255_TYPES and len(default) > 255:
            return f"Default value is {len(default)} characters long: a {self.kind} field holds at most 255"
        most = self.count("maxLength") if self.kind == "rich-text" else None
        if most is not None and len(default) > most:
            return f"Default value is {len(default)} characters long, more than maxLength ({most})"
        pattern = BARCODE_PATTERNS.get(self.barcode_format() or "") if self.kind == "barcode" else None
        if pattern is not None and re.search(pattern.removesuffix("$") + r"\Z", default) is None:
            return f"Default value {_show(default)} is not a valid {self.barcode_format()} barcode"
        return None

    def _numeric_default(
        self, value: object, path: str, expected: str, low: int | float | None, high: int | float | None
    ) -> DefaultValue | None:
        if expected == "percent":
            return _expect_int(self.problems, value, path, minimum=0, maximum=100)
        if expected == "integer":
            number: int | float | None = _expect_int(self.problems, value, path, minimum=_INT32[0], maximum=_INT32[1])
        else:
            number = _expect_number(self.problems, value, path)
        if number is not None and ((low is not None and number < low) or (high is not None and number > high)):
            self.problems.add(path, f"Default value {number} is outside the allowed range (min {low}, max {high})")
        precision = self.precision() if expected == "number" else None
        if number is not None and precision is not None and not _fits_numeric(number, precision):
            message = f"Default value {number} does not fit: with precision {precision} a value stays below 10^18"
            self.problems.add(path, message)
        return number

    def _option_default(self, value: object, path: str, options: tuple[str, ...], *, many: bool) -> DefaultValue | None:
        if not many:
            choice = _expect_str(self.problems, value, path)
            if choice is not None and options and choice not in options:
                self.problems.add(path, f"Default value {_show(choice)} is not one of the options")
            return choice
        chosen = _string_list(self.problems, value, path)
        for index, choice in enumerate(chosen or ()):
            if options and choice not in options:
                self.problems.add(f"{path}[{index}]", f"Default value {_show(choice)} is not one of the options")
        return chosen

    def _plain_default(self, value: object, path: str, expected: str) -> DefaultValue | None:
        if expected == "boolean":
            return _expect_bool(self.problems, value, path)
        if expected == "strings":
            return _string_list(self.problems, value, path)
        if expected == "duration" and not isinstance(value, str):
            return _expect_number(self.problems, value, path)
        text = _expect_str(self.problems, value, path, non_empty=False)
        if expected == "color" and text is not None and not _HEX_COLOR.fullmatch(text):
            self.problems.add(path, _COLOR_MESSAGE)
            return None
        if self.kind in ("date", "datetime") and text is not None and not _real_day(text):
            self.problems.add(path, f"Default value {_show(text)} is not a date: no such day in the calendar")
            return None
        return text


def _fits_numeric(number: int | float, precision: int) -> bool:
    """Whether `numeric(18 + precision, precision)` holds the number, rounded as PostgreSQL rounds it."""
    from decimal import ROUND_HALF_UP, Decimal

    if isinstance(number, float) and not math.isfinite(number):
        return True  # refused as a number already
    if abs(number) >= 10**18:
        return False
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)
    return abs(rounded) < 10**18


# A default written as year-month-day must be a day of the calendar (PostgreSQL refuses `2024-02-30` when the
# plan is applied); other date text (`CURRENT_DATE`, `today`, `2024/1/5`, …) is left to PostgreSQL.
_YEAR_MONTH_DAY = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?", re.DOTALL)


def _real_day(text: str) -> bool:
    found = _YEAR_MONTH_DAY.fullmatch(text)
    if found is None:
        return True
    from datetime import date

    year, month, day = (int(part) for part in found.groups())
    try:
        date(year if year else 1, month, day)  # year 0000 is left to PostgreSQL (it refuses it too)
    except ValueError:
        return False
    return True


def _string_list(problems: Problems, value: object, path: str) -> tuple[str, ...] | None:
    items = _expect_list(problems, value, path)
    if items is None:
        return None
    texts = [_expect_str(problems, item, f"{path}[{index}]", non_empty=False) for index, item in enumerate(items)]
    return tuple(text for text in texts if text is not None)


# ---------------------------------------------------------------------------------------------------------------
# Tables


@dataclass
class _TableDraft:
    """What could be read of one table; complete (and turned into a Table) only when no problem was found."""

    index: int
    path: str
    data: dict[str, object]
    id: int | str
    name: str | None = None
    raw_fields: list[dict[str, object]] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    field_paths: dict[str, str] = field(default_factory=dict)
    declared: set[str] = field(default_factory=set)  # every field name written, even on unreadable fields
    primary_key: PrimaryKey | None = None
    indexes: list[tuple[str, IndexSpec]] = field(default_factory=list)
    unique_constraints: list[tuple[str, UniqueSpec]] = field(default_factory=list)
    foreign_keys: list[tuple[str, ForeignKeySpec]] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list)
    allow_destructive: bool = False
    views: list[tuple[str, ViewSpec]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"tables[{self.index}]"

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def storage_name(self) -> str:
        """The physical table that will hold the rows (`<name>_base` when lookups, rollups or counts need a view)."""
        view_backed = any(f.type in VIEW_COMPUTED_TYPES for f in self.fields)
        name = physical_table_name(self.name or "")
        return f"{name}_base" if view_backed else name

    def columns(self) -> set[str]:
        """Column names this table will have (unreadable fields count, so one mistake is reported once)."""
        read = {f.name for f in self.fields}
        columns = {f.name for f in self.fields if creates_column(f.type, f.relation_type)}
        columns |= self.declared - read
        columns |= {"created_at", "updated_at", "deleted_at"}
        pk = self.primary_key
        if "id" not in read and (pk is None or pk.type != "composite" or "id" in pk.fields):
            columns.add("id")
        return columns

    def unique_column_sets(self) -> set[frozenset[str]]:
        """Column sets a foreign key may reference: the primary key and every unique rule."""
        pk = self.primary_key
        sets = {frozenset({f.name}) for f in self.fields if f.unique or f.type == "autonumber"}
        if "id" not in self.declared and (pk is None or pk.type != "composite"):
            sets.add(frozenset({"id"}))
        if pk is not None and pk.type == "composite":
            sets.add(frozenset(pk.fields))
        sets.update(frozenset(spec.fields) for _, spec in self.indexes if spec.unique and spec.where is None)
        sets.update(frozenset(spec.fields) for _, spec in self.unique_constraints)
        return sets

    def table(self) -> Table:
        assert self.name is not None  # only called when no problem was found
        return Table(
            id=self.id,
            name=self.name,
            fields=tuple(self.fields),
            primary_key=self.primary_key,
            indexes=tuple(spec for _, spec in self.indexes),
            unique_constraints=tuple(spec for _, spec in self.unique_constraints),
            foreign_keys=tuple(spec for _, spec in self.foreign_keys),
            checks=tuple(self.checks),
            allow_destructive=self.allow_destructive,
            views=tuple(spec for _, spec in self.views),
        )

    def decoded(self) -> dict[str, object]:
        """The table as written, with the assigned ids and the default relationType filled in."""
        fields = [_decoded_field(raw, built) for raw, built in zip(self.raw_fields, self.fields, strict=True)]
        return {**self.data, "id": self.id, "fields": fields}


def _field_shape(data: dict[str, object]) -> bytes | None:
    """A key equal for two fields exactly when they are written alike apart from `name` and `id`; None for data
    not worth a key. orjson tells 1 from 1.0 and true and keeps key order (which only costs a miss); it writes NaN
    and infinities as null, so a key holding null is not used."""
    if len(data) > 24:
        return None
    rest = data.copy()
    rest.pop("name", None)
    rest.pop("id", None)
    try:
        key = orjson.dumps(rest, option=_PLAIN_ONLY)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return None if b"null" in key else key


def _decoded_field(raw: dict[str, object], built: Field) -> dict[str, object]:
    if type(raw.get("id")) is int and built.type != "relationship":  # as written: nothing to fill in
        return raw
    decoded: dict[str, object] = {**raw, "id": built.id}
    if built.type == "relationship":
        decoded.setdefault("relationType", built.relation_type)
    return decoded


class _Validator:
    def __init__(self) -> None:
        self.problems = Problems()
        self.pending_sql: list[_RawSql] = []
        self.known_fields: dict[bytes, dict[str, Any]] = {}
        self.built_fields: dict[tuple[bytes | None, int, str | None], Field] = {}
        self.name_problems: dict[str, str | None] = {}  # field name → why it is refused (None: accepted)

    # -- app ------------------------------------------------------------------------------------------------------

    def app(self, doc: object) -> App | None:
        if not isinstance(doc, dict):
            message = f"The top level must be a mapping with 'name' and 'tables', got {value_kind(doc)}"
            self.problems.add("", message)
            return None
        data = _expect_mapping(self.problems, doc, "") or {}
        _check_keys(self.problems, data, "", APP_KEYS)
        name = self.app_name(data)
        auth = "auth" in data and _expect_mapping(self.problems, data["auth"], "auth") is not None
        drafts = self.tables(data.get("tables", []))
        self.cross_check(drafts)
        for draft in drafts:
            _check_plain_data(self.problems, draft.data, draft.path)
        _check_raw_sql(self.problems, self.pending_sql)
        if self.problems or name is None:
            return None
        document = compact_tables_json([draft.decoded() for draft in drafts])
        return App(name=name, tables=tuple(d.table() for d in drafts), auth=auth, document=document)

    def app_name(self, data: Mapping[str, object]) -> str | None:
        value = _require(self.problems, data, "name", "")
        name = None if value is _MISSING else _expect_str(self.problems, value, "name")
        if name is None:
            return None
        if len(name) > 214 or not _APP_NAME.fullmatch(name):
            rule = "lowercase letters, digits, '-', '.', '_', '~', an optional @scope/, at most 214 characters"
            self.problems.add("name", f"Invalid app name {_show(name)}: use an npm-style package name ({rule})")
            return None
        return name

    # -- tables ---------------------------------------------------------------------------------------------------

    def tables(self, value: object) -> list[_TableDraft]:
        items = _expect_list(self.problems, value, "tables")
        entries: list[tuple[int, dict[str, object]]] = []
        for index, item in enumerate(items or ()):
            data = _expect_mapping(self.problems, item, f"tables[{index}]")
            if data is not None:
                entries.append((index, data))
        ids = self.assign_ids(
            [(f"tables[{index}]", data) for index, data in entries],
            allow_text=True,
            duplicate_message="Table IDs must be unique within the schema",
        )
        drafts = [
            self.table(_TableDraft(index, f"tables[{index}]", data, table_id))
            for (index, data), table_id in zip(entries, ids, strict=True)
        ]
        self.check_table_names_unique(drafts)
        return drafts

    def assign_ids(
        self, entries: list[tuple[str, dict[str, object]]], *, allow_text: bool, duplicate_message: str
    ) -> list[int | str]:
        """Each entry's id: the one written, else max(numeric ids) + 1, + 2 … in order."""
        as_written = [data.get("id") for _, data in entries]
        if all(type(value) is int for value in as_written):  # the usual case: every id written, a whole number
            numbers = cast(list[int], as_written)
            if (not numbers or min(numbers) > 0) and len(set(numbers)) == len(numbers):
                return list(numbers)
        written: list[int | str | None] = []
        for path, data in entries:
            value = data.get("id")
            if "id" not in data:
                written.append(None)
            elif (_is_int(value) and cast(int, value) > 0) or (allow_text and isinstance(value, str) and value):
                written.append(cast(int | str, value))
            else:
                kinds = "a positive integer or a non-empty string" if allow_text else "a positive integer"
                self.problems.add(f"{path}.id", f"Expected {kinds}, got {_describe(value)}")
                written.append(0)  # a placeholder: this document will not become an App
        next_id = max((v for v in written if isinstance(v, int)), default=0) + 1
        ids: list[int | str] = []
        seen: set[int | str] = set()
        for (path, _), given in zip(entries, written, strict=True):
            if given is None:
                ids.append(next_id)
                next_id += 1
                continue
            if given != 0 and given in seen:
                self.problems.add(f"{path}.id", duplicate_message)
            seen.add(given)
            ids.append(given)
        return ids

    def table(self, draft: _TableDraft) -> _TableDraft:
        data, path = draft.data, draft.path
        _check_keys(self.problems, data, path, TABLE_KEYS)
        draft.name = self.table_name(data, path)
        self.fields(draft)
        draft.primary_key = self.primary_key(draft)
        columns = draft.columns()
        draft.indexes = self.indexes(draft, columns)
        draft.unique_constraints = self.unique_constraints(draft, columns)
        draft.foreign_keys = self.foreign_keys(draft, columns)
        draft.checks = self.checks(draft, columns)
        self.check_constraint_names_unique(draft)
        draft.allow_destructive = _flag(self.problems, data, "allowDestructive", path)
        draft.views = computed_fields.read_views(self.problems, draft)
        return draft

    def table_name(self, data: Mapping[str, object], path: str) -> str | None:
        value = _require(self.problems, data, "name", path)
        name = None if value is _MISSING else _expect_str(self.problems, value, f"{path}.name", non_empty=False)
        problem = None if name is None else table_name_problem(name)
        if problem is not None:
            self.problems.add(f"{path}.name", problem)
            return None
        return name

    def check_table_names_unique(self, drafts: list[_TableDraft]) -> None:
        seen: set[str] = set()
        for draft in drafts:
            if draft.name is None:
                continue
            names = {draft.name, physical_table_name(draft.name)}
            if names & seen:
                self.problems.add(f"{draft.path}.name", "Table names must be unique within the schema")
            seen |= names

    # -- fields ---------------------------------------------------------------------------------------------------

    def fields(self, draft: _TableDraft) -> None:
        path = f"{draft.path}.fields"
        value = _require(self.problems, draft.data, "fields", draft.path)
        items = None if value is _MISSING else _expect_list(self.problems, value, path)
        if items is None:
            return
        if not items:
            self.problems.add(path, "A table must have at least one field")
        entries: list[tuple[str, dict[str, object]]] = []
        shapes: list[bytes | None] = []
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]"
            # a mapping with text keys, asked cheaply first (a big app has tens of thousands of fields): a shape
            # says so (orjson writes text keys only), else the keys are asked
            shape = _field_shape(item) if type(item) is dict else None
            data: dict[str, object] | None = None
            if shape is not None or (type(item) is dict and {*map(type, item)} <= _TEXT_ONLY):
                data = cast(dict[str, object], item)
            if data is None:
                data = _expect_mapping(self.problems, item, item_path)
            if data is not None:
                entries.append((item_path, data))
                shapes.append(shape)
        ids = self.assign_ids(entries, allow_text=False, duplicate_message="Field IDs must be unique within the table")
        declared, field_paths, raw_fields, built_fields = (
            draft.declared,
            draft.field_paths,
            draft.raw_fields,
            draft.fields,
        )
        for (field_path, data), field_id, shape in zip(entries, ids, shapes, strict=True):
            name = self.field_name(data, field_path)
            if name is not None and name in declared:
                self.problems.add(f"{field_path}.name", "Field names must be unique within the table")
            built = self.field(data, field_path, int(field_id), name, shape)
            if name is not None:
                declared.add(name)
                field_paths.setdefault(name, field_path)
            raw_fields.append(data)
            if built is not None:
                built_fields.append(built)

    def field_name(self, data: Mapping[str, object], path: str) -> str | None:
        value = data.get("name")
        if type(value) is str:  # the usual case; the same names come back in table after table
            problem = self.name_problems.get(value, _MISSING)
            if problem is _MISSING:
                problem = self.name_problems[value] = field_name_problem(value)
        else:
            value = _require(self.problems, data, "name", path)
            name = None if value is _MISSING else _expect_str(self.problems, value, f"{path}.name", non_empty=False)
            if name is None:
                return None
            problem = field_name_problem(name)
        if problem is not None:
            self.problems.add(f"{path}.name", cast(str, problem))
            return None
        return cast(str, value)

    def field(
        self, data: dict[str, object], path: str, field_id: int, name: str | None, shape: bytes | None
    ) -> Field | None:
        """The Field, or None when it has no usable name or type. Fields written alike (everything but `name`
        and `id` the same: `shape`, from `_field_shape`) are read once: a big app repeats a few dozen shapes
        thousands of times. One written alike with the same id and name too (`title`, id 1, in table after
        table) is the same immutable value."""
        key = (shape, field_id, name)
        built = self.built_fields.get(key) if shape is not None else None
        if built is not None:
            return built
        known = self.known_fields.get(shape) if shape is not None else None
        if known is None:
            reported = self.problems.added
            known = self.field_settings(data, path)
            if known is None or name is None:
                return None
            if shape is None or self.problems.added != reported:
                return Field(id=field_id, name=name, **known)  # read again wherever it appears
            self.known_fields[shape] = known
        if name is None:
            return None
        built = self.built_fields[key] = Field(id=field_id, name=name, **known)
        return built

    def field_settings(self, data: Mapping[str, object], path: str) -> dict[str, Any] | None:
        """Everything a Field holds besides its id and name, as keyword arguments; None without a usable type."""
        kind = self.field_type(data, path)
        required = _flag(self.problems, data, "required", path)
        unique = _flag(self.problems, data, "unique", path)
        indexed = _flag(self.problems, data, "indexed", path)
        self.display_keys(data, path)
        if kind is None:
            return None
        read = _FieldReader(self.problems, data, path, kind)
        read.check_display_keys()
        low, high = read.bounds()
        options = read.options()
        relation = read.relation(required)
        extras = computed_fields.read_extras(read)
        return {
            "type": kind,
            "required": required,
            "unique": unique,
            "indexed": indexed,
            "default": read.default(options, low, high),
            "min": low,
            "max": high,
            "precision": read.precision(),
            "options": options,
            "max_selections": read.max_selections(options),
            "related_table": relation.table,
            "relation_type": relation.type,
            "related_field": relation.field if extras.related_field is None else extras.related_field,
            "on_delete": relation.on_delete,
            "on_update": relation.on_update,
            "item_type": read.item_type(),
            "max_items": read.count("maxItems"),
            "store_metadata": read.flag("storeMetadata"),
            "max_files": read.count("maxFiles"),
            "max_length": read.count("maxLength"),
            "full_text_search": read.flag("fullTextSearch"),
            "format": read.barcode_format(),
            "foreign_key": extras.foreign_key,
            "reciprocal_field": extras.reciprocal_field,
            "relationship_field": extras.relationship_field,
            "aggregation": extras.aggregation,
            "filters": extras.filters,
            "formula": extras.formula,
            "result_type": extras.result_type,
            "ai": extras.ai,
        }

    def field_type(self, data: Mapping[str, object], path: str) -> str | None:
        """The canonical type, after checking the field's keys against it; None when it cannot be used."""
        value = _require(self.problems, data, "type", path)
        written = None if value is _MISSING else _expect_str(self.problems, value, f"{path}.type")
        if written is None or written not in KNOWN_TYPES:
            if written is not None:
                hint = did_you_mean(written, KNOWN_TYPES)
                self.problems.add(f"{path}.type", f"Unknown field type: {written}{hint}")
            _check_keys(self.problems, data, path, ALL_FIELD_KEYS)
            return None
        kind = canonical_type(written)
        allowed = COMMON_FIELD_KEYS | TYPE_KEYS[kind]
        for key in data:
            if key in allowed:
                continue
            if key in ALL_FIELD_KEYS:
                self.problems.add(f"{path}.{key}", f"Key '{key}' is not valid for field type '{written}'")
            else:
                self.problems.add(f"{path}.{key}", f"Unknown key {_key(key)}{did_you_mean(key, allowed)}")
        for key in REQUIRED_TYPE_KEYS.get(kind, ()):
            _require(self.problems, data, key, path, f" for field type '{written}'")
        return kind

    def display_keys(self, data: Mapping[str, object], path: str) -> None:
        if "searchWeight" in data and data["searchWeight"] not in ("A", "B", "C", "D"):
            self.problems.add(f"{path}.searchWeight", "searchWeight must be one of A, B, C, D")
        if "storage" in data:
            _expect_mapping(self.problems, data["storage"], f"{path}.storage")

    # -- table-level rules ----------------------------------------------------------------------------------------

    def entries(self, draft: _TableDraft, key: str, allowed: frozenset[str]) -> list[tuple[str, dict[str, object]]]:
        """The mappings of a table-level list (`indexes`, `foreignKeys`, …), their keys checked."""
        if key not in draft.data:
            return []
        items = _expect_list(self.problems, draft.data[key], f"{draft.path}.{key}")
        entries = []
        for index, item in enumerate(items or ()):
            path = f"{draft.path}.{key}[{index}]"
            data = _expect_mapping(self.problems, item, path)
            if data is not None:
                _check_keys(self.problems, data, path, allowed)
                entries.append((path, data))
        return entries

    def column_list(self, data: Mapping[str, object], path: str, key: str = "fields") -> tuple[str, ...] | None:
        value = _require(self.problems, data, key, path)
        names = None if value is _MISSING else _expect_names(self.problems, value, f"{path}.{key}")
        for name in _duplicates(names or ()):
            self.problems.add(f"{path}.{key}", f'Column "{name}" is listed more than once')
        return names

    def missing_columns(self, names: Iterable[str], columns: set[str], path: str, message: str) -> bool:
        """Report each name not in `columns` with `message` (formatted with col=); True when all exist."""
        all_exist = True
        for index, name in enumerate(names):
            if name not in columns:
                self.problems.add(f"{path}[{index}]", message.format(col=name))
                all_exist = False
        return all_exist

    def unordered_columns(self, draft: _TableDraft, names: Iterable[str], path: str, what: str, flag: str) -> None:
        """Report each geolocation field among `names`: a plain index, unique rule or key is a btree, and
        PostgreSQL has no btree ordering for points (`data type point has no default operator class`). The
        field's own `indexed` (GiST) and `unique` (an exclusion constraint) are the ways to have them."""
        for index, name in enumerate(names):
            field = draft.field_named(name)
            if field is not None and field.type == "geolocation":
                message = (
                    f'{what} cannot hold geolocation field "{name}": PostgreSQL has no ordering for points to '
                    f"build it on; set {flag}: true on the field instead"
                )
                self.problems.add(f"{path}[{index}]", message)

    def primary_key(self, draft: _TableDraft) -> PrimaryKey | None:
        path = f"{draft.path}.primaryKey"
        if "primaryKey" not in draft.data:
            return None
        data = _expect_mapping(self.problems, draft.data["primaryKey"], path)
        if data is None:
            return None
        _check_keys(self.problems, data, path, frozenset({"type", "field", "fields"}))
        value = _require(self.problems, data, "type", path)
        kind = None if value is _MISSING else _expect_str(self.problems, value, f"{path}.type")
        if kind is not None and kind not in PRIMARY_KEY_TYPES:
            expected = ", ".join(PRIMARY_KEY_TYPES)
            self.problems.add(f"{path}.type", f"Invalid primary key type {_show(kind)} (expected one of {expected})")
            return None
        if kind is None:
            return None
        if kind != "composite":
            return self.simple_primary_key(data, path, cast(PrimaryKeyType, kind))
        if "fields" not in data and isinstance(data.get("field"), str):
            fields: tuple[str, ...] | None = (cast(str, data["field"]),)
        else:
            fields = self.column_list(data, path)
        columns = draft.declared | set(SYSTEM_COLUMNS)
        message = 'Primary key references non-existent column "{col}"'
        self.missing_columns(fields or (), columns, f"{path}.fields", message)
        self.unordered_columns(draft, fields or (), f"{path}.fields", "The primary key", "unique")
        return PrimaryKey("composite", fields or ())

    def simple_primary_key(self, data: Mapping[str, object], path: str, kind: PrimaryKeyType) -> PrimaryKey:
        if "fields" in data:
            self.problems.add(f"{path}.fields", "fields is only used with primary key type 'composite'")
        if "field" in data and data["field"] != "id":
            self.problems.add(f"{path}.field", f"The primary key column of type '{kind}' is always 'id'")
        return PrimaryKey(kind)

    def indexes(self, draft: _TableDraft, columns: set[str]) -> list[tuple[str, IndexSpec]]:
        specs: list[tuple[str, IndexSpec]] = []
        names: set[str] = set()
        for path, data in self.entries(draft, "indexes", frozenset({"name", "fields", "unique", "where"})):
            name = _sql_name(self.problems, data, path, "index name", _FIELD_NAME)
            if name is not None and name in names:
                self.problems.add(f"{path}.name", "Index names must be unique within the table")
            fields = self.column_list(data, path)
            message = f'Index "{name}" references non-existent column "{{col}}"'
            self.missing_columns(fields or (), columns, f"{path}.fields", message)
            self.unordered_columns(draft, fields or (), f"{path}.fields", f'Index "{name}"', "indexed")
            unique = _flag(self.problems, data, "unique", path)
            where = None
            if "where" in data:
                where = _raw_sql(
                    self.problems, data["where"], f"{path}.where", "where", self.pending_sql, columns=columns
                )
            if name is not None and fields:
                names.add(name)
                specs.append((path, IndexSpec(name, fields, unique, where)))
        return specs

    def unique_constraints(self, draft: _TableDraft, columns: set[str]) -> list[tuple[str, UniqueSpec]]:
        """Spec-era `uniqueConstraints[{name, fields}]` and HEAD-era `unique[{fields}]`, in that order."""
        specs: list[tuple[str, UniqueSpec]] = []
        named = self.entries(draft, "uniqueConstraints", frozenset({"name", "fields"}))
        unnamed = self.entries(draft, "unique", frozenset({"fields"}))
        for path, data in named + unnamed:
            name = None
            if ".uniqueConstraints[" in path:
                name = _sql_name(self.problems, data, path, "constraint name", _FIELD_NAME)
            label = name or path.rsplit(".", 1)[-1]
            fields = self.column_list(data, path)
            message = f'Unique constraint "{label}" references non-existent column "{{col}}"'
            self.missing_columns(fields or (), columns, f"{path}.fields", message)
            self.unordered_columns(draft, fields or (), f"{path}.fields", f'Unique constraint "{label}"', "unique")
            if fields:
                specs.append((path, UniqueSpec(fields, name)))
        return specs

    def foreign_keys(self, draft: _TableDraft, columns: set[str]) -> list[tuple[str, ForeignKeySpec]]:
        allowed = frozenset({"name", "fields", "referencedTable", "referencedFields", "onDelete", "onUpdate"})
        specs: list[tuple[str, ForeignKeySpec]] = []
        for path, data in self.entries(draft, "foreignKeys", allowed):
            name = _sql_name(self.problems, data, path, "foreign key name", _CONSTRAINT_NAME)
            fields = self.column_list(data, path)
            message = f'Foreign key "{name}" references non-existent column "{{col}}"'
            self.missing_columns(fields or (), columns, f"{path}.fields", message)
            value = _require(self.problems, data, "referencedTable", path)
            table = None if value is _MISSING else _expect_str(self.problems, value, f"{path}.referencedTable")
            referenced = self.column_list(data, path, "referencedFields")
            if fields and referenced and len(fields) != len(referenced):
                message = f'Foreign key "{name}": fields and referencedFields must have the same number of columns'
                self.problems.add(f"{path}.referencedFields", message)
            on_delete = _referential_action(self.problems, data, "onDelete", path)
            on_update = _referential_action(self.problems, data, "onUpdate", path)
            if name is not None and fields and table is not None and referenced:
                specs.append((path, ForeignKeySpec(name, fields, table, referenced, on_delete, on_update)))
        return specs

    def checks(self, draft: _TableDraft, columns: set[str]) -> list[CheckSpec]:
        specs: list[CheckSpec] = []
        for path, data in self.entries(draft, "constraints", frozenset({"name", "check"})):
            name = _sql_name(self.problems, data, path, "constraint name", _FIELD_NAME)
            value = _require(self.problems, data, "check", path)
            check = None
            if value is not _MISSING:
                check = _raw_sql(self.problems, value, f"{path}.check", "check", self.pending_sql, columns=columns)
            if name is not None and check is not None:
                specs.append(CheckSpec(name, check))
        return specs

    def check_constraint_names_unique(self, draft: _TableDraft) -> None:
        named = [spec.name for _, spec in draft.unique_constraints if spec.name is not None]
        named += [spec.name for _, spec in draft.foreign_keys] + [spec.name for spec in draft.checks]
        for name in _duplicates(named):
            self.problems.add(draft.path, f'Constraint names must be unique within the table (duplicate "{name}")')

    # -- rules across tables --------------------------------------------------------------------------------------

    def cross_check(self, drafts: list[_TableDraft]) -> None:
        by_name: dict[str, _TableDraft] = {}
        for draft in drafts:
            if draft.name is not None:
                by_name.setdefault(draft.name, draft)
        for draft in drafts:
            for built in draft.fields:
                if built.type == "relationship":
                    self.relationship(draft, built, by_name)
            for path, spec in draft.foreign_keys:
                self.foreign_key_target(path, spec, by_name)
        self.circular_relationships(drafts, by_name)
        self.relation_names_unique(drafts)
        computed = computed_fields.CrossCheck(self.problems, by_name)
        for draft in drafts:
            computed.table(draft)
        self.view_names_unique(drafts)

    def relationship(self, draft: _TableDraft, built: Field, by_name: Mapping[str, _TableDraft]) -> None:
        path = draft.field_paths[built.name]
        label = f'Relationship field "{draft.label}.{built.name}"'
        if built.related_table is None:
            return
        target = by_name.get(built.related_table)
        if target is None:
            message = f'{label}: relatedTable "{built.related_table}" does not exist'
            self.problems.add(f"{path}.relatedTable", message)
            return
        if built.relation_type not in FOREIGN_KEY_RELATIONS:
            return
        column = built.related_field or "id"
        where = f"{path}.relatedField" if built.related_field else f"{path}.relatedTable"
        if column not in target.columns():
            self.problems.add(where, f'{label}: relatedField "{column}" does not exist in table "{target.label}"')
        elif (column not in target.declared or target.field_named(column) is not None) and frozenset(
            {column}
        ) not in target.unique_column_sets():
            message = (
                f'{label}: relatedField "{column}" of table "{target.label}" is neither unique nor the primary '
                "key, so it cannot be referenced"
            )
            self.problems.add(where, message)

    def foreign_key_target(self, path: str, spec: ForeignKeySpec, by_name: Mapping[str, _TableDraft]) -> None:
        target = by_name.get(spec.referenced_table)
        if target is None:
            message = f'Foreign key "{spec.name}": referencedTable "{spec.referenced_table}" does not exist'
            self.problems.add(f"{path}.referencedTable", message)
            return
        message = f'Foreign key "{spec.name}" references non-existent column "{{col}}" in table "{target.label}"'
        if not self.missing_columns(spec.referenced_fields, target.columns(), f"{path}.referencedFields", message):
            return
        if frozenset(spec.referenced_fields) not in target.unique_column_sets():
            columns = ", ".join(spec.referenced_fields)
            message = (
                f'Foreign key "{spec.name}": columns ({columns}) of table "{target.label}" are not its primary key '
                "or covered by a unique constraint"
            )
            self.problems.add(f"{path}.referencedFields", message)

    def circular_relationships(self, drafts: list[_TableDraft], by_name: Mapping[str, _TableDraft]) -> None:
        """Refuse cycles made only of required foreign-key relationships: no creation order satisfies them."""
        edges = {draft.label: _required_references(draft, by_name) for draft in by_name.values()}
        reported: set[str] = set()
        for draft in drafts:
            start = draft.name
            if start is None or start in reported or not edges.get(start):
                continue
            cycle = _shortest_cycle(start, edges)
            if cycle is None:
                continue
            reported.update(cycle)
            chain = " -> ".join([*cycle, start])
            first_edge_path = next(path for target, path in edges[start] if target == cycle[1])
            message = f"Circular relationship dependency detected: {chain} - cannot resolve table creation order"
            self.problems.add(first_edge_path, message)

    def relation_names_unique(self, drafts: list[_TableDraft]) -> None:
        """Indexes and unique constraints are relations: their names share one namespace with the tables'."""
        owners = {physical_table_name(d.name): f'table "{d.name}"' for d in drafts if d.name is not None}
        for draft in drafts:
            index_names: set[str] = set()  # a repeated index name was reported with Sovrium's wording already
            named: list[tuple[str, str]] = []
            for path, index in draft.indexes:
                if index.name not in index_names:
                    index_names.add(index.name)
                    named.append((path, index.name))
            named += [(path, spec.name) for path, spec in draft.unique_constraints if spec.name is not None]
            for path, name in named:
                owner = owners.get(name)
                if owner is None:
                    owners[name] = f'an index or constraint of table "{draft.label}"'
                else:
                    message = f'Name "{name}" is already used by {owner} (index and constraint names are schema-wide)'
                    self.problems.add(f"{path}.name", message)

    def view_names_unique(self, drafts: list[_TableDraft]) -> None:
        """A table view is a relation in `public` too: its name may not be another view's or a table's."""
        owners = {physical_table_name(d.name): f'table "{d.name}"' for d in drafts if d.name is not None}
        owners |= {d.storage_name(): f'the base table of "{d.name}"' for d in drafts if d.name is not None}
        for draft in drafts:
            for path, view in draft.views:
                if not view.sql_view:
                    continue
                owner = owners.get(view.view_name)
                if owner is not None:
                    self.problems.add(f"{path}.id", f'View "{view.view_name}" has the same name as {owner}')
                owners.setdefault(view.view_name, f'view "{view.view_name}" of table "{draft.label}"')


def _required_references(draft: _TableDraft, by_name: Mapping[str, object]) -> list[tuple[str, str]]:
    """(other table, field path) for each required foreign-key relationship of `draft` to another table."""
    references = []
    for built in draft.fields:
        target = built.related_table
        if (
            target is not None
            and built.required
            and built.relation_type in FOREIGN_KEY_RELATIONS
            and target in by_name
            and target != draft.name
        ):
            references.append((target, draft.field_paths[built.name]))
    return references


def _shortest_cycle(start: str, edges: Mapping[str, list[tuple[str, str]]]) -> list[str] | None:
    """The shortest path start → … → start as the list of its tables (start first), or None."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, _ in edges.get(node, ()):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path[::-1]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    return None


def _is_plain_data(value: object) -> bool:
    """The quick yes/no form of _check_plain_data, without building paths. orjson (Rust) refuses keys that are
    not text, lone surrogates and types other than JSON's; the walk below only visits containers and floats."""
    if type(value) is not dict and type(value) is not list:
        return _is_plain_scalar(value)
    try:
        written = orjson.dumps(value, option=_PLAIN_ONLY)
    except (TypeError, orjson.JSONEncodeError):
        return False
    if b"\\u0000" in written:
        return False
    if b"null" not in written and written.count(b"[") + written.count(b"{") <= _MAX_NESTING:
        return True  # no NaN or infinity (orjson writes them null), and too few containers to nest too deeply
    level: list[object] = [value]  # the containers `depth` levels in
    depth = 0
    while level:
        if depth == _MAX_NESTING:
            return not any(level)  # anything inside these is nested too deeply
        depth += 1
        below: list[object] = []
        for item in level:
            for child in cast(dict[str, object], item).values() if type(item) is dict else cast(list[object], item):
                kind = type(child)
                if kind is dict or kind is list:
                    below.append(child)
                elif kind is float and not math.isfinite(cast(float, child)):
                    return False
        level = below
    return True


def _is_plain_scalar(value: object) -> bool:
    if isinstance(value, str):
        return _is_plain_text(value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, int)


def _is_plain_text(text: str) -> bool:
    return "\x00" not in text and (text.isascii() or _encodes(text))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_plain_data(problems: Problems, value: object, path: str) -> None:
    """Everything in a table must survive JSON and jsonb: text keys, finite numbers, no NUL or lone surrogate."""
    if _is_plain_data(value):
        return
    stack: list[tuple[object, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > _MAX_NESTING:
            problems.add_unless_reported(where, f"Nested more than {_MAX_NESTING} levels deep")
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    problems.add_unless_reported(_child(where, str(key)), "Keys must be strings")
                else:
                    stack.append((key, _child(where, key), depth + 1))
                    stack.append((child, _child(where, key), depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(problems, item, where)
        elif isinstance(item, float) and not math.isfinite(item):
            problems.add_unless_reported(where, f"Expected a finite number, got {item}")
        elif item is not None and not isinstance(item, bool | int | float):
            problems.add_unless_reported(where, f"Expected plain JSON data, got {value_kind(item)}")


def _check_text(problems: Problems, text: str, path: str) -> None:
    if "\x00" in text:
        problems.add_unless_reported(path, "Text cannot contain NUL characters")
    elif not _is_plain_text(text):
        problems.add_unless_reported(path, "Text cannot contain unpaired surrogate characters")


def validate_document(doc: object, *, positions: Mapping[str, int] | None = None, source: str | None = None) -> App:
    """Check a decoded schema document and return the App; raise SchemaInvalid listing every problem."""
    validator = _Validator()
    app = validator.app(doc)
    if app is None:
        raise validator.problems.error(positions=positions, source=source)
    return app
