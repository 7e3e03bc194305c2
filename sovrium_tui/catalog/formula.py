"""Formula fields in PostgreSQL, as Sovrium builds them: the translated expression and where it is computed.

A formula becomes one of three things (`formula_kinds`):
- `generated`: a `GENERATED ALWAYS AS (…) STORED` column, when PostgreSQL can keep it itself (immutable);
- `trigger`: a plain column that the BEFORE INSERT OR UPDATE trigger `trigger_compute_<t>_formulas` fills, when
  the formula is volatile (CURRENT_DATE, NOW() …) or uses other formulas (they are computed in order there);
- `view`: a column of the table's view only, when it reads a lookup, rollup or count (directly or through
  another formula).

The expression is the parsed tree rewritten the way Sovrium rewrites the text: temporal fields cast to text
become TO_CHAR, SUBSTR becomes SUBSTRING, ROUND over SQRT/POWER/EXP/LN/LOG rounds a numeric, numeric fields
divided (or dividing) are cast to numeric, and names are quoted where PostgreSQL needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sovrium_tui.identifiers import quote_ident, truncate_identifier
from sovrium_tui.schema.field_types import VIEW_COMPUTED_TYPES, canonical_type
from sovrium_tui.schema.formula import column_name, parse_formula
from sovrium_tui.schema.model import Field
from sovrium_tui.schema.model import Table as SchemaTable

FormulaKind = Literal["generated", "trigger", "view"]

# `resultType` → the column type format_type() prints (Sovrium's map; anything else is text).
RESULT_COLUMN_TYPES = {
    **dict.fromkeys(("decimal", "number", "numeric"), "numeric"),
    **dict.fromkeys(("integer", "int"), "integer"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("text", "string"), "text"),
    **dict.fromkeys(("text[]", "string[]"), "text[]"),
    "date": "date",
    **dict.fromkeys(("datetime", "timestamp"), "timestamp with time zone"),
}

# Fields a division casts to numeric (Sovrium's list), and formula result types that count as numeric.
_NUMERIC_FIELDS = frozenset(
    {"integer", "autonumber", "decimal", "currency", "percentage", "rating", "progress", "count", "rollup"}
)
_NUMERIC_RESULTS = frozenset({"integer", "decimal", "number", "numeric", "currency", "percentage"})

# Fields cast to text that Sovrium formats with TO_CHAR instead of the session's DateStyle.
_TEXT_FORMATS = {"date": "YYYY-MM-DD", "datetime": 'YYYY-MM-DD"T"HH24:MI:SS"Z"', "time": "HH24:MI:SS"}

# Sovrium's volatility markers, looked for in the formula's text (any case).
_VOLATILE_MARKERS = (
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "NOW()",
    "TIMEOFDAY()",
    "TRANSACTION_TIMESTAMP()",
    "STATEMENT_TIMESTAMP()",
    "CLOCK_TIMESTAMP()",
    "RANDOM()",
    "SETSEED(",
    "DECODE(",
    "CONVERT_FROM(",
    "TO_CHAR(",
    "TO_DATE(",
    "DATE_TRUNC(",
    "ARRAY_TO_STRING(",
    "::TIMESTAMP",
    "::TIMESTAMPTZ",
    "::DATE",
    "::TIME",
    "CREATED_AT",
    "UPDATED_AT",
)

# Functions PostgreSQL marks IMMUTABLE that sqlglot leaves as plain calls.
_IMMUTABLE_CALLS = frozenset(
    """cardinality md5 ascii chr btrim ltrim rtrim lpad rpad repeat translate strpos overlay char_length
    octet_length bit_length width_bucket div gcd lcm factorial cbrt degrees radians pi sin cos tan asin acos atan
    atan2 regexp_replace regexp_match split_part array_length array_upper array_lower array_position
    array_cat array_append array_prepend array_remove array_replace lower upper abs""".split()
)

_FIELD_DATETIME_WITH_ZONE = frozenset({"datetime"})
_SYSTEM_WITH_ZONE = frozenset({"created_at", "updated_at", "deleted_at"})


def column_type(field: Field) -> str:
    """The column type a formula's `resultType` gives (an array when the formula returns one, as Sovrium does)."""
    base = RESULT_COLUMN_TYPES.get((field.result_type or "text").lower(), "text")
    if base.endswith("[]") or not _returns_array(field.formula or ""):
        return base
    return f"{base}[]"


def _returns_array(formula: str) -> bool:
    text = formula.upper().strip()
    return not text.startswith(("ARRAY_TO_STRING(", "CARDINALITY(")) and "STRING_TO_ARRAY" in text


def formula_kinds(table: SchemaTable) -> dict[str, FormulaKind]:
    """How each formula field of a table is computed (see the module docstring)."""
    formulas = {f.name: f for f in table.fields if canonical_type(f.type) == "formula" and f.formula}
    if not formulas:
        return {}
    uses = {name: set(parse_formula(field.formula or "").names) for name, field in formulas.items()}
    view_computed = {f.name for f in table.fields if f.type in VIEW_COMPUTED_TYPES}
    in_view = _users_of({n for n, used in uses.items() if used & view_computed}, uses)
    others = set(formulas) - in_view
    chained = {n for n in others if uses[n] & (others - {n})}
    chained = _downward(chained, uses, others)
    kinds: dict[str, FormulaKind] = {}
    for name, field in formulas.items():
        if name in in_view:
            kinds[name] = "view"
        elif name in chained or not is_immutable(field.formula or "", table) or _text_of_no_field(field, uses[name]):
            kinds[name] = "trigger"
        else:
            kinds[name] = "generated"
    return kinds


def _text_of_no_field(field: Field, uses: set[str]) -> bool:
    """Whether a formula reads no field and has text in it: in a generated column PostgreSQL finds no collation
    for that text (`UPPER('x')`: could not determine which collation to use), a trigger's assignment does."""
    from sqlglot import exp

    if uses:
        return False
    tree = parse_formula(field.formula or "").tree
    return any(isinstance(node, exp.Literal) and node.is_string for node in tree.walk())


def _users_of(start: set[str], uses: dict[str, set[str]]) -> set[str]:
    """`start` plus every formula that uses one of them, transitively."""
    found = set(start)
    changed = True
    while changed:
        changed = False
        for name, used in uses.items():
            if name not in found and used & found:
                found.add(name)
                changed = True
    return found


def _downward(start: set[str], uses: dict[str, set[str]], candidates: set[str]) -> set[str]:
    """`start` plus every formula (among `candidates`) one of them uses, transitively."""
    found = set(start)
    stack = list(start)
    while stack:
        for used in uses[stack.pop()] & candidates:
            if used not in found:
                found.add(used)
                stack.append(used)
    return found


def dependency_order(names: Iterable[str], table: SchemaTable) -> list[str]:
    """Formula fields ordered so that each comes after the formulas it uses (declaration order otherwise)."""
    import heapq

    wanted = list(dict.fromkeys(names))
    position = {n: i for i, n in enumerate(wanted)}
    formulas = {f.name: f for f in table.fields if f.name in position}
    waiting = {n: set(parse_formula(formulas[n].formula or "").names) & position.keys() for n in wanted}
    used_by: dict[str, list[str]] = {n: [] for n in wanted}
    for n, uses in waiting.items():
        for used in uses:
            used_by[used].append(n)
    # Each time the first formula, in declaration order, whose formulas are all placed; in a circle, the first
    # not yet placed. A heap of the ready ones keeps that linear (a chain of 1,000 formulas took seconds).
    ready = [position[n] for n in wanted if not waiting[n]]
    heapq.heapify(ready)
    placed: set[str] = set()
    ordered: list[str] = []
    first_unplaced = 0
    while len(ordered) < len(wanted):
        if ready:
            name = wanted[heapq.heappop(ready)]
        else:
            while wanted[first_unplaced] in placed:
                first_unplaced += 1
            name = wanted[first_unplaced]
        if name in placed:
            continue
        placed.add(name)
        ordered.append(name)
        for user in used_by[name]:
            remaining = waiting[user]
            remaining.discard(name)
            if not remaining and user not in placed:
                heapq.heappush(ready, position[user])
    return ordered


def is_immutable(formula: str, table: SchemaTable) -> bool:
    """Whether PostgreSQL can keep the formula as a generated column (Sovrium's markers, then the tree)."""
    from sqlglot import exp

    upper = formula.upper()
    if any(marker in upper for marker in _VOLATILE_MARKERS):
        return False
    tree = parse_formula(formula).tree
    zoned = _zoned_columns(table)
    styled = _styled_text_columns(table)
    for node in tree.walk():
        if isinstance(node, exp.Column) and column_name(node) in zoned:
            return False  # timestamptz arithmetic and formatting depend on the session's time zone
        if _as_text(node) and any(
            isinstance(o, exp.Column) and column_name(o) in styled for o in node.iter_expressions()
        ):
            return False  # a date, time, duration or array as text: DateStyle, IntervalStyle, TO_CHAR are not immutable
        if isinstance(node, exp.Cast) and node.to.is_type(*_TEMPORAL_TYPES):
            return False
        if isinstance(node, exp.Anonymous) and str(node.name).lower() not in _IMMUTABLE_CALLS:
            return False
        if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous) and type(node) not in _immutable():
            return False
    return True


def _as_text(node: Any) -> bool:
    """Whether the node turns its operands into text (a cast to text, `||`)."""
    from sqlglot import exp

    if isinstance(node, exp.Cast):
        return bool(node.to.is_type("text", "varchar", "char", "nvarchar", "nchar"))
    return isinstance(node, exp.DPipe)


def _styled_text_columns(table: SchemaTable) -> set[str]:
    """Fields whose text form PostgreSQL does not keep fixed: anything but numbers, text and true/false (dates,
    times and durations follow the session's styles, arrays print through them)."""
    from sovrium_tui.schema.formula_types import KIND_OF_FIELD_TYPE

    fixed = ("number", "text", "boolean")
    return {f.name for f in table.fields if KIND_OF_FIELD_TYPE.get(canonical_type(f.type)) not in fixed}


_TEMPORAL_TYPES = ("date", "timestamp", "timestamptz", "time", "timetz", "datetime", "interval")


def _immutable() -> frozenset[type]:
    """sqlglot function classes whose PostgreSQL functions are IMMUTABLE for the types a formula gives them."""
    from sqlglot import exp

    return frozenset(
        {
            exp.Abs,
            exp.Ceil,
            exp.Floor,
            exp.Round,
            exp.Sqrt,
            exp.Pow,
            exp.Exp,
            exp.Ln,
            exp.Log,
            exp.Sign,
            exp.Upper,
            exp.Lower,
            exp.Length,
            exp.Substring,
            exp.Trim,
            exp.Pad,
            exp.Initcap,
            exp.Reverse,
            exp.Replace,
            exp.SplitPart,
            exp.StrPosition,
            exp.Left,
            exp.Right,
            exp.Coalesce,
            exp.Nullif,
            exp.Greatest,
            exp.Least,
            exp.If,
            exp.Cast,
            exp.StringToArray,
            exp.ArraySize,
            exp.Extract,
            exp.RegexpLike,
            exp.Case,
        }
    )


def _zoned_columns(table: SchemaTable) -> set[str]:
    fields = {f.name: canonical_type(f.type) for f in table.fields}
    zoned = {name for name, kind in fields.items() if kind in _FIELD_DATETIME_WITH_ZONE}
    return zoned | {name for name in _SYSTEM_WITH_ZONE if name not in fields}


def translate(formula: str, table: SchemaTable, *, qualifier: str | None = None) -> str:
    """The formula as PostgreSQL SQL, its names quoted as needed and, with `qualifier`, prefixed (`NEW.price`)."""
    from sqlglot import exp

    tree = parse_formula(formula).tree.copy()
    kinds = {f.name: f for f in table.fields}
    numeric = {name for name, field in kinds.items() if _is_numeric(field)}

    def rewrite(node: Any) -> Any:
        if isinstance(node, exp.Cast) and node.to.is_type("text") and isinstance(node.this, exp.Column):
            field = kinds.get(column_name(node.this))
            text_format = _TEXT_FORMATS.get(canonical_type(field.type)) if field else None
            if text_format is not None:
                return exp.Anonymous(this="TO_CHAR", expressions=[node.this, exp.Literal.string(text_format)])
        if isinstance(node, exp.Div):
            for side in ("this", "expression"):
                operand = node.args.get(side)
                if isinstance(operand, exp.Column) and column_name(operand) in numeric:
                    node.set(side, exp.Cast(this=operand, to=exp.DataType.build("numeric")))
        if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
            inner = node.this
            if not isinstance(inner, exp.Cast) and inner.find(exp.Sqrt, exp.Pow, exp.Exp, exp.Ln, exp.Log):
                node.set("this", exp.Cast(this=exp.Paren(this=inner), to=exp.DataType.build("numeric")))
        return node

    tree = tree.transform(rewrite)
    for column in list(tree.find_all(exp.Column)):
        name = column_name(column)
        replacement = exp.column(name, table=qualifier, quoted=quote_ident(name) != name)
        column.replace(replacement)
    return str(tree.sql(dialect="postgres"))


def _is_numeric(field: Field) -> bool:
    kind = canonical_type(field.type)
    if kind == "formula":
        return (field.result_type or "").lower() in _NUMERIC_RESULTS
    return kind in _NUMERIC_FIELDS


# --- the trigger that fills volatile and chained formulas ---------------------------------------------------


def trigger_function_name(storage_name: str) -> str:
    return truncate_identifier(f"compute_{storage_name}_formulas")


def trigger_name(storage_name: str) -> str:
    return truncate_identifier(f"trigger_compute_{storage_name}_formulas")


def trigger_body(table: SchemaTable, names: Sequence[str]) -> str:
    """The plpgsql body that sets each trigger-computed formula from NEW, in dependency order."""
    fields = {f.name: f for f in table.fields}
    lines = [
        f"  NEW.{quote_ident(name)} := ({translate(fields[name].formula or '', table, qualifier='NEW')});"
        for name in dependency_order(names, table)
    ]
    return "\n".join(("BEGIN", *lines, "  RETURN NEW;", "END;"))
