"""Views in the catalog, as Sovrium builds them: the view in front of a view-backed table, and declared table views.

A table with lookup, rollup or count fields keeps its rows in `<t>_base`; the view `<t>` selects every base
column and computes those fields (and the formulas that read them), and INSTEAD OF triggers send inserts, updates
and deletes through `<t>` to `<t>_base`, so the app reads and writes `<t>` as it would a table. Rollups and counts
leave out soft-deleted rows (`deleted_at IS NOT NULL`) of the related table; lookups do not (Sovrium's rules).

A table's `views[]` with a `query`, or with a text id, become SQL views (materialized when asked); plain views
get read-only INSTEAD OF triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sovrium_tui.catalog.formula import formula_kinds, translate
from sovrium_tui.catalog.model import Column, Function, Table, Trigger, View
from sovrium_tui.identifiers import quote_ident, quote_literal, truncate_identifier
from sovrium_tui.records import record
from sovrium_tui.schema.computed_fields import back_reference_column
from sovrium_tui.schema.field_types import FOREIGN_KEY_RELATIONS, canonical_type
from sovrium_tui.schema.model import App, Field, FilterCondition, FilterNode, ViewSpec
from sovrium_tui.schema.model import Table as SchemaTable

BASE_ALIAS = "base"


@record
class CompiledViews:
    views: tuple[View, ...]
    functions: tuple[Function, ...]


def compile_views(app: App, tables: Sequence[Table]) -> CompiledViews:
    """Every view an app needs (view-backed tables and declared views), with their trigger functions."""
    by_name = {t.name: t for t in tables}
    views: list[View] = []
    functions: list[Function] = []
    for table in app.tables:
        if table.view_backed:
            base = by_name[table.storage_name]
            view, view_functions = _table_view(app, table, base)
            views.append(view)
            functions += view_functions
        for spec in table.views:
            if spec.sql_view:
                view, view_functions = _declared_view(table, spec)
                views.append(view)
                functions += view_functions
    return CompiledViews(tuple(views), tuple(functions))


def qualified(name: str) -> str:
    return f"public.{quote_ident(name)}"


def _source(related: SchemaTable, field: Field) -> str:
    """The related table's base when the columns read are stored there, its view when one is computed.

    Sovrium always reads the related table's view; reading its base gives the same values and keeps two
    view-backed tables that look each other up from depending on each other's views.
    """
    from sovrium_tui.schema.computed_fields import filter_fields

    if not related.view_backed:
        return related.physical_name
    computed = {f.name for f in related.fields if f.type in ("lookup", "rollup", "count")}
    computed |= {name for name, kind in formula_kinds(related).items() if kind == "view"}
    needed = {field.related_field or ""} | {name for name, _ in filter_fields(field.filters)}
    return related.physical_name if needed & computed else related.storage_name


def _alias(related: SchemaTable, field: Field) -> str:
    return quote_ident(truncate_identifier(f"{related.physical_name}_for_{field.name}"))


# --- the view of a view-backed table -------------------------------------------------------------------------


def _table_view(app: App, table: SchemaTable, base: Table) -> tuple[View, list[Function]]:
    reads = {base.name}
    selected = [f"{BASE_ALIAS}.*"]
    joins: list[str] = []
    for field in table.fields:
        kind = canonical_type(field.type)
        if kind == "lookup":
            expression, join, read = _lookup(app, table, field)
            joins += [join] if join else []
        elif kind in ("rollup", "count"):
            expression, read = _aggregate(app, table, field)
        else:
            continue
        selected.append(f"{expression} AS {quote_ident(field.name)}")
        reads |= read
    source = f"FROM {qualified(base.name)} AS {BASE_ALIAS}" + "".join(f"\n  {join}" for join in joins)
    select = "SELECT\n    " + ",\n    ".join(selected) + f"\n  {source}"
    layers = [name for name, kind in formula_kinds(table).items() if kind == "view"]
    definition = _layered(table, select, layers) if layers else select
    view = View(table.physical_name, definition, triggers=_write_triggers(table.physical_name), reads=tuple(reads))
    return view, _write_functions(table, base)


def _layered(table: SchemaTable, select: str, layers: Sequence[str]) -> str:
    """Formulas over computed fields, one CTE each in dependency order, as Sovrium layers them."""
    from sovrium_tui.catalog.formula import dependency_order

    ctes = [f"computed AS (\n  {select}\n)"]
    previous = "computed"
    fields = {f.name: f for f in table.fields}
    for number, name in enumerate(dependency_order(layers, table), start=1):
        alias = f"computed_{number}"
        expression = translate(fields[name].formula or "", table, qualifier=previous)
        ctes.append(f"{alias} AS (\n  SELECT {previous}.*, ({expression}) AS {quote_ident(name)}\n  FROM {previous}\n)")
        previous = alias
    return "WITH " + ",\n".join(ctes) + f"\nSELECT * FROM {previous}"


def _related(app: App, name: str | None) -> SchemaTable:
    found = app.table_named(name or "")
    assert found is not None, name  # validation checked every relationship's table
    return found


def _lookup(app: App, table: SchemaTable, field: Field) -> tuple[str, str | None, set[str]]:
    """The select expression of a lookup, the LEFT JOIN it needs (unfiltered many-to-one), and what it reads."""
    relationship = table.field_named(field.relationship_field or "")
    wanted = quote_ident(field.related_field or "")
    if relationship is None:  # the relationship is the other table's field pointing here (one-to-many)
        related = next(
            t
            for t in app.tables
            if t.name != table.name
            and (f := t.field_named(field.relationship_field or "")) is not None
            and f.type == "relationship"
            and f.related_table == table.name
        )
        back = related.field_named(field.relationship_field or "")
        assert back is not None
        return _reverse_lookup(related, field, back.name, back.related_field or "id")
    related = _related(app, relationship.related_table)
    alias = _alias(related, field)
    if relationship.relation_type == "many-to-many":
        return _junction_lookup(table, related, field), None, _junction_reads(table, related, field)
    if relationship.relation_type == "one-to-many":
        _, back_name, matched = back_reference(app, table, relationship)
        return _reverse_lookup(related, field, back_name, matched)
    target = quote_ident(relationship.related_field or "id")
    here = f"{BASE_ALIAS}.{quote_ident(relationship.name)}"
    if field.filters is None:
        join = f"LEFT JOIN {qualified(_source(related, field))} AS {alias} ON {alias}.{target} = {here}"
        return f"{alias}.{wanted}", join, {_source(related, field)}
    condition = f"{alias}.{target} = {here} AND {filter_sql(field.filters, alias)}"
    source = qualified(_source(related, field))
    expression = f"(\n      SELECT {alias}.{wanted}\n      FROM {source} AS {alias}\n      WHERE {condition}\n    )"
    return expression, None, {_source(related, field)}


def _string_agg(alias: str, column: str) -> str:
    value = f"{alias}.{column}"
    return f"STRING_AGG(({value})::text, ', ' ORDER BY {value})"


def _reverse_lookup(related: SchemaTable, field: Field, back: str, matched: str) -> tuple[str, str | None, set[str]]:
    alias = _alias(related, field)
    conditions = [f"{alias}.{quote_ident(back)} = {BASE_ALIAS}.{quote_ident(matched)}"]
    if field.filters is not None:
        conditions.append(filter_sql(field.filters, alias))
    expression = (
        f"(\n      SELECT {_string_agg(alias, quote_ident(field.related_field or ''))}\n"
        f"      FROM {qualified(_source(related, field))} AS {alias}\n"
        f"      WHERE {' AND '.join(conditions)}\n    )"
    )
    return expression, None, {_source(related, field)}


def _junction_names(table: SchemaTable, related: SchemaTable) -> tuple[str, str, str]:
    from sovrium_tui.catalog.compile import junction_column_name, junction_table_name

    return junction_table_name(table, related), junction_column_name(table), junction_column_name(related)


def _junction_reads(table: SchemaTable, related: SchemaTable, field: Field) -> set[str]:
    return {_junction_names(table, related)[0], _source(related, field)}


def _junction_source(table: SchemaTable, related: SchemaTable, field: Field, alias: str) -> tuple[str, list[str]]:
    """`FROM junction JOIN related` and the condition tying the junction to this row, for many-to-many fields."""
    junction, own_column, related_column = _junction_names(table, related)
    link = quote_ident(truncate_identifier(f"junction_{field.name}"))
    joined = qualified(_source(related, field))
    source = (
        f"FROM {qualified(junction)} AS {link}\n"
        f"      INNER JOIN {joined} AS {alias} ON {alias}.id = {link}.{quote_ident(related_column)}"
    )
    return source, [f"{link}.{quote_ident(own_column)} = {BASE_ALIAS}.id"]


def _junction_lookup(table: SchemaTable, related: SchemaTable, field: Field) -> str:
    alias = _alias(related, field)
    source, conditions = _junction_source(table, related, field, alias)
    if field.filters is not None:
        conditions.append(filter_sql(field.filters, alias))
    return (
        f"(\n      SELECT {_string_agg(alias, quote_ident(field.related_field or ''))}\n      {source}\n"
        f"      WHERE {' AND '.join(conditions)}\n    )"
    )


# Sovrium's aggregations and the value a row without related rows gets.
_EMPTY_VALUES = {"AVG": "NULL", "MIN": "NULL", "MAX": "NULL", "ARRAYUNIQUE": "'{}'"}


def aggregate_sql(aggregation: str, value: str) -> str:
    """The aggregate of a rollup over `value` (a qualified column)."""
    match aggregation:
        case "COUNTA":  # non-empty values; compared as text so that it works for every column type
            return f"COUNT(CASE WHEN {value} IS NOT NULL AND ({value})::text <> '' THEN 1 END)"
        case "COUNTALL":
            return "COUNT(*)"
        case "ARRAYUNIQUE":
            return f"ARRAY_AGG(DISTINCT {value} ORDER BY {value})"
        case "SUM" | "COUNT" | "AVG" | "MIN" | "MAX":
            return f"{aggregation}({value})"
    raise ValueError(f"unknown aggregation {aggregation}")


def back_reference(app: App, table: SchemaTable, relationship: Field) -> tuple[SchemaTable, str, str]:
    """For a relationship that is not many-to-many: the related table, its column holding this table's key
    (Sovrium's rule, `back_reference_column`), and the column of this table it holds (a relationship's
    `relatedField`, else `id`). A rollup, count or one-to-many lookup matches the two."""
    related = _related(app, relationship.related_table)
    back = back_reference_column(relationship, table.name, related.fields)
    back_field = related.field_named(back)
    matched = (
        back_field.related_field
        if back_field is not None and (back_field.relation_type or "many-to-one") in FOREIGN_KEY_RELATIONS
        else None
    ) or "id"
    return related, back, matched


def _aggregate(app: App, table: SchemaTable, field: Field) -> tuple[str, set[str]]:
    """A rollup or count: an aggregate over the related rows that are not soft-deleted."""
    relationship = table.field_named(field.relationship_field or "")
    assert relationship is not None  # validation checked it
    related = _related(app, relationship.related_table)
    alias = _alias(related, field)
    if field.type == "count":
        measure, empty = "COUNT(*)", "0"
    else:
        aggregation = field.aggregation or "SUM"
        measure = aggregate_sql(aggregation, f"{alias}.{quote_ident(field.related_field or '')}")
        empty = _EMPTY_VALUES.get(aggregation, "0")
    if relationship.relation_type == "many-to-many":
        source, conditions = _junction_source(table, related, field, alias)
        reads = _junction_reads(table, related, field)
    else:
        _, back, matched = back_reference(app, table, relationship)
        source = f"FROM {qualified(_source(related, field))} AS {alias}"
        conditions = [f"{alias}.{quote_ident(back)} = {BASE_ALIAS}.{quote_ident(matched)}"]
        reads = {_source(related, field)}
    conditions.append(f"{alias}.deleted_at IS NULL")
    if field.filters is not None:
        conditions.append(filter_sql(field.filters, alias))
    expression = (
        f"COALESCE(\n      (SELECT {measure}\n      {source}\n      WHERE {' AND '.join(conditions)}),\n"
        f"      {empty}\n    )"
    )
    return expression, reads


# --- filters ---------------------------------------------------------------------------------------------------

_COMPARISONS = {
    "equals": "=",
    "notEquals": "!=",
    "greaterThan": ">",
    "lessThan": "<",
    "greaterThanOrEqual": ">=",
    "lessThanOrEqual": "<=",
}
_PATTERNS = {"contains": "%{}%", "startsWith": "{}%", "endsWith": "%{}"}


def filter_sql(node: FilterNode, alias: str | None) -> str:
    """A filter tree as a SQL condition over `alias`'s columns (Sovrium's operators)."""
    if not isinstance(node, FilterCondition):
        parts = [filter_sql(child, alias) for child in node.items]
        if not parts:
            return "true"
        joined = f" {node.kind.upper()} ".join(parts)
        return f"({joined})" if len(parts) > 1 else joined
    column = f"{alias}.{quote_ident(node.field)}" if alias else quote_ident(node.field)
    match node.operator:
        case "isNull":
            return f"{column} IS NULL"
        case "isNotNull":
            return f"{column} IS NOT NULL"
        case "isEmpty":
            return f"({column} IS NULL OR {column} = '')"
        case "isTrue":
            return f"{column} = true"
        case "isFalse":
            return f"{column} = false"
        case "in":
            values = node.value if isinstance(node.value, tuple) else (node.value,)
            return f"{column} IN ({', '.join(_value(v) for v in values) or 'NULL'})"
        case operator if operator in _PATTERNS:
            return f"{column} LIKE {quote_literal(_PATTERNS[operator].format(_text(node.value)))}"
    return f"{column} {_COMPARISONS.get(node.operator, '=')} {_value(node.value)}"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        from sovrium_tui.catalog.compile import number_literal

        return number_literal(value).text
    return quote_literal(str(value))


# --- writing through the view ----------------------------------------------------------------------------------


def _write_triggers(view: str) -> tuple[Trigger, ...]:
    return tuple(
        Trigger(truncate_identifier(f"{view}_{event.lower()}_trigger"), view, "INSTEAD OF", (event,), name)
        for event, name in _write_function_names(view)
    )


def _write_function_names(view: str) -> list[tuple[str, str]]:
    return [
        (event, truncate_identifier(f"{view}_instead_of_{event.lower()}")) for event in ("INSERT", "UPDATE", "DELETE")
    ]


def _write_functions(table: SchemaTable, base: Table) -> list[Function]:
    """Insert, update and delete through the view into the base table; inserts and updates read the row back."""
    view = table.physical_name
    writable = [c for c in base.columns if c.generated is None]
    keys = _keys(base)
    target = qualified(base.name)
    columns = ", ".join(quote_ident(c.name) for c in writable)
    values = ", ".join(_insert_value(c, base.name) for c in writable)
    where = " AND ".join(f"{quote_ident(k)} = OLD.{quote_ident(k)}" for k in keys)
    returning = ", ".join(quote_ident(k) for k in keys)
    into = ", ".join(f"NEW.{quote_ident(k)}" for k in keys)
    reread = " AND ".join(f"v.{quote_ident(k)} = NEW.{quote_ident(k)}" for k in keys)
    read_back = f"  SELECT v.* INTO NEW FROM {qualified(view)} AS v WHERE {reread};"
    assignments = ", ".join(f"{quote_ident(c.name)} = NEW.{quote_ident(c.name)}" for c in writable)
    bodies = {
        "INSERT": [
            f"  INSERT INTO {target} ({columns})",
            f"  VALUES ({values})",
            f"  RETURNING {returning} INTO {into};",
            read_back,
            "  RETURN NEW;",
        ],
        "UPDATE": [
            f"  UPDATE {target}",
            f"  SET {assignments}",
            f"  WHERE {where}",
            f"  RETURNING {returning} INTO {into};",
            read_back,
            "  RETURN NEW;",
        ],
        "DELETE": [f"  DELETE FROM {target}", f"  WHERE {where};", "  RETURN OLD;"],
    }
    return [Function(name, "\n".join(("BEGIN", *bodies[event], "END;"))) for event, name in _write_function_names(view)]


def _keys(base: Table) -> tuple[str, ...]:
    primary = next((c for c in base.constraints if c.kind == "primary_key"), None)
    if primary is not None and primary.columns:
        return primary.columns
    return ("id",) if base.column("id") is not None else tuple(c.name for c in base.columns[:1])


def _insert_value(column: Column, base: str) -> str:
    value = f"NEW.{quote_ident(column.name)}"
    if column.serial:
        sequence = quote_literal(f"public.{quote_ident(base)}")
        return f"COALESCE({value}, nextval(pg_get_serial_sequence({sequence}, {quote_literal(column.name)})))"
    if column.default is not None:
        return f"COALESCE({value}, {column.default})"
    return value


# --- declared table views --------------------------------------------------------------------------------------


def _declared_view(table: SchemaTable, spec: ViewSpec) -> tuple[View, list[Function]]:
    name = spec.view_name
    if spec.query is not None:
        definition = spec.query.strip().rstrip(";").rstrip()
        reads = query_relations(definition)
    else:
        definition = _configured_query(table, spec)
        reads = {table.physical_name}
    if spec.materialized:
        view = View(name, definition, True, reads=tuple(reads), refresh_on_migration=spec.refresh_on_migration)
        return view, []
    slug = _slug(name)
    functions, triggers = [], []
    for event, verb in (("INSERT", "insert into"), ("UPDATE", "update"), ("DELETE", "delete from")):
        function = truncate_identifier(f"{slug}_readonly_{event.lower()}_fn")
        body = f"BEGIN\n  RAISE EXCEPTION 'cannot {verb} view \"%\"', TG_TABLE_NAME;\nEND;"
        functions.append(Function(function, body))
        trigger = truncate_identifier(f"{slug}_readonly_{event.lower()}")
        triggers.append(Trigger(trigger, name, "INSTEAD OF", (event,), function))
    return View(name, definition, triggers=tuple(triggers), reads=tuple(reads)), functions


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def _configured_query(table: SchemaTable, spec: ViewSpec) -> str:
    """Sovrium's SELECT for a view declared by fields, filters and sorts (grouping sorts first)."""
    columns = ", ".join(quote_ident(f) for f in spec.fields) if spec.fields else "*"
    clauses = [f"SELECT {columns}", f"FROM {qualified(table.physical_name)}"]
    if spec.filters is not None:
        clauses.append(f"WHERE {filter_sql(spec.filters, None)}")
    order = [spec.group_by] if spec.group_by else list(spec.sorts)
    if order:
        clauses.append("ORDER BY " + ", ".join(f"{quote_ident(f)} {d.upper()}" for f, d in order))
    return " ".join(clauses)


def query_relations(query: str) -> set[str]:
    """The relations a declared view's query reads (CTE names left out), as PostgreSQL folds their names."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(query, dialect="postgres")
    ctes = {str(cte.alias_or_name) for cte in tree.find_all(exp.CTE)}
    names = set()
    for found in tree.find_all(exp.Table):
        identifier = found.this
        if not isinstance(identifier, exp.Identifier):
            continue
        name = str(identifier.name) if identifier.quoted else str(identifier.name).lower()
        if name not in ctes and (not found.db or found.db.lower() == "public"):
            names.add(name)
    return names
