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
        if before.storage_name != table.storage_name:  # also a table becoming view-backed (<t>_base), and back
            table_renames.append((before.storage_name, table.storage_name))
        column_renames.extend(_column_renames(before, table))
    junction_tables, junction_columns = _junction_renames(previous, target)
    table_renames.extend(junction_tables)
    column_renames.extend(junction_columns)
    return Renames(tables=tuple(table_renames), columns=tuple(column_renames))


def _column_renames(before: Table, after: Table) -> list[tuple[str, str, str]]:
    previous_fields = {f.id: f for f in before.fields}
    renames = []
    for field in after.fields:
        old = previous_fields.get(field.id)
        if old is None or old.name == field.name:
            continue
        if _has_column(old) and _has_column(field):
            renames.append((after.storage_name, old.name, field.name))
    return renames


def _has_column(field: Field) -> bool:
    return creates_column(field.type, field.relation_type)


def _junction_renames(previous: App, target: App) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Many-to-many junction tables, and their `<singular>_id` columns, follow their two tables' names."""
    before, after = _junctions(previous), _junctions(target)
    tables: list[tuple[str, str]] = []
    columns: list[tuple[str, str, str]] = []
    for key, (name, source_column, related_column) in after.items():
        if key not in before:
            continue
        old_name, old_source, old_related = before[key]
        if old_name != name:
            tables.append((old_name, name))
        columns.extend(
            (name, old, new) for old, new in ((old_source, source_column), (old_related, related_column)) if old != new
        )
    return tables, columns


def _junctions(app: App) -> dict[tuple[object, int], tuple[str, str, str]]:
    from sovrium_tui.catalog.compile import junction_column_name, junction_table_name

    by_name = {t.name: t for t in app.tables}
    junctions: dict[tuple[object, int], tuple[str, str, str]] = {}
    for table in app.tables:
        for field in table.fields:
            if field.type != "relationship" or field.relation_type != "many-to-many":
                continue
            related = by_name.get(field.related_table or "")
            if related is not None:
                junctions[(table.id, field.id)] = (
                    junction_table_name(table, related),
                    junction_column_name(table),
                    junction_column_name(related),
                )
    return junctions
