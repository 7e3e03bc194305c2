"""Renames from stable ids: a table or field keeping its `id` under a new name is renamed, not rebuilt."""

from __future__ import annotations

from sovrium_tui.planning.diff import Renames
from sovrium_tui.schema.field_types import creates_column
from sovrium_tui.schema.model import App, Field, Table


def renames_between(previous: App, target: App) -> Renames:
    """Table renames (old, new) and column renames (new table, old, new), by physical name."""
    previous_tables = {table.id: table for table in previous.tables}
    table_renames: list[tuple[str, str]] = []
    column_renames: list[tuple[str, str, str]] = []
    for table in target.tables:
        before = previous_tables.get(table.id)
        if before is None:
            continue
        if before.physical_name != table.physical_name:
            table_renames.append((before.physical_name, table.physical_name))
        column_renames.extend(_column_renames(before, table))
    table_renames.extend(_junction_renames(previous, target))
    return Renames(tables=tuple(table_renames), columns=tuple(column_renames))


def _column_renames(before: Table, after: Table) -> list[tuple[str, str, str]]:
    previous_fields = {f.id: f for f in before.fields}
    renames = []
    for field in after.fields:
        old = previous_fields.get(field.id)
        if old is None or old.name == field.name:
            continue
        if _has_column(old) and _has_column(field):
            renames.append((after.physical_name, old.name, field.name))
    return renames


def _has_column(field: Field) -> bool:
    return creates_column(field.type, field.relation_type)


def _junction_renames(previous: App, target: App) -> list[tuple[str, str]]:
    """Many-to-many junction tables follow their two tables' names."""
    from sovrium_tui.catalog.compile import junction_table_name

    before = _junctions(previous, junction_table_name)
    after = _junctions(target, junction_table_name)
    return [(before[key], name) for key, name in after.items() if key in before and before[key] != name]


def _junctions(app: App, name_of: object) -> dict[tuple[object, int], str]:
    by_name = {t.name: t for t in app.tables}
    junctions: dict[tuple[object, int], str] = {}
    for table in app.tables:
        for field in table.fields:
            if field.type != "relationship" or field.relation_type != "many-to-many":
                continue
            related = by_name.get(field.related_table or "")
            if related is not None:
                junctions[(table.id, field.id)] = name_of(table, related)  # type: ignore[operator]
    return junctions
