"""Renames from stable ids: a table or field keeping its `id` under a new name is renamed, not rebuilt."""

from __future__ import annotations

from collections.abc import Mapping

from sovrium_tui.planning.diff import Renames
from sovrium_tui.records import record
from sovrium_tui.schema.field_types import creates_column
from sovrium_tui.schema.model import App, Field


@record
class Naming:
    """What renames are found from: by id, each table's storage name and its fields' names (with whether each
    has a column), and the many-to-many junction tables. Small plain data: it travels between processes."""

    tables: Mapping[int | str, tuple[str, Mapping[int, tuple[str, bool]]]]
    junctions: Mapping[tuple[int | str, int], tuple[str, str, str]]


def naming_of(app: App) -> Naming:
    tables = {
        table.id: (table.storage_name, {field.id: (field.name, _has_column(field)) for field in table.fields})
        for table in app.tables
    }
    return Naming(tables, _junctions(app))


def renames_between(previous: App | Naming, target: App) -> Renames:
    """Table renames (old, new) and column renames (new table, old, new), by physical name."""
    before = previous if isinstance(previous, Naming) else naming_of(previous)
    after = naming_of(target)
    table_renames: list[tuple[str, str]] = []
    column_renames: list[tuple[str, str, str]] = []
    for table_id, (storage_name, fields) in after.tables.items():
        earlier = before.tables.get(table_id)
        if earlier is None:
            continue
        old_storage_name, old_fields = earlier
        if old_storage_name != storage_name:  # also a table becoming view-backed (<t>_base), and back
            table_renames.append((old_storage_name, storage_name))
        for field_id, (name, has_column) in fields.items():
            old = old_fields.get(field_id)
            if old is not None and old[0] != name and old[1] and has_column:
                column_renames.append((storage_name, old[0], name))
    junction_tables, junction_columns = _junction_renames(before.junctions, after.junctions)
    table_renames.extend(junction_tables)
    column_renames.extend(junction_columns)
    return Renames(tables=tuple(table_renames), columns=tuple(column_renames))


def _has_column(field: Field) -> bool:
    return creates_column(field.type, field.relation_type)


_Junctions = Mapping[tuple[int | str, int], tuple[str, str, str]]


def _junction_renames(
    before: _Junctions, after: _Junctions
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Many-to-many junction tables, and their `<singular>_id` columns, follow their two tables' names."""
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


def _junctions(app: App) -> dict[tuple[int | str, int], tuple[str, str, str]]:
    from sovrium_tui.catalog.compile import junction_column_name, junction_table_name

    by_name = {t.name: t for t in app.tables}
    junctions: dict[tuple[int | str, int], tuple[str, str, str]] = {}
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
