"""Two app snapshots compared as a person reads them: tables and fields added, dropped, renamed or changed.

Tables and fields are matched by their stable ids, so a rename is a rename. Each entry carries the database
changes (from the differ) that carry it out, with their hazards and SQL, so a reader can open what will run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sovrium_tui.planning.changes import Change
from sovrium_tui.records import record
from sovrium_tui.schema.model import physical_table_name

Kind = Literal["add", "drop", "rename", "change"]
_SAME_KEYS = ("id", "name")


@record
class SchemaChange:
    """One table or field that differs between the two snapshots, and the database changes that make it so."""

    kind: Kind
    table: str  # the table's name (the newer one when renamed)
    field: str | None  # None for the table itself; the newer name when renamed
    detail: str  # "new table (3 fields)", "renamed from notes (values kept)", "type integer → decimal"
    changes: tuple[Change, ...] = ()

    @property
    def forward(self) -> tuple[str, ...]:
        """The SQL a plan between the two versions runs for this change, in order."""
        from sovrium_tui.planning.render import forward_sql

        return tuple(statement for change in self.changes for statement in forward_sql(change))

    @property
    def hazards(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for change in self.changes:
            seen.update(dict.fromkeys(change.hazards()))
        return tuple(seen)


@dataclass(slots=True)
class _Entry:
    kind: Kind
    table: str
    field: str | None
    detail: str
    physical_table: str
    column: str | None
    old_names: tuple[str, ...] = ()  # the table's or field's name before a rename: what the differ targets
    changes: list[Change] = dataclasses.field(default_factory=list)

    def table_named(self, name: str) -> bool:
        return name == self.physical_table or (self.column is None and name in self.old_names)

    def column_named(self, name: str) -> bool:
        return self.column is not None and (name == self.column or name in self.old_names)


def schema_changes(
    older: Mapping[str, Any], newer: Mapping[str, Any], changes: Sequence[Change]
) -> tuple[SchemaChange, ...]:
    """The table and field differences from `older` to `newer`, each with the `changes` that belong to it.

    A database change that no table or field explains (a junction table, an index named in the table's
    options) is listed under its table as "other database changes", so nothing that will run is hidden.
    """
    entries = _entries(_tables(older), _tables(newer))
    for change in changes:
        _owner(entries, change).changes.append(change)
    return tuple(
        SchemaChange(entry.kind, entry.table, entry.field, entry.detail, tuple(entry.changes))
        for entry in entries
        if entry.changes or entry.kind != "change" or entry.detail
    )


def _tables(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    tables = snapshot.get("tables", [])
    return [table for table in tables if isinstance(table, dict)] if isinstance(tables, list) else []


def _fields(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    fields = table.get("fields", [])
    return [item for item in fields if isinstance(item, dict)] if isinstance(fields, list) else []


def _entries(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[_Entry]:
    older_by_id = {table.get("id"): table for table in before}
    newer_ids = {table.get("id") for table in after}
    entries: list[_Entry] = []
    for table in after:
        name = str(table.get("name", "?"))
        physical = physical_table_name(name)
        previous = older_by_id.get(table.get("id"))
        if previous is None:
            count = len(_fields(table))
            detail = f"new table ({count} field{'s' if count != 1 else ''})"
            entries.append(_Entry("add", name, None, detail, physical, None))
            continue
        old_name = str(previous.get("name", "?"))
        if old_name != name:
            detail = f"renamed from {old_name} (rows kept)"
            entries.append(_Entry("rename", name, None, detail, physical, None, (physical_table_name(old_name),)))
        other = _other_keys(previous, table, skip=("fields",))
        entries.append(_Entry("change", name, None, other, physical, None))
        entries.extend(_field_entries(name, physical, _fields(previous), _fields(table)))
    for table in before:
        if table.get("id") not in newer_ids:
            name = str(table.get("name", "?"))
            entries.append(_Entry("drop", name, None, "table dropped with its rows", physical_table_name(name), None))
    return entries


def _field_entries(
    table: str, physical: str, before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> list[_Entry]:
    older_by_id = {item.get("id"): item for item in before}
    newer_ids = {item.get("id") for item in after}
    entries = []
    for item in after:
        name = str(item.get("name", "?"))
        previous = older_by_id.get(item.get("id"))
        if previous is None:
            entries.append(_Entry("add", table, name, f"new field ({item.get('type', '?')})", physical, name))
            continue
        old_name = str(previous.get("name", "?"))
        if old_name != name:
            detail = f"renamed from {old_name} (values kept)"
            entries.append(_Entry("rename", table, name, detail, physical, name, (old_name,)))
        changed = _other_keys(previous, item)
        if changed:
            entries.append(_Entry("change", table, name, changed, physical, name))
    for item in before:
        if item.get("id") not in newer_ids:
            name = str(item.get("name", "?"))
            detail = f"field dropped with its values ({item.get('type', '?')})"
            entries.append(_Entry("drop", table, name, detail, physical, name))
    return entries


def _other_keys(before: Mapping[str, Any], after: Mapping[str, Any], *, skip: tuple[str, ...] = ()) -> str:
    """What else differs, as `type integer → decimal · required → yes · options +won -lost`."""
    parts = []
    for key in sorted(set(before) | set(after)):
        if key in _SAME_KEYS or key in skip or before.get(key) == after.get(key):
            continue
        old, new = before.get(key), after.get(key)
        if isinstance(old, list) and isinstance(new, list) and all(isinstance(v, str | int) for v in old + new):
            added = [str(v) for v in new if v not in old]
            removed = [str(v) for v in old if v not in new]
            marks = [f"+{v}" for v in added] + [f"-{v}" for v in removed]
            parts.append(f"{key} {' '.join(marks) or 'reordered'}")
        elif isinstance(old, list | dict) or isinstance(new, list | dict):
            parts.append(f"{key} changed")
        else:
            parts.append(f"{key} {_value(old)} → {_value(new)}")
    return " · ".join(parts)


def _value(value: object) -> str:
    if value is None:
        return "(none)"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _owner(entries: list[_Entry], change: Change) -> _Entry:
    """The entry a database change belongs to: its field, else its table, else a new "other" entry."""
    target = change.target.removesuffix("()")
    table, _, rest = target.partition(".")
    if not rest:  # a table, or a function named after its table (set_invoices_created_at)
        for entry in entries:
            names = (entry.physical_table, *entry.old_names) if entry.field is None else ()
            if entry.table_named(table) or any(f"_{name}_" in target for name in names):
                return entry
    same_table = [entry for entry in entries if entry.table_named(table) or entry.physical_table == table]
    exact = [entry for entry in same_table if entry.column_named(rest)]
    if exact:
        return exact[0]
    # A constraint or index named after its field: check_employee_count_range is employee_count's (the longest
    # field name it contains wins, so it is not count's).
    named = [entry for entry in same_table if entry.column and entry.column in rest]
    if named:
        return max(named, key=lambda entry: len(entry.column or ""))
    table_entry = next((entry for entry in same_table if entry.field is None), None)
    if table_entry is not None:
        return table_entry
    other = _Entry("change", table, None, "other database changes", table, None)
    entries.append(other)
    return other
