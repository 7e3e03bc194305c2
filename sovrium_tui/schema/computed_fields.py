"""Computed fields and table views in a schema: lookup, rollup, count, formula, the AI fields and `views[]`.

`validate` reads what every field has in common; this module reads what the computed types add, then checks
what they point at across fields and tables, with Sovrium's messages where Sovrium has one.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, cast

from sovrium_tui.records import record
from sovrium_tui.schema.field_types import FOREIGN_KEY_RELATIONS, SYSTEM_COLUMNS, VIEW_COMPUTED_TYPES, creates_column
from sovrium_tui.schema.formula_types import KIND_OF_FIELD_TYPE, KIND_WORDS, field_kinds, formula_type_problems
from sovrium_tui.schema.model import (
    AiSettings,
    FilterCondition,
    FilterGroup,
    FilterNode,
    FilterScalar,
    ViewSpec,
)

if TYPE_CHECKING:
    from sovrium_tui.schema.model import Field
    from sovrium_tui.schema.validate import Problems, _FieldReader, _TableDraft

# Sovrium's rollup aggregations (any case).
AGGREGATIONS = ("SUM", "COUNT", "AVG", "MIN", "MAX", "COUNTA", "COUNTALL", "ARRAYUNIQUE")

# `resultType` spellings and the column type each gives (Sovrium's map).
RESULT_TYPES = {
    **dict.fromkeys(("decimal", "number", "numeric"), "numeric"),
    **dict.fromkeys(("integer", "int"), "integer"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("text", "string"), "text"),
    **dict.fromkeys(("text[]", "string[]"), "text[]"),
    "date": "date",
    **dict.fromkeys(("datetime", "timestamp"), "timestamp with time zone"),
}

FILTER_OPERATORS = (
    "equals",
    "notEquals",
    "greaterThan",
    "lessThan",
    "greaterThanOrEqual",
    "lessThanOrEqual",
    "contains",
    "startsWith",
    "endsWith",
    "isNull",
    "isNotNull",
    "isEmpty",
    "isTrue",
    "isFalse",
    "in",
)

AI_TYPES = frozenset(f"ai-{kind}" for kind in "categorize extract generate sentiment summary tag translate".split())
# computeOn values each AI type takes (ai-generate and ai-summary may also be computed on demand only).
_COMPUTE_ON = dict.fromkeys(AI_TYPES, ("create", "update", "both")) | {
    "ai-generate": ("create", "update", "both", "manual"),
    "ai-summary": ("create", "update", "both", "manual"),
}
# AI types whose `computeOn` Sovrium requires.
_COMPUTE_ON_REQUIRED = frozenset({"ai-categorize", "ai-extract", "ai-tag", "ai-translate"})

VIEW_KEYS = frozenset(
    "id name query materialized refreshOnMigration isDefault filters sorts fields groupBy permissions".split()
)
_VIEW_ID = re.compile(r"[a-z0-9_-]+")
_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")

# Keys a computed type needs, besides the common ones.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "lookup": ("relationshipField", "relatedField"),
    "rollup": ("relationshipField", "relatedField", "aggregation"),
    "count": ("relationshipField",),
    "formula": ("formula",),
    **dict.fromkeys(AI_TYPES, ("sourceFields",)),
    "ai-categorize": ("sourceFields", "categories", "computeOn"),
    "ai-extract": ("sourceFields", "schema", "computeOn"),
    "ai-tag": ("sourceFields", "tags", "computeOn"),
    "ai-translate": ("sourceFields", "targetLanguage", "computeOn"),
}


@record
class FieldExtras:
    """What a computed field (or a relationship's back-pointing metadata) adds to a Field."""

    foreign_key: str | None = None
    reciprocal_field: str | None = None
    relationship_field: str | None = None
    related_field: str | None = None
    aggregation: str | None = None
    filters: FilterNode | None = None
    formula: str | None = None
    result_type: str | None = None
    ai: AiSettings | None = None


# --- one field ----------------------------------------------------------------------------------------------


def read_extras(read: _FieldReader) -> FieldExtras:
    """The computed-type keys of one field (and `foreignKey` / `reciprocalField` of a relationship)."""
    kind = read.kind
    if kind == "relationship":
        return FieldExtras(foreign_key=read.text("foreignKey"), reciprocal_field=read.text("reciprocalField"))
    if kind in VIEW_COMPUTED_TYPES:
        return FieldExtras(
            relationship_field=read.text("relationshipField"),
            related_field=read.text("relatedField"),
            aggregation=_aggregation(read) if kind == "rollup" else None,
            filters=read_filters(read.problems, read.get("filters"), read.at("filters")),
        )
    if kind == "formula":
        return FieldExtras(formula=read.text("formula"), result_type=_result_type(read))
    if kind in AI_TYPES:
        return FieldExtras(ai=_ai_settings(read))
    return FieldExtras()


def _aggregation(read: _FieldReader) -> str | None:
    from sovrium_tui.schema.validate import did_you_mean

    text = read.text("aggregation")
    if text is None:
        return None
    if text.upper() not in AGGREGATIONS:
        expected = ", ".join(AGGREGATIONS)
        hint = did_you_mean(text.upper(), AGGREGATIONS)
        read.problems.add(read.at("aggregation"), f"Unknown aggregation {text!r}{hint} (expected one of {expected})")
        return None
    return text.upper()


def _result_type(read: _FieldReader) -> str | None:
    from sovrium_tui.schema.validate import did_you_mean

    text = read.text("resultType")
    if text is not None and text.lower() not in RESULT_TYPES:
        hint = did_you_mean(text, RESULT_TYPES)
        read.problems.add(read.at("resultType"), f"Unknown resultType {text!r}{hint}")
        return None
    return text


def _ai_settings(read: _FieldReader) -> AiSettings | None:
    from sovrium_tui.schema.validate import _MISSING, _expect_int, _expect_mapping, _expect_number, _string_list

    problems, kind = read.problems, read.kind
    sources = read.get("sourceFields")
    source_fields = () if sources is _MISSING else _string_list(problems, sources, read.at("sourceFields"))
    if source_fields is not None and sources is not _MISSING and not source_fields:
        problems.add(read.at("sourceFields"), "Expected at least one source field")
    compute_on = read.text("computeOn")
    if compute_on is not None and compute_on not in _COMPUTE_ON[kind]:
        expected = ", ".join(_COMPUTE_ON[kind])
        problems.add(read.at("computeOn"), f"Invalid computeOn {compute_on!r} (expected one of {expected})")
    temperature = read.get("temperature")
    number = None if temperature is _MISSING else _expect_number(problems, temperature, read.at("temperature"))
    if number is not None and not 0 <= number <= 1:
        problems.add(read.at("temperature"), "temperature must be between 0 and 1")
    max_tokens = read.get("maxTokens")
    tokens = None if max_tokens is _MISSING else _expect_int(problems, max_tokens, read.at("maxTokens"), minimum=1)
    schema = read.get("schema")
    schema_map = None if schema is _MISSING else _expect_mapping(problems, schema, read.at("schema"))
    return AiSettings(
        source_fields=tuple(source_fields or ()),
        compute_on=compute_on,
        prompt=read.text("prompt"),
        system_prompt=read.text("systemPrompt"),
        model=read.text("model"),
        temperature=number,
        max_tokens=tokens,
        categories=_choices(read, "categories"),
        tags=_choices(read, "tags"),
        max_tags=read.count("maxTags"),
        target_language=read.text("targetLanguage"),
        max_length=read.count("maxLength"),
        schema_json=None if schema_map is None else json.dumps(schema_map, sort_keys=True, separators=(",", ":")),
        extract_properties=_extract_properties(schema_map) if schema_map is not None else (),
    )


def _choices(read: _FieldReader, key: str) -> tuple[str, ...]:
    """`categories` / `tags`: at least two, each once (Sovrium's rule)."""
    from sovrium_tui.schema.validate import _MISSING, _string_list

    value = read.get(key)
    if value is _MISSING:
        return ()
    items = _string_list(read.problems, value, read.at(key)) or ()
    if len(items) < 2:
        read.problems.add(read.at(key), f"Expected at least 2 {key}")
    if len(set(items)) != len(items):
        read.problems.add(read.at(key), f"{key.capitalize()} must be unique (duplicate {key} found)")
    return items


def _extract_properties(schema: Mapping[str, object]) -> tuple[tuple[str, bool], ...]:
    """An ai-extract schema's properties (its `properties`, else its own keys but `type`), numeric or not."""
    properties = schema.get("properties")
    entries = properties.items() if isinstance(properties, dict) else ((k, v) for k, v in schema.items() if k != "type")
    found = []
    for name, definition in entries:
        type_name = definition if isinstance(definition, str) else None
        if isinstance(definition, dict):
            type_name = definition.get("type") if isinstance(definition.get("type"), str) else None
        found.append((str(name), type_name in ("number", "integer")))
    return tuple(sorted(found))  # by name: a snapshot stored as jsonb comes back with its keys reordered


def read_filters(problems: Problems, value: object, path: str) -> FilterNode | None:
    """A filter tree: a `{field, operator, value}` condition or an `{and: […]}` / `{or: […]}` group."""
    from sovrium_tui.schema.validate import _MISSING, _check_keys, _expect_list, _expect_mapping, did_you_mean

    if value is _MISSING:
        return None
    node = _expect_mapping(problems, value, path)
    if node is None:
        return None
    for kind in ("and", "or"):
        if kind in node:
            _check_keys(problems, node, path, frozenset({kind}))
            items = _expect_list(problems, node[kind], f"{path}.{kind}") or []
            children = [read_filters(problems, item, f"{path}.{kind}[{i}]") for i, item in enumerate(items)]
            group_kind: Literal["and", "or"] = "and" if kind == "and" else "or"
            return FilterGroup(group_kind, tuple(c for c in children if c is not None))
    _check_keys(problems, node, path, frozenset({"field", "operator", "value"}))
    name = node.get("field")
    operator = node.get("operator")
    if not isinstance(name, str) or not name:
        problems.add(f"{path}.field", "Expected the name of a field")
        return None
    if operator not in FILTER_OPERATORS:
        hint = did_you_mean(str(operator), FILTER_OPERATORS)
        problems.add(f"{path}.operator", f"Unknown filter operator {operator!r}{hint}")
        return None
    raw = node.get("value")
    if isinstance(raw, list):
        scalars = [item for item in raw if _is_scalar(item)]
        if len(scalars) != len(raw):
            problems.add(f"{path}.value", "Expected a list of plain values")
        return FilterCondition(name, str(operator), tuple(scalars))
    if not _is_scalar(raw):
        problems.add(f"{path}.value", "Expected a plain value (text, number, boolean or null)")
        return None
    if operator == "in":
        problems.add(f"{path}.value", "The 'in' operator takes a list of values")
        return None
    return FilterCondition(name, str(operator), cast(FilterScalar, raw))


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def filter_fields(node: FilterNode | None) -> Iterable[tuple[str, str]]:
    """(field, path suffix) of every condition of a filter tree, for checking the fields exist."""
    return ((condition.field, where) for condition, where in _conditions(node))


def _conditions(node: FilterNode | None) -> Iterable[tuple[FilterCondition, str]]:
    """Every condition of a filter tree, with its path suffix."""
    stack: list[tuple[FilterNode, str]] = [] if node is None else [(node, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, FilterCondition):
            yield item, where
        else:
            stack.extend((child, f"{where}.{item.kind}[{i}]") for i, child in enumerate(item.items))


def filter_value_problems(node: FilterNode | None, fields: Iterable[Field]) -> Iterable[tuple[str, str]]:
    """(path suffix, why) for each condition PostgreSQL could not evaluate on its field's values: a text match on a
    number or date, `isTrue` on text, a number compared with text or a date (`operator does not exist: boolean ~~
    unknown` when the view is made). Fields of a kind not known here are left alone."""
    fields = tuple(fields)
    for item, where in _conditions(node):
        kind = field_kinds(fields, item.field)
        if kind is None or kind in ("list", "json"):  # a filter's words for them are PostgreSQL's to judge
            continue
        why = _condition_problem(item, kind)
        if why is not None:
            yield where, f'Filter on "{item.field}" ({KIND_WORDS[kind]}): {why}'


_TEXT_MATCHES = frozenset({"contains", "startsWith", "endsWith", "isEmpty"})
_BOOLEAN_TESTS = frozenset({"isTrue", "isFalse"})
_BOOLEAN_WORDS = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n", "on", "off", "1", "0"})


def _condition_problem(condition: FilterCondition, kind: str) -> str | None:
    operator = condition.operator
    if operator in _TEXT_MATCHES:
        return None if kind == "text" else f"`{operator}` matches text only; use equals or a comparison"
    if operator in _BOOLEAN_TESTS:
        return None if kind == "boolean" else f"`{operator}` tests a checkbox only; use equals"
    if operator in ("isNull", "isNotNull"):
        return None
    values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
    for value in values:
        if value is not None and not _fits(value, kind):
            return f"`{operator}` compares it with {json.dumps(value)}, which is not {KIND_WORDS[kind]}"
    return None


def _fits(value: object, kind: str) -> bool:
    """Whether a filter value can be compared with values of `kind` (numbers are written bare, the rest quoted)."""
    if isinstance(value, bool):
        return kind == "boolean"
    if isinstance(value, int | float):
        return kind == "number"
    text = str(value).strip()
    if kind == "number":
        return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text) is not None
    if kind == "boolean":
        return text.lower() in _BOOLEAN_WORDS
    return True  # quoted: text, dates and times take their own literals (a malformed one is PostgreSQL's to refuse)


# --- views[] -----------------------------------------------------------------------------------------------


def read_views(problems: Problems, draft: _TableDraft) -> list[tuple[str, ViewSpec]]:
    """The table's `views[]`, each with its path; the ones without a query or a text id stay UI-only."""
    from sovrium_tui.schema.validate import _MISSING, _expect_bool, _expect_str, _require

    specs: list[tuple[str, ViewSpec]] = []
    seen: set[str] = set()
    default: str | None = None  # the path of the view marked isDefault
    for path, data in _entries(problems, draft, "views", VIEW_KEYS):
        value = _require(problems, data, "id", path)
        view_id: int | str | None = None
        if (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
            isinstance(value, str) and _VIEW_ID.fullmatch(value)
        ):
            view_id = value
        elif value is not _MISSING:
            problems.add(f"{path}.id", "A view id is a number or lowercase letters, digits, '_' and '-'")
        if view_id is not None and str(view_id) in seen:
            problems.add(f"{path}.id", "View IDs must be unique within the table")
        seen.add(str(view_id))
        name_value = _require(problems, data, "name", path)
        name = None if name_value is _MISSING else _expect_str(problems, name_value, f"{path}.name")
        query = None
        if "query" in data:
            query = _expect_str(problems, data["query"], f"{path}.query")
        flags = {key: bool(_expect_bool(problems, data[key], f"{path}.{key}")) for key in _FLAGS if key in data}
        if flags.get("isDefault"):
            if default is not None:
                problems.add(f"{path}.isDefault", f"Only one default view is allowed per table ({default} is one)")
            default = default or path
        fields = _names(problems, data, "fields", path)
        sorts = tuple(
            _sort(problems, item, f"{path}.sorts[{i}]") for i, item in enumerate(_list(problems, data, "sorts", path))
        )
        group_by = _sort(problems, data["groupBy"], f"{path}.groupBy") if "groupBy" in data else None
        filters = read_filters(problems, data.get("filters", _MISSING), f"{path}.filters")
        if view_id is None or name is None:
            continue
        spec = ViewSpec(
            id=view_id,
            name=name,
            query=query,
            materialized=flags.get("materialized", False),
            refresh_on_migration=flags.get("refreshOnMigration", False),
            filters=filters,
            sorts=tuple(s for s in sorts if s is not None),
            fields=fields,
            group_by=group_by,
        )
        specs.append((path, spec))
    return specs


_FLAGS = ("materialized", "refreshOnMigration", "isDefault")


def _entries(
    problems: Problems, draft: _TableDraft, key: str, allowed: frozenset[str]
) -> list[tuple[str, dict[str, object]]]:
    from sovrium_tui.schema.validate import _check_keys, _expect_list, _expect_mapping

    if key not in draft.data:
        return []
    items = _expect_list(problems, draft.data[key], f"{draft.path}.{key}") or []
    entries = []
    for index, item in enumerate(items):
        path = f"{draft.path}.{key}[{index}]"
        data = _expect_mapping(problems, item, path)
        if data is not None:
            _check_keys(problems, data, path, allowed)
            entries.append((path, data))
    return entries


def _list(problems: Problems, data: Mapping[str, object], key: str, path: str) -> list[object]:
    from sovrium_tui.schema.validate import _expect_list

    return (_expect_list(problems, data[key], f"{path}.{key}") or []) if key in data else []


def _names(problems: Problems, data: Mapping[str, object], key: str, path: str) -> tuple[str, ...]:
    from sovrium_tui.schema.validate import _expect_str

    items = _list(problems, data, key, path)
    names = [_expect_str(problems, item, f"{path}.{key}[{i}]") for i, item in enumerate(items)]
    return tuple(n for n in names if n is not None)


def _sort(problems: Problems, value: object, path: str) -> tuple[str, str] | None:
    from sovrium_tui.schema.validate import _check_keys, _expect_mapping

    data = _expect_mapping(problems, value, path)
    if data is None:
        return None
    _check_keys(problems, data, path, frozenset({"field", "direction"}))
    name = data.get("field")
    direction = data.get("direction", "asc")
    if not isinstance(name, str) or not name:
        problems.add(f"{path}.field", "Expected the name of a field")
        return None
    if direction not in ("asc", "desc"):
        problems.add(f"{path}.direction", "direction must be 'asc' or 'desc'")
        return None
    return name, str(direction)


# --- across fields and tables --------------------------------------------------------------------------------


@dataclass
class CrossCheck:
    """Checks what computed fields and views point at, once every table has been read."""

    problems: Problems
    by_name: Mapping[str, _TableDraft]
    reported_formulas: set[str] = field(default_factory=set)
    _readable_names: dict[int, set[str]] = field(default_factory=dict)  # by id(draft): every table is read

    def readable(self, draft: _TableDraft) -> set[str]:
        """`_readable(draft)`, worked out once per table (a table of a thousand formulas asked it per formula)."""
        known = self._readable_names.get(id(draft))
        if known is None:
            known = self._readable_names[id(draft)] = _readable(draft)
        return known

    def table(self, draft: _TableDraft) -> None:
        for built in draft.fields:
            path = draft.field_paths.get(built.name, draft.path)
            match built.type:
                case "lookup":
                    self.lookup(draft, built, path)
                case "rollup" | "count":
                    self.aggregate(draft, built, path)
                case "formula":
                    self.formula(draft, built, path)
                case kind if kind in AI_TYPES:
                    self.ai(draft, built, path)
        self.formula_cycles(draft)
        for path, view in draft.views:
            self.view(draft, view, path)

    # lookups, rollups, counts

    def lookup(self, draft: _TableDraft, built: Field, path: str) -> None:
        label = f'Lookup field "{draft.label}.{built.name}"'
        relationship = draft.field_named(built.relationship_field or "")
        if relationship is not None:
            if relationship.type != "relationship":
                message = f'{label} relationshipField "{built.relationship_field}" must reference a relationship field'
                self.problems.add(f"{path}.relationshipField", message)
                return
            related = self.by_name.get(relationship.related_table or "")
        else:
            related = self.reverse_source(draft, built.relationship_field or "")
            if related is None:
                message = f'{label} relationshipField "{built.relationship_field}" not found'
                self.problems.add(f"{path}.relationshipField", message)
                return
        if related is None:
            return  # the relationship's own problem was reported
        self.related_field(label, built, related, path)
        if relationship is not None and relationship.relation_type == "one-to-many":
            self.back_reference(draft, relationship, related, path=path, label=label)
        self.filter_fields(built, related, path)

    def reverse_source(self, draft: _TableDraft, name: str) -> _TableDraft | None:
        """The other table whose relationship field `name` points at this table (a one-to-many lookup)."""
        for other in self.by_name.values():
            if other is draft:
                continue
            found = other.field_named(name)
            if found is not None and found.type == "relationship" and found.related_table == draft.name:
                return other
        return None

    def aggregate(self, draft: _TableDraft, built: Field, path: str) -> None:
        kind = built.type.capitalize()
        relationship = draft.field_named(built.relationship_field or "")
        if relationship is None:
            message = (
                f'{kind} field "{built.name}" references relationshipField "{built.relationship_field}" not found '
                "in the same table"
            )
            self.problems.add(f"{path}.relationshipField", message)
            return
        if relationship.type != "relationship":
            message = (
                f'{kind} field "{built.name}" relationshipField "{built.relationship_field}" must reference a '
                "relationship field"
            )
            self.problems.add(f"{path}.relationshipField", message)
            return
        related = self.by_name.get(relationship.related_table or "")
        if related is None:
            return
        label = f'{kind} field "{draft.label}.{built.name}"'
        if built.type == "rollup":
            self.related_field(label, built, related, path)
            self.aggregated_kind(label, built, related, path)
        if relationship.relation_type != "many-to-many":
            self.back_reference(draft, relationship, related, path=path, label=label)
        self.filter_fields(built, related, path)

    def aggregated_kind(self, label: str, built: Field, related: _TableDraft, path: str) -> None:
        """An aggregation PostgreSQL has no function for on the related field's values (`sum(character
        varying) does not exist`): SUM adds numbers (an empty sum is 0), AVG numbers or durations, MIN and MAX
        anything but true/false values. Fields whose kind is not known for sure are left to PostgreSQL."""
        aggregation = (built.aggregation or "SUM").upper()
        allowed = _AGGREGATED_KINDS.get(aggregation)
        target = related.field_named(built.related_field or "")
        kind = KIND_OF_FIELD_TYPE.get(target.type) if target is not None else None
        if allowed is None or kind is None or kind in allowed[0]:
            return
        message = (
            f'{label}: {aggregation} {allowed[1]}, and "{related.label}.{target.name if target else ""}" holds '
            f"{KIND_WORDS[kind]}; choose another aggregation (COUNT, COUNTA, MIN, MAX) or another field"
        )
        self.problems.add(f"{path}.aggregation", message)

    def related_field(self, label: str, built: Field, related: _TableDraft, path: str) -> None:
        from sovrium_tui.schema.validate import did_you_mean

        name = built.related_field or ""
        if name not in self.readable(related):
            hint = did_you_mean(name, self.readable(related))
            message = f'{label} relatedField "{name}" not found in related table "{related.label}"{hint}'
            self.problems.add(f"{path}.relatedField", message)

    def back_reference(
        self, draft: _TableDraft, relationship: Field, related: _TableDraft, *, path: str, label: str
    ) -> None:
        """The related table's column that holds this table's id (Sovrium: foreignKey, else reciprocalField)."""
        column = back_reference_column(relationship, draft.name or "", related.fields)
        if column not in related.columns():
            message = (
                f'{label}: the related table "{related.label}" has no column "{column}" pointing back at this '
                "table; set foreignKey on the relationship field to the name of that column"
            )
            self.problems.add(f"{path}.relationshipField", message)
            return
        holder = related.field_named(column)
        if holder is not None and holder.type == "relationship" and holder.related_table not in (draft.name, None):
            message = (
                f'{label}: the related table\'s column "{related.label}.{column}" points at "{holder.related_table}", '
                "not back at this table, so it holds no id of this table's rows; set foreignKey on the relationship "
                "field to the column that does"
            )
            self.problems.add(f"{path}.relationshipField", message)

    def filter_fields(self, built: Field, related: _TableDraft, path: str) -> None:
        from sovrium_tui.schema.validate import did_you_mean

        for name, where in filter_fields(built.filters):
            if name not in self.readable(related):
                hint = did_you_mean(name, self.readable(related))
                message = f'Filter field "{name}" not found in related table "{related.label}"{hint}'
                self.problems.add(f"{path}.filters{where}.field", message)
        for where, message in filter_value_problems(built.filters, related.fields):
            self.problems.add(f"{path}.filters{where}", f'Field "{built.name}": {message}')

    # formulas

    def formula(self, draft: _TableDraft, built: Field, path: str) -> None:
        from sovrium_tui.schema.formula import FormulaError, parse_formula
        from sovrium_tui.schema.validate import did_you_mean

        if built.formula is None:
            return
        try:
            parsed = parse_formula(built.formula)
        except FormulaError as error:
            self.problems.add(f"{path}.formula", f'Formula of field "{built.name}": {error}')
            return
        known = self.readable(draft)
        for name in parsed.names:
            if name == built.name:
                self.problems.add(f"{path}.formula", f'Formula of field "{built.name}": refers to itself')
            elif name not in known:
                hint = did_you_mean(name, known)
                message = f'Formula of field "{built.name}": references unknown field "{name}"{hint}'
                self.problems.add(f"{path}.formula", message)
        wrong = _arithmetic_without_operator(parsed.tree, draft)
        for name, holds, written in sorted(wrong, key=lambda found: parsed.names.index(found[0])):
            message = (
                f'Formula of field "{built.name}": "{name}" holds {holds}, which PostgreSQL has no such arithmetic '
                f"for; convert it first, e.g. {written}"
            )
            self.problems.add(f"{path}.formula", message)
        if not wrong:
            kinds = functools.partial(field_kinds, draft.fields)
            for mismatch in formula_type_problems(parsed.tree, kinds):
                self.problems.add(f"{path}.formula", f'Formula of field "{built.name}": {mismatch}')

    def formula_cycles(self, draft: _TableDraft) -> None:
        """Formulas that use each other in a circle have no order to compute them in."""
        from sovrium_tui.schema.formula import FormulaError, parse_formula

        uses: dict[str, set[str]] = {}
        for built in draft.fields:
            if built.type == "formula" and built.formula:
                try:
                    uses[built.name] = set(parse_formula(built.formula).names)
                except FormulaError:
                    continue
        for start in _in_circles(uses):
            stack, seen = [start], set()
            while stack:
                name = stack.pop()
                for used in uses.get(name, ()):
                    if used == start and name != start:
                        path = draft.field_paths.get(start, draft.path)
                        self.problems.add(f"{path}.formula", f'Formulas use each other in a circle (through "{name}")')
                        stack.clear()
                        break
                    if used not in seen:
                        seen.add(used)
                        stack.append(used)

    # AI fields and views

    def ai(self, draft: _TableDraft, built: Field, path: str) -> None:
        from sovrium_tui.schema.validate import did_you_mean

        stored = {f.name for f in draft.fields if creates_column(f.type, f.relation_type)} | set(SYSTEM_COLUMNS)
        for index, name in enumerate(built.ai.source_fields if built.ai else ()):
            if name not in stored:
                hint = did_you_mean(name, stored)
                message = f'AI field "{built.name}": source field "{name}" not found in the same table{hint}'
                self.problems.add(f"{path}.sourceFields[{index}]", message)

    def view(self, draft: _TableDraft, view: ViewSpec, path: str) -> None:
        from sovrium_tui.schema.validate import did_you_mean

        known = self.readable(draft)
        named = [(n, f"{path}.fields[{i}]") for i, n in enumerate(view.fields)]
        named += [(n, f"{path}.sorts[{i}].field") for i, (n, _) in enumerate(view.sorts)]
        named += [(view.group_by[0], f"{path}.groupBy.field")] if view.group_by else []
        named += [(n, f"{path}.filters{where}.field") for n, where in filter_fields(view.filters)]
        for name, where in named:
            if name not in known:
                message = f'View "{view.id}" references unknown field "{name}"{did_you_mean(name, known)}'
                self.problems.add(where, message)
        for where, message in filter_value_problems(view.filters, draft.fields):
            self.problems.add(f"{path}.filters{where}", f'View "{view.id}": {message}')
        if view.query is not None and view.sql_view:
            problem = query_problem(view.query)
            if problem is not None:
                self.problems.add(f"{path}.query", f'View "{view.id}": {problem}')


# The kinds each aggregation takes (others: any), and how to say it.
_AGGREGATED_KINDS = {
    "SUM": (frozenset({"number"}), "adds numbers"),
    "AVG": (frozenset({"number", "interval"}), "averages numbers or durations"),
    "MIN": (frozenset({"number", "text", "date", "timestamp", "time", "interval", "list"}), "needs values in an order"),
    "MAX": (frozenset({"number", "text", "date", "timestamp", "time", "interval", "list"}), "needs values in an order"),
}


def _in_circles(uses: Mapping[str, set[str]]) -> list[str]:
    """The formulas (in `uses` order) on a circle through at least one other: those that reach themselves.

    Tarjan's strongly connected components, iteratively: a formula is on such a circle exactly when its component
    has more than one member. Linear, where asking every formula's reach was quadratic in a long chain.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circled: set[str] = set()
    for root in uses:
        if root in index:
            continue
        work = [(root, iter(sorted(uses[root] & uses.keys())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(uses[child] & uses.keys()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circled.update(component)
    return [name for name in uses if name in circled]


def _readable(draft: _TableDraft) -> set[str]:
    """Names a formula, filter or view may read in a table: its fields that have values, and system columns."""
    names = {
        f.name
        for f in draft.fields
        if creates_column(f.type, f.relation_type) or f.type in VIEW_COMPUTED_TYPES or f.type == "formula"
    }
    return names | (draft.columns() & set(SYSTEM_COLUMNS)) | (draft.declared - {f.name for f in draft.fields})


def back_reference_column(relationship: Field, own_table: str, related_fields: Iterable[Field]) -> str:
    """The column of the related table a rollup or count matches against this table's id.

    Sovrium's rule is `foreignKey`, else `reciprocalField`, else the relationship's own name; a one-to-many field
    without either points back through the related table's one foreign-key relationship to this table.
    """
    if relationship.foreign_key:
        return relationship.foreign_key
    if relationship.reciprocal_field:
        return relationship.reciprocal_field
    if relationship.relation_type == "one-to-many":
        back = [
            f.name
            for f in related_fields
            if f.type == "relationship"
            and f.related_table == own_table
            and (f.relation_type or "many-to-one") in FOREIGN_KEY_RELATIONS
        ]
        if len(back) == 1:
            return back[0]
    return relationship.name


def query_problem(query: str) -> str | None:
    """Why a view's `query` cannot be a view's definition (one SELECT, nothing else), or None."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from sovrium_tui.pgparse import lexer_problem

    if ";" in query.strip().rstrip(";"):
        return "query must be one SELECT statement"
    try:
        parsed = [tree for tree in sqlglot.parse(query, dialect="postgres") if tree is not None]
    except SqlglotError as failure:
        reason = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        return f"query is not valid SQL: {_ANSI_CODES.sub('', reason)}"
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Query):
        return "query must be one SELECT statement"
    problem = lexer_problem(query)
    return None if problem is None else f"query is not valid PostgreSQL: {problem}"


_LIST_TYPES = ("multi-select", "array")
_JSON_TYPES = ("json", "multiple-attachments")
_FRACTION_TYPES = ("decimal", "currency", "percentage")  # numeric columns: a date adds integers, JSON deletes by them


def _arithmetic_without_operator(tree: object, draft: _TableDraft) -> list[tuple[str, str, str]]:
    """Fields of the table a formula's arithmetic reads directly that PostgreSQL has no such arithmetic for
    ("operator does not exist: text * integer": it would refuse the formula's column when it is made), each once:
    (name, what it holds, a way to write it). Text, booleans and lists take no arithmetic, JSON only `-` (deleting a
    key, keys or a position); dates and times are added to and subtracted, never multiplied or divided; a date
    adds and subtracts whole days, not a decimal field's numbers."""
    from sqlglot import exp

    from sovrium_tui.schema.field_types import DATE_TIME_TYPES, TEXT_TYPES, canonical_type
    from sovrium_tui.schema.formula import column_name

    assert isinstance(tree, exp.Expression)
    found: dict[str, tuple[str, str, str]] = {}

    def field_type(side: object) -> tuple[str, str]:
        while isinstance(side, exp.Paren):
            side = side.this
        if not isinstance(side, exp.Column):
            return "", ""
        name = column_name(side)
        field = draft.field_named(name)
        return name, canonical_type(field.type) if field is not None else ""

    for node in tree.find_all(exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Pow, exp.IntDiv):
        sides = (field_type(node.this), field_type(node.expression))
        kinds = {kind for _, kind in sides}
        from_json = isinstance(node, exp.Sub) and sides[0][1] in _JSON_TYPES  # JSON minus a key, keys or a position
        for position, (name, kind) in enumerate(sides):
            if kind in TEXT_TYPES and not (from_json and position == 1):
                found.setdefault(name, (name, f"text ({kind})", f"CAST({name} AS numeric)"))
            elif kind == "checkbox":
                found.setdefault(name, (name, f"a boolean ({kind})", f"CAST({name} AS integer)"))
            elif kind in DATE_TIME_TYPES and kind != "time" and not isinstance(node, exp.Add | exp.Sub):
                found.setdefault(name, (name, f"a date or time ({kind})", f"EXTRACT(EPOCH FROM {name})"))
            elif kind in _LIST_TYPES and not (from_json and position == 1):
                found.setdefault(name, (name, f"a list ({kind})", f"CARDINALITY({name})"))
            elif kind in _JSON_TYPES and not from_json:
                found.setdefault(name, (name, f"JSON ({kind})", f"CAST({name} ->> 'key' AS numeric)"))
            elif kind in _FRACTION_TYPES and (kinds & {"date"} or from_json):  # whole days and positions only
                found.setdefault(name, (name, f"a decimal number ({kind})", f"CAST({name} AS integer)"))
    return list(found.values())
