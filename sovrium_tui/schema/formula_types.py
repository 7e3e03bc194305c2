"""What a formula's value is, where that is known for sure, and the type mistakes PostgreSQL would refuse.

A formula becomes a column computed by PostgreSQL (or a trigger's assignment), so a type mistake fails only when
the migration runs (`operator does not exist: interval + integer`, `column "total" is of type numeric but
default expression is of type text`), or worse, at every insert for a trigger-computed formula. Validation says
it first, with the expression. Only kinds known for sure are judged: a field's own column, a number, a function
or operator whose result PostgreSQL fixes. A string literal has no type until PostgreSQL reads it in place
(`'2024-01-01'` is a date next to a date), so it is never judged on its own; anything this module does not know is
left to PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sovrium_tui.schema.field_types import TEXT_TYPES, canonical_type

# What a field's column holds (other types, and formulas, whose column depends on how they are computed: not known).
KIND_OF_FIELD_TYPE = {
    **dict.fromkeys(("integer", "decimal", "currency", "percentage", "rating", "progress", "autonumber"), "number"),
    **dict.fromkeys(("datetime", "created-at", "updated-at", "deleted-at"), "timestamp"),
    **dict.fromkeys(TEXT_TYPES, "text"),
    "date": "date",
    "time": "time",
    "duration": "interval",
    "checkbox": "boolean",
    # lists (text[] and the array field's item[]) and JSON (jsonb): PostgreSQL gives them no text functions and no
    # arithmetic, and their text never reads as a number or a date
    "multi-select": "list",
    "array": "list",
    "json": "json",
    "multiple-attachments": "json",
}
_SYSTEM_TIMESTAMPS = frozenset({"created_at", "updated_at", "deleted_at"})

# A formula's column type (from its `resultType`), as a kind (text[] is not judged).
_KIND_OF_COLUMN = {
    "numeric": "number",
    "integer": "number",
    "boolean": "boolean",
    "text": "text",
    "date": "date",
    "timestamp with time zone": "timestamp",
}
# The kinds a value may have to be stored in a column of each kind (PostgreSQL's assignment casts: anything
# becomes text; a date and a date and time become each other; nothing else crosses).
_STORABLE_IN = {
    "number": frozenset({"number"}),
    "boolean": frozenset({"boolean"}),
    "date": frozenset({"date", "timestamp"}),
    "timestamp": frozenset({"date", "timestamp"}),
}

# (left, operator, right) → the result, for every arithmetic PostgreSQL has an operator for on these kinds (checked
# against PostgreSQL for each pair of kinds and operator): two known kinds not here have none.
_ARITHMETIC = {
    **{("number", op, "number"): "number" for op in ("+", "-", "*", "/")},
    ("interval", "+", "interval"): "interval",
    ("interval", "-", "interval"): "interval",
    ("interval", "*", "number"): "interval",
    ("number", "*", "interval"): "interval",
    ("interval", "/", "number"): "interval",
    ("timestamp", "+", "interval"): "timestamp",
    ("interval", "+", "timestamp"): "timestamp",
    ("timestamp", "-", "interval"): "timestamp",
    ("timestamp", "-", "timestamp"): "interval",
    ("date", "+", "number"): "date",
    ("number", "+", "date"): "date",
    ("date", "-", "number"): "date",
    ("date", "-", "date"): "number",
    ("date", "+", "interval"): "timestamp",
    ("interval", "+", "date"): "timestamp",
    ("date", "-", "interval"): "timestamp",
    ("time", "+", "interval"): "time",
    ("interval", "+", "time"): "time",
    ("time", "-", "interval"): "time",
    ("time", "-", "time"): "interval",
    # a time is a duration since midnight wherever PostgreSQL needs one (an implicit cast)
    ("time", "*", "number"): "interval",
    ("number", "*", "time"): "interval",
    ("time", "/", "number"): "interval",
    ("interval", "-", "time"): "interval",
    # a date and a time make a date and time; subtracted, dates and dates and times give a duration
    ("date", "+", "time"): "timestamp",
    ("time", "+", "date"): "timestamp",
    ("timestamp", "+", "time"): "timestamp",
    ("time", "+", "timestamp"): "timestamp",
    ("date", "-", "time"): "timestamp",
    ("timestamp", "-", "time"): "timestamp",
    ("date", "-", "timestamp"): "interval",
    ("timestamp", "-", "date"): "interval",
    # JSON minus a key, some keys or an element's position
    ("json", "-", "text"): "json",
    ("json", "-", "list"): "json",
    ("json", "-", "number"): "json",
}
# Kinds PostgreSQL compares with each other (a date with a date and time, a time with a duration; otherwise only
# like with like).
_COMPARABLE = {
    "date": frozenset({"date", "timestamp"}),
    "timestamp": frozenset({"date", "timestamp"}),
    "time": frozenset({"time", "interval"}),
    "interval": frozenset({"time", "interval"}),
}
# The kinds the branches of CASE, COALESCE and the like may mix: one of PostgreSQL's type categories, and a common
# type in it (a date becomes a date and time; a time becomes neither, though all three are date/time types).
_CATEGORY = {
    "number": "N",
    "text": "S",
    "boolean": "B",
    "date": "D",
    "timestamp": "D",
    "time": "D time",
    "interval": "T",
    "list": "A",
    "json": "U",
}
KIND_WORDS = {
    "number": "a number",
    "text": "text",
    "boolean": "a true/false value",
    "date": "a date",
    "timestamp": "a date and time",
    "time": "a time",
    "interval": "a duration",
    "list": "a list",
    "json": "JSON",
}
_CONVERT = {
    "number": "CAST(… AS numeric)",
    "text": "CAST(… AS text)",
    "boolean": "a comparison such as … > 0",
    "date": "CAST(… AS date)",
    "timestamp": "CAST(… AS timestamptz)",
}
# The kinds PostgreSQL casts each kind to (CAST(… AS …); checked against PostgreSQL for each pair): text to and
# from anything; a true/false value to an integer only, not a decimal (said apart below).
_CASTS = {
    "number": frozenset({"number", "text", "boolean"}),
    "boolean": frozenset({"boolean", "text", "number"}),
    "date": frozenset({"date", "timestamp", "text"}),
    "timestamp": frozenset({"timestamp", "date", "time", "text"}),
    "time": frozenset({"time", "interval", "text"}),
    "interval": frozenset({"interval", "time", "text"}),
    "list": frozenset({"text"}),
    "json": frozenset({"number", "boolean", "text"}),
}
# Kinds with a minus sign (a time is a duration there).
_NEGATABLE = frozenset({"number", "interval", "time"})
_LITERAL = "literal"  # a string literal: typed where PostgreSQL reads it
_NOT_TEMPORAL = frozenset({"number", "text", "boolean", "list", "json"})


def formula_type_problems(tree: Any, field_kind: Callable[[str], str | None]) -> list[str]:
    """What PostgreSQL would refuse in this formula (a sqlglot tree over one table, `field_kind` giving the kind
    of a field by name), each said once with its expression and a way to write it."""
    return _Reader(field_kind).problems(tree)


def result_type_problem(
    tree: Any, field_kind: Callable[[str], str | None], column_type: str, result_type: str | None
) -> str | None:
    """Why the formula's column (`column_type`, from its `resultType`) cannot hold its value, or None. Only for a
    formula stored as a
    generated column: PostgreSQL converts its value as it assigns (assignment casts), and refuses the column when
    there is none. A trigger's assignment converts through text at every write instead (`TO_CHAR(d, 'YYYY')` into
    an integer works), and a view's column takes the formula's own type, so neither is judged."""
    return _Reader(field_kind).result_problem(tree, column_type, result_type)


def trigger_result_problem(
    tree: Any, field_kind: Callable[[str], str | None], column_type: str, result_type: str | None
) -> str | None:
    """Why the formula's column cannot hold its value when a trigger computes it, or None: PL/pgSQL assigns through
    an assignment cast, else through text, and the text of some kinds never reads as another (a date and time is
    never a number: every write of a row would fail). Kinds text may read as (a number as a date, `20240102`) pass."""
    target = _KIND_OF_COLUMN.get(column_type, "")
    made = _Reader(field_kind).kind(tree)
    if made is None or made not in _NEVER_THROUGH_TEXT.get(target, ()):
        return None
    return (
        f"gives {KIND_WORDS[made]} ({_sql(tree)}), which its trigger can never store as {KIND_WORDS[target]} "
        f"(resultType {result_type or 'text'}); set resultType to match, or convert the value, e.g. {_CONVERT[target]}"
    )


# Kinds whose text never reads as the column's kind (PL/pgSQL's assignment goes through text without a cast).
_NEVER_THROUGH_TEXT: dict[str, frozenset[str]] = {
    "number": frozenset({"boolean", "date", "timestamp", "time", "interval", "list"}),
    "boolean": frozenset({"date", "timestamp", "time", "interval", "list"}),
    "date": frozenset({"boolean", "time", "interval", "list"}),
    "timestamp": frozenset({"boolean", "time", "interval", "list"}),
}


def field_kinds(fields: Any, name: str) -> str | None:
    """The kind of the field `name` among `fields` (objects with `name` and `type`): its column's, a system
    timestamp's, or None when not known."""
    for field in fields:
        if field.name == name:
            return KIND_OF_FIELD_TYPE.get(canonical_type(field.type))
    return "timestamp" if name in _SYSTEM_TIMESTAMPS else None


class _Reader:
    def __init__(self, field_kind: Callable[[str], str | None]) -> None:
        from sqlglot import exp

        self.exp = exp
        self.field_kind = field_kind
        self.kinds: dict[int, str | None] = {}
        self.found: list[str] = []
        e = exp
        self.arithmetic: dict[type, str] = {e.Add: "+", e.Sub: "-", e.Mul: "*", e.Div: "/"}
        self.text_calls = _classes("Upper Lower Initcap Trim Left Right Substring Replace Pad Length StrPosition MD5")
        self.number_calls = _classes("Round Ceil Floor Sqrt Pow Exp Ln Log Sign Abs")
        self.text_results = _classes("Upper Lower Initcap Trim Left Right Substring Replace Pad MD5 Concat ConcatWs")
        self.text_results += _classes("DPipe TimeToStr")
        self.number_results = (*self.number_calls, *_classes("Length StrPosition Mod Extract"))
        self.boolean_results = _classes("EQ NEQ GT GTE LT LTE Like ILike Is In Between Not And Or RegexpLike Boolean")
        self.branching = (e.Coalesce, e.Greatest, e.Least, e.Nullif, e.Case, e.If)

    def problems(self, tree: Any) -> list[str]:
        for node in tree.walk():
            self.check(node)
        return self.found

    def result_problem(self, tree: Any, column_type: str, result_type: str | None) -> str | None:
        target = _KIND_OF_COLUMN.get(column_type)
        made = self.kind(tree)
        if target not in _STORABLE_IN or made not in KIND_WORDS or made in _STORABLE_IN[target]:
            return None
        return (
            f"gives {KIND_WORDS[made]} ({_sql(tree)}), but its resultType {result_type or 'text'} holds "
            f"{KIND_WORDS[target]}; set resultType to match, or convert the value, e.g. {_CONVERT[target]}"
        )

    def say(self, problem: str) -> None:
        if problem not in self.found:
            self.found.append(problem)

    # -- what a node is ------------------------------------------------------------------------------------------

    def kind(self, node: Any) -> str | None:
        key = id(node)
        if key not in self.kinds:
            self.kinds[key] = self._kind(node)
        return self.kinds[key]

    def known(self, node: Any) -> str | None:
        """A kind PostgreSQL fixes, not a literal that takes its type from where it stands."""
        kind = self.kind(node)
        return kind if kind in KIND_WORDS else None

    def _kind(self, node: Any) -> str | None:
        exp = self.exp
        if isinstance(node, exp.Paren | exp.Neg):
            return self.kind(node.this)
        if isinstance(node, exp.Column):
            from sovrium_tui.schema.formula import column_name

            return self.field_kind(column_name(node))
        if isinstance(node, exp.Literal):
            return _LITERAL if node.is_string else "number"
        if isinstance(node, exp.Cast):
            return _kind_of_sql_type(node.to)
        symbol = self.arithmetic.get(type(node))
        if symbol is not None:
            left, right = self.known(node.this), self.known(node.expression)
            return _ARITHMETIC.get((left, symbol, right)) if left and right else None
        if isinstance(node, exp.DPipe):  # joins text, or appends to a list, or merges JSON
            sides = {self.known(node.this), self.known(node.expression)}
            return "list" if "list" in sides else "json" if sides == {"json"} else "text"
        if isinstance(node, self.boolean_results):
            return "boolean"
        if isinstance(node, self.number_results):
            return "number"
        if isinstance(node, self.text_results):
            return "text"
        if isinstance(node, exp.CurrentDate):
            return "date"
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):  # a time truncates as a duration
            return "interval" if self.known(node.this) in ("time", "interval") else "timestamp"
        if isinstance(node, exp.CurrentTimestamp):
            return "timestamp"
        if isinstance(node, self.branching):
            return self.common(self.branches(node))
        return None

    def branches(self, node: Any) -> list[Any]:
        exp = self.exp
        if isinstance(node, exp.Case):
            return [when.args.get("true") for when in node.args.get("ifs") or ()] + [node.args.get("default")]
        if isinstance(node, exp.If):
            return [node.args.get("true"), node.args.get("false")]
        if isinstance(node, exp.Nullif):
            return [node.this]
        return [node.this, *(node.expressions or ())]

    def common(self, branches: list[Any]) -> str | None:
        """The kind branches (CASE, COALESCE, …) resolve to: one known kind, or text when all are literals."""
        kinds = {self.kind(branch) for branch in branches if branch is not None and not _is_null(branch)}
        if kinds == {_LITERAL}:
            return "text"
        known = kinds - {_LITERAL}
        return known.pop() if len(known) == 1 and None not in known else None

    # -- what PostgreSQL refuses -------------------------------------------------------------------------------

    def check(self, node: Any) -> None:
        exp = self.exp
        if isinstance(node, self.branching):
            kinds = dict.fromkeys(k for k in (self.known(b) for b in self.branches(node) if b is not None) if k)
            if len({_CATEGORY[k] for k in kinds}) > 1:
                name = "CASE" if isinstance(node, exp.Case | exp.If) else _sql(node).split("(", 1)[0]
                mixed = " and ".join(KIND_WORDS[k] for k in kinds)
                self.say(f"{name} mixes {mixed} ({_sql(node)}); convert them to one kind, e.g. CAST(… AS text)")
        if isinstance(node, exp.Div | exp.Mod) and _is_zero(node.expression):
            self.say(f"divides by zero ({_sql(node)}): PostgreSQL refuses each row that computes it")
        symbol = self.arithmetic.get(type(node))
        if symbol is not None:
            left, right = self.known(node.this), self.known(node.expression)
            if left and right and (left, symbol, right) not in _ARITHMETIC:
                self.say(
                    f"PostgreSQL has no operator for {KIND_WORDS[left]} {symbol} {KIND_WORDS[right]} ({_sql(node)}); "
                    "convert a side first, e.g. EXTRACT(EPOCH FROM …) for seconds"
                )
        elif isinstance(node, exp.Not | exp.And | exp.Or):
            sides = [node.this] if isinstance(node, exp.Not) else [node.this, node.expression]
            word = type(node).__name__.upper()
            for side in sides:
                self.needs_boolean(side, f"{word} takes true/false values")
        elif isinstance(node, exp.Case):
            if node.this is None:  # CASE WHEN condition …, not CASE value WHEN value …
                for when in node.args.get("ifs") or ():
                    self.needs_boolean(when.this, "CASE WHEN takes a condition")
        elif isinstance(node, exp.If):
            if not isinstance(node.parent, exp.Case):
                self.needs_boolean(node.this, "IF takes a condition")
        elif isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE | exp.Nullif):
            self.compared(node, node.this, node.expression)
        elif isinstance(node, exp.In):
            for item in node.expressions or ():
                self.compared(node, node.this, item)
        elif isinstance(node, exp.Between):
            self.compared(node, node.this, node.args.get("low"))
            self.compared(node, node.this, node.args.get("high"))
        elif isinstance(node, exp.Cast):
            self.cast(node)
        elif isinstance(node, exp.Neg):
            given = self.known(node.this)
            if given is not None and given not in _NEGATABLE:
                self.say(f"PostgreSQL has no minus sign for {KIND_WORDS[given]} ({_sql(node)})")
        elif isinstance(node, exp.DPipe):
            left, right = self.known(node.this), self.known(node.expression)
            joined = "text" in (left, right) or (left == right and left in ("list", "json"))  # or list/JSON to its own
            if left and right and not joined:
                self.say(f"|| joins text, not {KIND_WORDS[left]} and {KIND_WORDS[right]} ({_sql(node)}); use CONCAT(…)")
        elif isinstance(node, self.text_calls):
            self.needs(node, node.this, "text", "CAST(… AS text)")
        elif isinstance(node, self.number_calls):
            self.needs(node, node.this, "number", "CAST(… AS numeric)")
        elif isinstance(node, exp.TimeToStr):
            given = self.known(node.this)
            if given in ("text", "boolean", "list", "json"):
                self.say(
                    f"TO_CHAR formats a number, a date, a time or a duration, not {KIND_WORDS[given]} ({_sql(node)})"
                )
        elif isinstance(node, exp.Anonymous) and str(node.this).upper() == "AGE":
            for argument in node.expressions:
                given = self.known(argument)
                if given is not None and given not in ("date", "timestamp"):
                    self.say(f"AGE takes dates and dates and times, not {KIND_WORDS[given]} ({_sql(node)})")
        elif isinstance(node, exp.Extract):
            given = self.known(node.expression)
            if given in _NOT_TEMPORAL:
                self.say(f"EXTRACT reads a date, a time or a duration, not {KIND_WORDS[given]} ({_sql(node)})")
        elif isinstance(node, exp.Like | exp.ILike):
            self.needs(
                node, node.this, "text", "CAST(… AS text)", name="LIKE" if isinstance(node, exp.Like) else "ILIKE"
            )
        elif isinstance(node, exp.Mod):
            self.needs(node, node.this, "number", "CAST(… AS numeric)", name="% (MOD)")
            self.needs(node, node.expression, "number", "CAST(… AS numeric)", name="% (MOD)")
        elif isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
            given = self.known(node.this)
            if given in _NOT_TEMPORAL:
                self.say(
                    f"DATE_TRUNC truncates a date, a time, a date and time or a duration, not {KIND_WORDS[given]} "
                    f"({_sql(node)}); convert it first, e.g. CAST(… AS date)"
                )

    def cast(self, node: Any) -> None:
        """CAST(value AS type): PostgreSQL has casts between some kinds only."""
        given, target = self.known(node.this), _kind_of_sql_type(node.to)
        if given is None or target is None or given == "text":
            return
        if given == "boolean" and target == "number" and node.to.this != self.exp.DataType.Type.INT:
            self.say(f"PostgreSQL casts a true/false value to an integer only ({_sql(node)}); use CAST(… AS integer)")
        elif target not in _CASTS.get(given, frozenset({given, "text"})):
            self.say(
                f"PostgreSQL cannot cast {KIND_WORDS[given]} to {KIND_WORDS[target]} ({_sql(node)})"
                + (
                    f"; e.g. EXTRACT(… FROM {_sql(node.this)})"
                    if given in ("date", "timestamp", "time", "interval")
                    else ""
                )
            )

    def compared(self, node: Any, one: Any, other: Any) -> None:
        """`one` and `other` are compared by `node` (=, <, IN, BETWEEN, NULLIF …): PostgreSQL orders like kinds."""
        left, right = self.known(one), self.known(other) if other is not None else None
        if left and right and right not in _COMPARABLE.get(left, frozenset({left})):
            self.say(
                f"PostgreSQL cannot compare {KIND_WORDS[left]} with {KIND_WORDS[right]} ({_sql(node)}); "
                f"convert a side first, e.g. {_CONVERT.get(left, 'CAST(… AS text)')}"
            )

    def needs_boolean(self, node: Any, what: str) -> None:
        given = self.known(node)
        if given is not None and given != "boolean":
            test = f"{_sql(node)} IS NOT NULL" if given in ("list", "json") else f"{_sql(node)} > 0"
            self.say(f"{what}, and {_sql(node)} is {KIND_WORDS[given]}; compare it instead, e.g. {test}")

    def needs(self, call: Any, argument: Any, kind: str, convert: str, *, name: str | None = None) -> None:
        given = self.known(argument)
        if given is not None and given != kind:
            name = name or _sql(call).split("(", 1)[0]
            self.say(
                f"{name} takes {KIND_WORDS[kind]}, and {_sql(argument)} is {KIND_WORDS[given]}; convert it: {convert}"
            )


def _is_zero(node: Any) -> bool:
    """Whether the node is the number 0 as written (`0`, `0.0`, `(0)`)."""
    from decimal import Decimal, InvalidOperation

    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Literal) or node.is_string:
        return False
    try:
        return Decimal(str(node.this)) == 0
    except InvalidOperation:
        return False


@functools.cache
def _classes(names: str) -> tuple[Any, ...]:
    """sqlglot's expression classes by name."""
    from sqlglot import exp

    return tuple(getattr(exp, name) for name in names.split())


def _kind_of_sql_type(data_type: Any) -> str | None:
    from sqlglot import exp

    kinds = {
        "number": exp.DataType.NUMERIC_TYPES,
        "text": exp.DataType.TEXT_TYPES,
        "boolean": {exp.DataType.Type.BOOLEAN},
        "date": {exp.DataType.Type.DATE},
        "timestamp": {exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ},
        "time": {exp.DataType.Type.TIME},
        "interval": {exp.DataType.Type.INTERVAL},
    }
    for kind, types in kinds.items():
        if data_type.this in types:
            return kind
    return None


def _is_null(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Null)


def _sql(node: Any) -> str:
    return str(node.sql(dialect="postgres"))
