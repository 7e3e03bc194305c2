"""The differ: current catalog + desired catalog + renames → ordered changes. Pure: no I/O.

Order (each phase's mirror is the reverse plan's order, so reverses are valid too):
drop views → renames (everything after speaks the new names) → drop foreign keys → drop other constraints,
indexes, triggers → drop tables → drop columns →
create functions → create tables → add columns → alter columns → add constraints, indexes, triggers →
add foreign keys → create views → refresh materialized views → drop functions.

A view that reads a table (or view) whose columns or name change is dropped first and created again last, since
PostgreSQL keeps a view's column list as it was when the view was made and refuses to change what a view uses.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from sovrium_tui.catalog.formula import trigger_function_name as formula_trigger_function
from sovrium_tui.catalog.formula import trigger_name as formula_trigger
from sovrium_tui.catalog.model import Catalog, Column, Constraint, Function, Index, Policy, Table, Trigger, View
from sovrium_tui.identifiers import quote_ident, serial_sequence_name
from sovrium_tui.pgparse import unqualified
from sovrium_tui.planning.casts import type_change
from sovrium_tui.planning.changes import (
    AddColumn,
    AddConstraint,
    AlterColumnType,
    AttachSequence,
    Change,
    ComputeColumns,
    CreateAuthUsers,
    CreateFunction,
    CreateIndex,
    CreatePolicy,
    CreateTable,
    CreateTrigger,
    CreateView,
    DetachSequence,
    DropColumn,
    DropConstraint,
    DropFunction,
    DropIndex,
    DropNotNull,
    DropPolicy,
    DropTable,
    DropTrigger,
    DropView,
    RefreshView,
    RenameColumn,
    RenameConstraint,
    RenameFunction,
    RenameIndex,
    RenameTable,
    RenameTrigger,
    ReplaceFunction,
    SetDefault,
    SetNotNull,
    SetRowSecurity,
)
from sovrium_tui.planning.ddl import nextval_sql
from sovrium_tui.records import record

_Named = Constraint | Index | Trigger | Function


@record
class Renames:
    """Physical renames known from stable ids: tables (old, new) and columns (new table name, old, new)."""

    tables: tuple[tuple[str, str], ...] = ()
    columns: tuple[tuple[str, str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tables or self.columns)


NO_RENAMES = Renames()


def kept_row_security(current: Catalog, desired: Catalog, renames: Renames = NO_RENAMES) -> Catalog:
    """`desired` with the row-level security and policies `current` has on the same tables.

    Sovrium declares neither, so they are set by hand: drift until accepted, and then kept by every plan and
    checked by none (only a plan reverting drift, made without this, removes them).
    """
    renamed = dict(renames.tables)
    columns: dict[str, dict[str, str]] = {}
    for table_name, old, new in renames.columns:
        columns.setdefault(table_name, {})[old] = new
    secured = {
        name: replace(
            t,
            columns=tuple(replace(c, name=columns.get(name, {}).get(c.name, c.name)) for c in t.columns),
            policies=tuple(renamed_policy(p, columns.get(name, {})) for p in t.policies),
        )
        for t in current.tables
        if t.row_security or t.force_row_security or t.policies
        for name in (renamed.get(t.name, t.name),)
    }
    if not secured and not any(t.row_security or t.force_row_security or t.policies for t in desired.tables):
        return desired
    tables = tuple(
        replace(
            table,
            row_security=found.row_security if found else False,
            force_row_security=found.force_row_security if found else False,
            policies=_reading_kept_columns(found, table) if found else (),
        )
        for table in desired.tables
        for found in (secured.get(table.name),)
    )
    return replace(desired, tables=tables)


def _reading_kept_columns(found: Table, desired: Table) -> tuple[Policy, ...]:
    """The policies of `found` that read no column `desired` drops (PostgreSQL refuses to drop a column a policy
    reads: such a policy goes first)."""
    gone = {c.name for c in found.columns} - {c.name for c in desired.columns}
    return tuple(p for p in found.policies if not reads_any(p, gone))


@dataclass
class _Phases:
    prerequisites: list[Change] = field(default_factory=list)
    drop_views: list[Change] = field(default_factory=list)
    # Undone once this plan's drops (of columns, triggers, functions) and changes of trigger functions are undone.
    compute_back: list[Change] = field(default_factory=list)
    drop_foreign_keys: list[Change] = field(default_factory=list)
    drop_objects: list[Change] = field(default_factory=list)
    renames: list[Change] = field(default_factory=list)
    drop_tables: list[Change] = field(default_factory=list)
    drop_columns: list[Change] = field(default_factory=list)
    create_functions: list[Change] = field(default_factory=list)
    create_tables: list[Change] = field(default_factory=list)
    add_columns: list[Change] = field(default_factory=list)
    alter_columns: list[Change] = field(default_factory=list)
    # Generated columns come after every type change: PostgreSQL refuses to change the type of a column a
    # generation expression reads, and the expression may need the new type.
    add_generated_columns: list[Change] = field(default_factory=list)
    add_objects: list[Change] = field(default_factory=list)
    add_foreign_keys: list[Change] = field(default_factory=list)
    compute_columns: list[Change] = field(default_factory=list)  # once every column and trigger is there
    create_views: list[Change] = field(default_factory=list)
    refresh_views: list[Change] = field(default_factory=list)
    drop_functions: list[Change] = field(default_factory=list)
    # Columns dropped and added again (a type change without a conversion, a computed column remade) or changing
    # type, by table: foreign keys referencing them are made again around them.
    rebuilt_columns: dict[str, set[str]] = field(default_factory=dict)
    # Columns of kept tables that stop being a key a foreign key can reference (dropped, or their primary key or
    # unique rule dropped), and ones that become one (added, or a key added on them), by table: a foreign key
    # referencing the first must go before them, one referencing the second can come only after them.
    keys_going: dict[str, set[str]] = field(default_factory=dict)
    keys_coming: dict[str, set[str]] = field(default_factory=dict)
    # For each table (by its new name), its columns' names before this plan's renames → after them.
    renamed_columns: dict[str, dict[str, str]] = field(default_factory=dict)

    def ordered(self) -> list[Change]:
        return [
            *self.prerequisites,
            *self.drop_views,
            *self.renames,
            *self.compute_back,
            *self.drop_foreign_keys,
            *self.drop_objects,
            *self.drop_tables,
            *self.drop_columns,
            *self.create_functions,
            *self.create_tables,
            *self.add_columns,
            *self.alter_columns,
            *self.add_generated_columns,
            *self.add_objects,
            *self.add_foreign_keys,
            *self.compute_columns,
            *self.create_views,
            *self.refresh_views,
            *self.drop_functions,
        ]

    def note_changing_keys(self) -> None:
        """Fill `keys_going` and `keys_coming` from the kept tables' changes."""
        going = (*self.drop_columns, *self.drop_objects)
        coming = (*self.add_columns, *self.add_generated_columns, *self.add_objects)
        for changes, keys in ((going, self.keys_going), (coming, self.keys_coming)):
            for change in changes:
                found = _key_columns(change)
                if found is not None:
                    keys.setdefault(found[0], set()).update(found[1])

    def note_column_renames(self) -> None:
        """Fill `renamed_columns` from the renames (a column renamed twice, as a swap does through a free name,
        maps from its first name to its last)."""
        first_names: dict[str, dict[str, str]] = {}  # table -> column's name now -> its name before
        for change in self.renames:
            if isinstance(change, RenameColumn):
                table = first_names.setdefault(change.table, {})
                table[change.new] = table.pop(change.old, change.old)
        self.renamed_columns = {table: {v: k for k, v in names.items()} for table, names in first_names.items()}

    def touched_relations(self) -> set[str]:
        """Tables whose columns or names change: views reading them are made again."""
        touched: set[str] = set()
        for change in (*self.renames, *self.drop_tables, *self.drop_columns, *self.create_tables):
            match change:
                case RenameTable(old, new):
                    touched |= {old, new}
                case RenameConstraint() | RenameIndex() | RenameTrigger() | RenameFunction():
                    continue
                case DropTable(table) | CreateTable(table):
                    touched.add(table.name)
                case _:
                    touched.add(change.target.split(".")[0])
        for change in (*self.add_columns, *self.alter_columns, *self.add_generated_columns):
            touched.add(change.target.split(".")[0])
        return touched


def _key_columns(change: Change) -> tuple[str, tuple[str, ...]] | None:
    """The table and columns of a column, primary key or unique rule (constraint or index) a change adds or drops."""
    match change:
        case DropColumn(table, column) | AddColumn(table, column):
            return table, (column.name,)
        case DropConstraint(table, Constraint(kind="primary_key" | "unique", columns=columns)) | AddConstraint(
            table, Constraint(kind="primary_key" | "unique", columns=columns)
        ):
            return table, columns
        case DropIndex(Index(table=table, unique=True, keys=keys)) | CreateIndex(
            Index(table=table, unique=True, keys=keys)
        ):
            return table, keys
    return None


def diff(current: Catalog, desired: Catalog, renames: Renames = NO_RENAMES) -> list[Change]:
    """The changes that turn `current` into `desired`, in an order PostgreSQL accepts."""
    phases = _Phases()
    current = _apply_renames(current, desired, renames, phases.renames)
    current = _match_derived_renames(current, desired, phases.renames)
    phases.note_column_renames()

    kept = [(table, desired.table(table.name)) for table in current.tables]
    for table, wanted in kept:
        if wanted is not None and wanted != table:  # an equal table has nothing to diff (most, in a big app)
            _diff_table(table, wanted, phases)
    for change in phases.alter_columns:
        if isinstance(change, AlterColumnType):  # a key's two sides must agree on the type at every step
            phases.rebuilt_columns.setdefault(change.table, set()).add(change.column)
    phases.note_changing_keys()
    if phases.rebuilt_columns or phases.keys_going:
        _remake_foreign_keys_to_rebuilt_columns(kept, phases)

    dropped = [t for t in current.tables if desired.table(t.name) is None]
    created = [t for t in desired.tables if current.table(t.name) is None]
    _drop_tables(dropped, phases)
    _create_tables(created, phases)
    _diff_functions(current.functions, desired.functions, phases)
    _recompute_changed_formulas(kept, current.functions, desired.functions, phases)
    if desired.auth_users == "present" and current.auth_users != "present":
        phases.prerequisites.append(CreateAuthUsers(create_schema=current.auth_users == "absent"))
    _diff_views(current.views, desired.views, phases, renamed_tables=_renamed(phases))
    if any(phases.ordered()):
        made = {c.view.name for c in phases.create_views if isinstance(c, CreateView)}
        phases.refresh_views += [
            RefreshView(v) for v in desired.views if v.materialized and v.refresh_on_migration and v.name not in made
        ]
    return phases.ordered()


def _renamed(phases: _Phases) -> set[str]:
    return {name for c in phases.renames if isinstance(c, RenameTable) for name in (c.old, c.new)}


# --- views -------------------------------------------------------------------------------------------------


def _diff_views(current: Sequence[View], desired: Sequence[View], phases: _Phases, *, renamed_tables: set[str]) -> None:
    """Drop views that go or change (dependents first), create new and changed ones last (dependencies first)."""
    from sovrium_tui.planning.ddl import view_creation_order

    wanted = {v.name: v for v in desired}
    existing = {v.name: v for v in current}
    changed = {name for name, view in existing.items() if wanted.get(name) != view}
    touched = phases.touched_relations() | renamed_tables | changed
    rebuilt: set[str] = set()
    grew = True
    while grew:  # views reading a view that is made again are made again too
        grew = False
        for name, view in existing.items():
            if name not in changed and name not in rebuilt and set(view.reads) & (touched | rebuilt):
                rebuilt.add(name)
                grew = True
    dropped = [v for v in view_creation_order(current) if v.name in changed | rebuilt]
    phases.drop_views += [DropView(v, rebuild=v.name in rebuilt) for v in reversed(dropped)]
    for view in view_creation_order(desired):
        if view.name not in existing or view.name in changed | rebuilt:
            phases.create_views.append(CreateView(view, rebuild=view.name in rebuilt))


# --- tables ------------------------------------------------------------------------------------------


def _drop_tables(tables: Sequence[Table], phases: _Phases) -> None:
    """Dropped tables, those referencing others first. A foreign key that closes a cycle, or that references a
    column another table rebuilds, retypes, drops or drops the key of in this plan (which PostgreSQL refuses while
    the foreign key is there), is dropped on its own before, and the table dropped (and made again by its reverse)
    without it."""
    order, cyclic = _dependency_order(tables)
    for table in reversed(order):
        aside = [*cyclic.get(table.name, ())]
        aside += [
            c
            for c in table.constraints
            if c not in aside and (_references_rebuilt(c, phases) or _references(c, phases.keys_going))
        ]
        for constraint in aside:
            phases.drop_foreign_keys.append(DropConstraint(table.name, constraint))
        phases.drop_tables.append(DropTable(_without(table, aside)))


def _create_tables(tables: Sequence[Table], phases: _Phases) -> None:
    """New tables, those referenced first. A foreign key that closes a cycle, or that references a column another
    table rebuilds, retypes, adds or adds a key on in this plan (not there yet, not of its type, or not a key when
    the table is made), is added on its own after everything else."""
    order, cyclic = _dependency_order(tables)
    for table in order:
        later = [*cyclic.get(table.name, ())]
        later += [
            c
            for c in table.constraints
            if c not in later and (_references_rebuilt(c, phases) or _references(c, phases.keys_coming))
        ]
        phases.create_tables.append(CreateTable(_without(table, later)))
        for constraint in later:
            phases.add_foreign_keys.append(AddConstraint(table.name, constraint))


def _without(table: Table, constraints: Iterable[Constraint]) -> Table:
    removed = {c.name for c in constraints}
    if not removed:
        return table
    return replace(table, constraints=tuple(c for c in table.constraints if c.name not in removed))


def _dependency_order(tables: Sequence[Table]) -> tuple[list[Table], dict[str, list[Constraint]]]:
    """Tables with the ones they reference first; foreign keys that close a cycle are set aside."""
    by_name = {t.name: t for t in tables}
    order: list[Table] = []
    state: dict[str, str] = {}
    deferred: dict[str, list[Constraint]] = {}

    def visit(table: Table) -> None:
        state[table.name] = "visiting"
        for constraint in table.constraints:
            target = constraint.references
            if constraint.kind != "foreign_key" or target is None or target == table.name:
                continue
            if target not in by_name:
                continue
            if state.get(target) == "visiting":
                deferred.setdefault(table.name, []).append(constraint)
            elif target not in state:
                visit(by_name[target])
        state[table.name] = "done"
        order.append(table)

    for table in sorted(tables, key=lambda t: t.name):
        if table.name not in state:
            visit(table)
    return order, deferred


def _diff_table(current: Table, desired: Table, phases: _Phases) -> None:
    name = desired.name
    rebuilt = _rebuilt_computed_columns(current, desired)
    # Computed columns go first and come last: they may read the other columns being dropped or added.
    renamed_columns = phases.renamed_columns.get(name, {})
    dropped_before, added_before = len(phases.drop_columns), len(phases.add_columns)
    altered_before = len(phases.alter_columns)
    for column in sorted(current.columns, key=lambda c: not c.computed):
        if desired.column(column.name) is None or column.name in rebuilt:
            phases.drop_columns.append(DropColumn(name, column, _written_now(column.generated, renamed_columns)))
    for column in desired.columns:  # generated ones go to their own phase, after every type change
        existing = current.column(column.name)
        if existing is None or column.name in rebuilt:
            adds = phases.add_columns if column.generated is None else phases.add_generated_columns
            adds.append(AddColumn(name, column))
        elif existing != column:
            _diff_column(name, existing, column, phases)
    _quiet_fills(current, desired, phases, altered_before)
    filled = [c.column.name for c in phases.add_columns[added_before:] if isinstance(c, AddColumn) and c.column.derived]
    if filled:
        quiet = _quiet_triggers(desired)
        phases.compute_columns.append(ComputeColumns(name, tuple(filled), quiet, empty_only=True))
    new_columns = {c.name for c in desired.columns if current.column(c.name) is None}
    rebuilt_columns = {  # dropped above or by _diff_column, and added again
        change.column.name
        for change in phases.drop_columns[dropped_before:]
        if isinstance(change, DropColumn) and desired.column(change.column.name) is not None
    }
    if rebuilt_columns:
        phases.rebuilt_columns[name] = rebuilt_columns
    for current_items, desired_items in (
        (current.constraints, desired.constraints),
        (current.indexes, desired.indexes),
        (current.triggers, desired.triggers),
    ):
        _diff_named(
            current_items,
            desired_items,
            phases,
            name,
            new_columns,
            renamed_columns=renamed_columns,
            rebuilt_columns=rebuilt_columns,
        )
    _diff_row_security(current, desired, phases)


def _quiet_fills(current: Table, desired: Table, phases: _Phases, altered_before: int) -> None:
    """NULLs a step fills with a field's new default are filled with the table's UPDATE triggers quiet (but its
    formula trigger): those this plan leaves alone, which are there while columns change."""
    alter = phases.alter_columns
    fills = {
        i: change
        for i, change in enumerate(alter[altered_before:], start=altered_before)
        if isinstance(change, SetNotNull) and change.backfill
    }
    if not fills:
        return
    unchanged = set(desired.triggers)
    quiet = _quiet_triggers(replace(current, triggers=tuple(t for t in current.triggers if t in unchanged)))
    for i, change in fills.items():
        alter[i] = replace(change, quiet=quiet)


def _quiet_triggers(table: Table) -> tuple[str, ...]:
    """The table's triggers that fire on UPDATE but its formula trigger: disabled while the plan has the formula
    trigger compute the rows there, which is no write to them."""
    computing = formula_trigger(table.name)
    return tuple(
        t.name
        for t in table.triggers
        if t.enabled and t.timing != "INSTEAD OF" and "UPDATE" in t.events and t.name != computing
    )


def _recompute_changed_formulas(
    kept: Sequence[tuple[Table, Table | None]],
    current: Sequence[Function],
    desired: Sequence[Function],
    phases: _Phases,
) -> None:
    """Formulas a trigger computes that change on kept columns, or that the plan drops. The trigger computes only
    rows written later: a changed formula is computed again for every row, and a step before the drops and the
    function's change computes the rows in its reverse, at the point of a rollback where the earlier formulas
    (and a dropped column, empty) are back. Expressions are compared as PostgreSQL prints them, in the column
    names after this plan's renames (a renamed field a formula reads changes nothing)."""
    bodies = {f.name: f.body for f in current}
    wanted_bodies = {f.name: f.body for f in desired}
    added = {(c.table, c.column.name) for c in phases.add_columns if isinstance(c, AddColumn)}
    for table, wanted in kept:
        if wanted is None:
            continue
        function = formula_trigger_function(wanted.name)
        before, after = bodies.get(function), wanted_bodies.get(function)
        if before is None or before == after:
            continue
        dropped = [
            c.column.name
            for c in phases.drop_columns
            if isinstance(c, DropColumn) and c.table == wanted.name and c.column.derived
        ]
        changed = [] if after is None else _changed_formulas(before, after, wanted, added, phases)
        if changed:
            now = [c for c in phases.compute_columns if isinstance(c, ComputeColumns) and c.table == wanted.name]
            filled = [name for step in now for name in step.columns]
            phases.compute_columns = [c for c in phases.compute_columns if c not in now]
            every = tuple(dict.fromkeys([*changed, *filled]))
            phases.compute_columns.append(ComputeColumns(wanted.name, every, _quiet_triggers(wanted)))
        if changed or dropped:
            quiet = _quiet_triggers(table)  # as they are then: this plan's renames done, its drops undone
            back = tuple(dict.fromkeys([*changed, *dropped]))
            phases.compute_back.append(ComputeColumns(wanted.name, back, quiet, on_rollback=True))


def _changed_formulas(
    before: str, after: str, wanted: Table, added: set[tuple[str, str]], phases: _Phases
) -> list[str]:
    """The kept formula columns whose expression in the function body `after` differs from the one in `before`."""
    renamed = phases.renamed_columns.get(wanted.name, {})
    first_names = {new: old for old, new in renamed.items()}
    changed = []
    for column in wanted.columns:
        if not column.derived or (wanted.name, column.name) in added:
            continue
        now = _formula_line(after, column.name)
        earlier = _formula_line(before, first_names.get(column.name, column.name))
        if now is None or earlier is None or now != substitute_identifiers(earlier, dict(renamed)):
            changed.append(column.name)
    return changed


def _formula_line(body: str, column: str) -> str | None:
    """The expression a formula trigger's body sets `column` to (`  NEW."x" := (…);`), as PostgreSQL prints it
    over the row's columns; None when the body does not set it (or it cannot be read)."""
    opening = f"  NEW.{quote_ident(column)} := ("
    for line in body.splitlines():
        if line.startswith(opening) and line.endswith(");"):
            return unqualified(line[len(opening) : -2], "new")
    return None


def _diff_row_security(current: Table, desired: Table, phases: _Phases) -> None:
    """Policies go before the columns they read (drop) and after them (create); switching row-level security on
    or off comes with them."""
    wanted = {p.name: p for p in desired.policies}
    existing = {p.name: p for p in current.policies}
    for name, policy in existing.items():
        if wanted.get(name) != policy:
            phases.drop_objects.append(DropPolicy(desired.name, policy))
    for name, policy in wanted.items():
        if existing.get(name) != policy:
            phases.add_objects.append(CreatePolicy(desired.name, policy))
    before = (current.row_security, current.force_row_security)
    after = (desired.row_security, desired.force_row_security)
    if before != after:
        phases.add_objects.append(SetRowSecurity(desired.name, before, after))


def _written_now(source: str | None, renamed_columns: Mapping[str, str]) -> str | None:
    """`source` (SQL kept as written: a generated column's expression, a hand-written rule or predicate) in the
    columns' names after this plan's renames, None when unchanged: what undoing a drop must write, as it runs
    before the renames are undone, while the object's comment keeps the source text."""
    if source is None or not renamed_columns:
        return None
    written = substitute_identifiers(source, dict(renamed_columns))
    return written if written != source else None


def _rebuilt_computed_columns(current: Table, desired: Table) -> set[str]:
    """Computed columns dropped and added again: a changed expression or kind (PostgreSQL 15 cannot alter a
    generation expression), and every generated column of a table where another column changes type (PostgreSQL
    refuses to change the type of a column a generation expression reads)."""
    rebuilt = set()
    type_changes = False
    for column in desired.columns:
        before = current.column(column.name)
        if before is None:
            continue
        if (before.generated, before.derived) != (column.generated, column.derived):
            rebuilt.add(column.name)
        elif before.type != column.type:
            type_changes = True
    if type_changes:
        rebuilt |= {c.name for c in desired.columns if c.generated is not None and current.column(c.name) is not None}
    # A generated column reading a column dropped here, or one added (its source names a column renamed by hand,
    # which a plan reverting that drift drops and adds again), or one dropped and added again: PostgreSQL refuses
    # to drop a column a generation expression reads.
    coming_or_going = {c.name for c in current.columns if desired.column(c.name) is None}
    for column in desired.columns:  # added, or dropped and added again (see _rebuilds)
        before = current.column(column.name)
        if before is None or _rebuilds(desired.name, before, column):
            coming_or_going.add(column.name)
    if coming_or_going:
        for column in desired.columns:
            before = current.column(column.name)
            if (
                before is not None
                and before.generated
                and not coming_or_going.isdisjoint(_identifiers(before.generated))
            ):
                rebuilt.add(column.name)
    return rebuilt


def _rebuilds(table: str, current: Column, desired: Column) -> bool:
    """Whether a column is dropped and added again, its values lost (the steps say so): some types have no
    conversion between them, and a sequence is attached or detached in place (see _diff_column) only where the
    column's type stays an integer (a serial key turned uuid gets new values, as a new column would)."""
    if current.serial != desired.serial and not {current.type, desired.type} <= _SEQUENCE_TYPES:
        return True
    return current.type != desired.type and type_change(table, current.name, current.type, desired.type) is None


_SEQUENCE_TYPES = frozenset({"integer", "bigint", "smallint"})


def _diff_column(table: str, current: Column, desired: Column, phases: _Phases) -> None:
    if _rebuilds(table, current, desired):
        phases.drop_columns.append(DropColumn(table, current))
        phases.add_columns.append(AddColumn(table, desired))
        return
    type_changes = current.type != desired.type
    conversion = type_change(table, current.name, current.type, desired.type) if type_changes else None
    alter = phases.alter_columns
    # A serial column changing type (a key made bigserial) gets a sequence of its new type, numbering on.
    resequenced = current.serial and desired.serial and type_changes
    if current.serial and (resequenced or not desired.serial):  # first, while the column still has its type
        sequence = current.sequence or serial_sequence_name(table, current.name)
        alter.append(DetachSequence(table, current.name, current.type, sequence, current.identity))
    default_changes = current.default != desired.default
    if type_changes and default_changes and current.default is not None:
        alter.append(SetDefault(table, current.name, current.default, None))
    if conversion is not None:
        alter.append(conversion)
    if default_changes:
        before = None if type_changes and current.default is not None else current.default
        if before != desired.default:
            alter.append(SetDefault(table, current.name, before, desired.default))
    fill = desired.default
    if desired.serial and (resequenced or not current.serial):  # last: the column has its type, no other default
        sequence = serial_sequence_name(table, desired.name)
        alter.append(AttachSequence(table, desired.name, desired.type, sequence))
        fill = nextval_sql(sequence)  # the empty ones numbered, as SERIAL numbers rows
    if current.nullable and not desired.nullable:
        alter.append(SetNotNull(table, current.name, fill))
    elif not current.nullable and desired.nullable:
        alter.append(DropNotNull(table, current.name))


def _diff_named(
    current: Sequence[Constraint] | Sequence[Index] | Sequence[Trigger],
    desired: Sequence[Constraint] | Sequence[Index] | Sequence[Trigger],
    phases: _Phases,
    table: str,
    new_columns: set[str],
    *,
    renamed_columns: Mapping[str, str],
    rebuilt_columns: set[str],
) -> None:
    """Drop what changed and add it as wanted; a constraint or index on a column dropped and added again goes with
    the column (PostgreSQL drops it with the column), so it is dropped before and added after, as written."""
    wanted = {item.name: item for item in desired}
    existing = {item.name: item for item in current}
    for name, item in existing.items():
        if wanted.get(name) != item or reads_any(item, rebuilt_columns):
            _drop_object(item, table, phases, renamed_columns)
    for name, item in wanted.items():
        before = existing.get(name)
        if before != item or (before is not None and reads_any(before, rebuilt_columns)):
            _add_object(item, table, phases, narrowing=_narrows(before, item, new_columns))


_IDENTIFIER = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')


def reads_any(item: Constraint | Index | Trigger | Policy, columns: set[str]) -> bool:
    """Whether a constraint, index or policy involves one of `columns` (a trigger outlives a column: never)."""
    if not columns:
        return False
    if isinstance(item, Constraint):
        return not columns.isdisjoint(item.columns)
    if isinstance(item, Index):
        expressions = (*item.keys, item.predicate or "")
        return any(not columns.isdisjoint(_identifiers(text)) for text in expressions)
    if isinstance(item, Policy):
        return any(not columns.isdisjoint(_identifiers(text or "")) for text in (item.using, item.check))
    return False


def _identifiers(sql: str) -> set[str]:
    """The names an SQL fragment holds (quoted ones unquoted; keywords and calls included, harmlessly)."""
    return {quoted.replace('""', '"') if quoted else plain for quoted, plain in _IDENTIFIER.findall(sql)}


def _remake_foreign_keys_to_rebuilt_columns(kept: Sequence[tuple[Table, Table | None]], phases: _Phases) -> None:
    """A foreign key referencing a column dropped and added again, or changing type, or whose key is dropped (to
    be made again, or replaced by another unique rule), would make that fail (it depends on the column and its
    key's index, and both sides must keep one type): it is dropped before and added again after, from whichever
    table it is on."""
    dropped = {(c.table, c.constraint.name) for c in phases.drop_foreign_keys if isinstance(c, DropConstraint)}
    added = {(c.table, c.constraint.name) for c in phases.add_foreign_keys if isinstance(c, AddConstraint)}
    for table, wanted in kept:
        if wanted is None:
            continue  # a table the plan drops: its keys are set aside by `_drop_tables`
        for constraint in table.constraints:
            if (table.name, constraint.name) in dropped or not (
                _references_rebuilt(constraint, phases) or _references(constraint, phases.keys_going)
            ):
                continue
            phases.drop_foreign_keys.append(DropConstraint(table.name, constraint))
            again = wanted.constraint(constraint.name)
            if again is not None and (table.name, constraint.name) not in added:
                phases.add_foreign_keys.append(AddConstraint(table.name, again))


def _references_rebuilt(constraint: Constraint, phases: _Phases) -> bool:
    """Whether a foreign key references a column the plan drops and adds again, or changes the type of."""
    return _references(constraint, phases.rebuilt_columns)


def _references(constraint: Constraint, columns_by_table: Mapping[str, set[str]]) -> bool:
    """Whether a foreign key references one of `columns_by_table[its referenced table]`."""
    columns = columns_by_table.get(constraint.references or "")
    if constraint.kind != "foreign_key" or not columns:
        return False
    match = _REFERENCES.match(constraint.definition)
    return not columns.isdisjoint(_identifiers(match.group(3)) if match else set())


def _narrows(
    before: Constraint | Index | Trigger | None, item: Constraint | Index | Trigger, new_columns: set[str]
) -> bool:
    """Whether a CHECK may reject existing rows: it tightens the old one, or is new on columns that already exist."""
    if not isinstance(item, Constraint) or item.kind != "check":
        return False
    if isinstance(before, Constraint) and before.kind == "check":
        return tightens(before.definition, item.definition)
    return not (item.columns and set(item.columns) <= new_columns)


_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_BOUND = re.compile(r"(>=|<=|>|<)\s*(?:\((-?\d+(?:\.\d+)?)\)|'(-?\d+(?:\.\d+)?)'|(-?\d+(?:\.\d+)?))")


def tightens(before: str, after: str) -> bool:
    """Whether a changed CHECK may reject rows the old one accepted (when unsure: yes).

    Recognises Sovrium's rules: option lists (`… = ANY (ARRAY['a'::text, …])`, `<@ ARRAY[…]`) that only gain
    options, and numeric bounds (`>= n`, `<= n`) that only move outwards.
    """
    skeleton_before, skeleton_after = _skeleton(before), _skeleton(after)
    if skeleton_before != skeleton_after:
        return True
    options_before = set(_LITERAL.findall(_BOUND.sub("", before)))
    options_after = set(_LITERAL.findall(_BOUND.sub("", after)))
    if not options_before <= options_after:
        return True
    bounds_before, bounds_after = _bounds(before), _bounds(after)
    for (op, old), (_, new) in zip(bounds_before, bounds_after, strict=True):
        if (op in (">=", ">") and float(new) > float(old)) or (op in ("<=", "<") and float(new) < float(old)):
            return True
    return False


def _skeleton(definition: str) -> str:
    """The definition with its literals and numbers blanked out, to see whether only they changed."""
    without_options = re.sub(r"ARRAY\[[^\]]*\]", "ARRAY[…]", definition)
    return _LITERAL.sub("'…'", _BOUND.sub(lambda m: f"{m.group(1)} #", without_options))


def _bounds(definition: str) -> list[tuple[str, str]]:
    return [(m.group(1), next(g for g in m.groups()[1:] if g is not None)) for m in _BOUND.finditer(definition)]


def _drop_object(
    item: Constraint | Index | Trigger, table: str, phases: _Phases, renamed_columns: Mapping[str, str]
) -> None:
    """Drop `item`; a rule or predicate written by hand keeps its source text, so undoing the drop (which runs
    before this plan's renames are undone) writes it in the renamed columns' names."""
    match item:
        case Constraint(kind="foreign_key"):
            phases.drop_foreign_keys.append(DropConstraint(table, item))
        case Constraint():
            now = _written_now(item.definition, renamed_columns) if item.verbatim else None
            phases.drop_objects.append(DropConstraint(table, item, written_now=now))
        case Index():
            now = _written_now(item.predicate, renamed_columns) if item.verbatim else None
            phases.drop_objects.append(DropIndex(item, now))
        case Trigger():
            phases.drop_objects.append(DropTrigger(item))


def _add_object(item: Constraint | Index | Trigger, table: str, phases: _Phases, *, narrowing: bool = False) -> None:
    match item:
        case Constraint(kind="foreign_key"):
            phases.add_foreign_keys.append(AddConstraint(table, item))
        case Constraint():
            phases.add_objects.append(AddConstraint(table, item, narrowing))
        case Index():
            phases.add_objects.append(CreateIndex(item))
        case Trigger():
            phases.add_objects.append(CreateTrigger(item))


def _diff_functions(current: Sequence[Function], desired: Sequence[Function], phases: _Phases) -> None:
    wanted = {f.name: f for f in desired}
    existing = {f.name: f for f in current}
    for name, function in wanted.items():
        before = existing.get(name)
        if before is None:
            phases.create_functions.append(CreateFunction(function))
        elif before != function:
            phases.create_functions.append(ReplaceFunction(before, function))
    for name, function in existing.items():
        if name not in wanted:
            phases.drop_functions.append(DropFunction(function))


# --- renames -----------------------------------------------------------------------------------------


def renamed(current: Catalog, desired: Catalog, renames: Renames) -> Catalog:
    """`current` with the table and column renames towards `desired` done (those that apply)."""
    return _apply_renames(current, desired, renames, [])


def _apply_renames(current: Catalog, desired: Catalog, renames: Renames, out: list[Change]) -> Catalog:
    """Emit the table and column renames that apply, and return `current` as it will be after them."""
    wanted_tables = {
        old: new
        for old, new in renames.tables
        if old != new and current.table(old) is not None and desired.table(new) is not None
    }
    # A rename onto a name another table leaves (a chain `b → c`, `a → b`, or a swap) waits for that one, a swap
    # going through a free name. One onto the name of a table neither renamed away nor kept under it (its id is gone
    # from the schema, which drops it) moves that table aside first: it is dropped later under the free name.
    table_names = {t.name for t in current.tables}
    relations = _relation_names(current) if wanted_tables else set()  # most plans rename no table
    for name in sorted({new for new in wanted_tables.values() if new in table_names and new not in wanted_tables}):
        wanted_tables[name] = _free_name(f"{name}_dropped", relations | table_names | set(wanted_tables.values()))
    table_map = _possible_renames(wanted_tables, table_names)
    out.extend(_ordered_renames(dict(sorted(table_map.items())), table_names, RenameTable, avoid=relations))
    # A table whose rename does not apply is planned by name, so its column renames do not apply either: the table
    # of that name now is another one.
    not_applied = {new for old, new in renames.tables if old != new and table_map.get(old) != new}
    column_map: dict[str, dict[str, str]] = {}
    for table_name, old, new in renames.columns:
        if table_name in not_applied:
            continue
        source = current.table(_old_name(table_name, table_map))
        wanted = desired.table(table_name)
        if old == new or source is None or wanted is None:
            continue
        if source.column(old) is None or wanted.column(new) is None:
            continue
        column_map.setdefault(table_name, {})[old] = new
    for table_name in sorted(column_map):
        source = current.table(_old_name(table_name, table_map))
        assert source is not None
        column_map[table_name] = _possible_renames(column_map[table_name], {c.name for c in source.columns})
        columns = {c.name for c in source.columns}
        ordered = dict(sorted(column_map[table_name].items()))
        out.extend(_ordered_renames(ordered, columns, functools.partial(RenameColumn, table_name)))
    if not table_map and not column_map:
        return current
    tables = tuple(_rename_in_table(t, table_map, column_map) for t in current.tables)
    return replace(current, tables=tables)


def _possible_renames(renames: dict[str, str], columns: set[str]) -> dict[str, str]:
    """The renames that can be done: each to a name that is free once the renames are done (a column keeping
    its name, not renamed away, makes a rename onto it impossible: that one is a drop and an add instead)."""
    possible = dict(renames)
    while True:
        blocked = {old for old, new in possible.items() if new in columns and new not in possible}
        if not blocked:
            return possible
        for old in blocked:
            del possible[old]


def _ordered_renames(
    renames: Mapping[str, str],
    taken: set[str],
    rename: Callable[[str, str], Change],
    *,
    avoid: Iterable[str] = (),
) -> list[Change]:
    """Renames within one namespace (a table's columns, the schema's relations …) in an order PostgreSQL accepts,
    else in the order given: one onto a name another still holds waits for that one to move (`b → c` before
    `a → b`); a swap (`a → b`, `b → a`) goes through a free name (none of `taken`, `avoid` or the new names). Every
    name a rename goes to must be free or left by another of them (`_possible_renames`)."""
    steps: list[Change] = []
    pending = dict(renames)
    taken = set(taken)
    while pending:
        ready = [old for old, new in pending.items() if new not in taken]
        if not ready:  # only cycles are left: move one of them aside
            old = next(old for old, new in pending.items() if new in pending)
            aside = _free_name(f"{old}_renaming", taken | set(renames.values()) | set(avoid))
            steps.append(rename(old, aside))
            taken = (taken - {old}) | {aside}
            pending[aside] = pending.pop(old)
            continue
        for old in ready:
            new = pending.pop(old)
            steps.append(rename(old, new))
            taken = (taken - {old}) | {new}
    return steps


_INDEX_BACKED = frozenset({"primary_key", "unique", "exclude"})  # their names are their indexes' names


def _relation_names(catalog: Catalog) -> set[str]:
    """The names taken in the schema's one namespace of relations: tables, views, indexes (a primary key's or
    unique rule's too)."""
    names = {t.name for t in catalog.tables} | {v.name for v in catalog.views}
    for table in catalog.tables:
        names.update(i.name for i in table.indexes)
        names.update(c.name for c in table.constraints if c.kind in _INDEX_BACKED)
    return names


def _free_name(base: str, taken: set[str]) -> str:
    from sovrium_tui.identifiers import MAX_IDENTIFIER_BYTES, truncate_identifier

    number = 0
    while True:
        suffix = f"_{number}" if number else ""
        stem = truncate_identifier(base)
        while len(f"{stem}{suffix}".encode()) > MAX_IDENTIFIER_BYTES:
            stem = stem[:-1]
        if f"{stem}{suffix}" not in taken:
            return f"{stem}{suffix}"
        number += 1


def _old_name(new: str, table_map: dict[str, str]) -> str:
    return next((old for old, renamed in table_map.items() if renamed == new), new)


def _rename_in_table(table: Table, table_map: dict[str, str], column_map: dict[str, dict[str, str]]) -> Table:
    name = table_map.get(table.name, table.name)
    own_columns = column_map.get(name, {})
    return replace(
        table,
        name=name,
        columns=tuple(replace(c, name=own_columns.get(c.name, c.name)) for c in table.columns),
        constraints=tuple(_rename_in_constraint(c, own_columns, table_map, column_map) for c in table.constraints),
        indexes=tuple(
            replace(
                i,
                table=name,
                keys=tuple(substitute_identifiers(k, own_columns) for k in i.keys),
                predicate=(
                    substitute_identifiers(i.predicate, own_columns) if i.predicate and not i.verbatim else i.predicate
                ),
            )
            for i in table.indexes
        ),
        triggers=tuple(replace(t, table=name) for t in table.triggers),
        policies=tuple(renamed_policy(p, own_columns) for p in table.policies),
    )


def renamed_policy(policy: Policy, columns: dict[str, str]) -> Policy:
    """`policy` reading the renamed columns under their new names (PostgreSQL keeps a policy through renames)."""
    if not columns:
        return policy
    using = substitute_identifiers(policy.using, columns) if policy.using else policy.using
    check = substitute_identifiers(policy.check, columns) if policy.check else policy.check
    return replace(policy, using=using, check=check)


_REFERENCES = re.compile(r"^(FOREIGN KEY \(.*?\)) REFERENCES (.+?)\((.*?)\)(.*)$", re.DOTALL)


def _rename_in_constraint(
    constraint: Constraint,
    own_columns: dict[str, str],
    table_map: dict[str, str],
    column_map: dict[str, dict[str, str]],
) -> Constraint:
    columns = tuple(own_columns.get(c, c) for c in constraint.columns)
    if constraint.verbatim:
        # The user's text is stored as written; keeping the old text makes a changed one re-added afresh.
        return replace(constraint, columns=columns)
    if constraint.kind != "foreign_key" or constraint.references is None:
        definition = substitute_identifiers(constraint.definition, own_columns)
        return replace(constraint, columns=columns, definition=definition)
    referenced = table_map.get(constraint.references, constraint.references)
    match = _REFERENCES.match(constraint.definition)
    if match is None:
        return replace(constraint, columns=columns, references=referenced)
    local, target, target_columns, rest = match.groups()
    definition = (
        f"{substitute_identifiers(local, own_columns)} REFERENCES "
        f"{substitute_identifiers(target, table_map, allow_calls=True)}"
        f"({substitute_identifiers(target_columns, column_map.get(referenced, {}))}){rest}"
    )
    return replace(constraint, columns=columns, references=referenced, definition=definition)


_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*|::|.""", re.DOTALL)


def substitute_identifiers(text: str, names: dict[str, str], *, allow_calls: bool = False) -> str:
    """Rename identifier tokens in deparsed SQL, leaving literals, type names after `::` and calls alone."""
    if not names:
        return text
    from sovrium_tui.identifiers import quote_ident

    tokens = _TOKENS.findall(text)
    out: list[str] = []
    for position, token in enumerate(tokens):
        value = token[1:-1].replace('""', '"') if token.startswith('"') else token
        follows_cast = position > 0 and tokens[position - 1] == "::"
        is_call = position + 1 < len(tokens) and tokens[position + 1] == "(" and not allow_calls
        if value in names and not token.startswith("'") and not follows_cast and not is_call:
            out.append(quote_ident(names[value]))
        else:
            out.append(token)
    return "".join(out)


@record
class DerivedNames:
    """Constraints, indexes, triggers and functions renamed because their names derive from a renamed table or
    column (each a Rename… change)."""

    changes: tuple[Change, ...] = ()

    def applied_to(self, catalog: Catalog) -> Catalog:
        """`catalog` with the same objects renamed, where it has them (and the new name is free)."""
        if not self.changes:
            return catalog
        functions = {c.old: c.new for c in self.changes if isinstance(c, RenameFunction)}
        by_table: dict[str, dict[str, str]] = {}
        for change in self.changes:
            if isinstance(change, RenameConstraint | RenameIndex | RenameTrigger):
                by_table.setdefault(change.table, {})[change.old] = change.new
        tables = []
        for table in catalog.tables:
            names = by_table.get(table.name, {})
            taken = (
                {c.name for c in table.constraints} | {i.name for i in table.indexes} | {t.name for t in table.triggers}
            )
            free = {old: new for old, new in names.items() if new not in taken}
            triggers = tuple(_renamed_item(t, functions, "function") for t in table.triggers)
            tables.append(_objects_renamed(table, free, free, free, triggers))
        existing = {f.name for f in catalog.functions}
        free_functions = {old: new for old, new in functions.items() if new not in existing}
        renamed_functions = tuple(_renamed_item(f, free_functions, "name") for f in catalog.functions)
        return replace(catalog, tables=tuple(tables), functions=renamed_functions)


def derived_renames(current: Catalog, desired: Catalog) -> tuple[Catalog, DerivedNames]:
    """`current` with the objects whose names derive from renamed tables and columns renamed as in `desired`, and
    what was renamed (`current` has had its table and column renames done: `renamed`)."""
    out: list[Change] = []
    return _match_derived_renames(current, desired, out), DerivedNames(tuple(out))


def _match_derived_renames(current: Catalog, desired: Catalog, out: list[Change]) -> Catalog:
    """Objects whose names derive from a renamed table or column: rename them instead of rebuilding."""
    # A trigger function is renamed only along with the table that uses it (same body, same table after
    # the renames), never paired with a look-alike of another table that is dropped while this one is made.
    current_users, desired_users = _function_users(current), _function_users(desired)
    function_map = _pair_by(
        [f for f in current.functions if desired_function(desired, f.name) is None],
        [f for f in desired.functions if desired_function(current, f.name) is None],
        key=lambda f: (f.body, current_users.get(f.name) or desired_users.get(f.name) or frozenset({f.name})),
    )
    for old, new in function_map:
        out.append(RenameFunction(old, new))
    renamed_functions = dict(function_map)
    pairs: list[tuple[Table, dict[str, str], dict[str, str], dict[str, str], tuple[Trigger, ...]]] = []
    for table in current.tables:
        wanted = desired.table(table.name)
        if wanted is None:
            pairs.append((table, {}, {}, {}, table.triggers))
            continue
        constraint_pairs = _pair_by(
            [c for c in table.constraints if wanted.constraint(c.name) is None],
            [c for c in wanted.constraints if table.constraint(c.name) is None],
            key=lambda c: (c.kind, c.definition),
        )
        index_pairs = _pair_by(
            [i for i in table.indexes if wanted.index(i.name) is None],
            [i for i in wanted.indexes if table.index(i.name) is None],
            key=lambda i: (i.keys, i.unique, i.method, i.predicate),
        )
        triggers = tuple(_renamed_item(t, renamed_functions, "function") for t in table.triggers)
        wanted_triggers = {t.name for t in wanted.triggers}
        trigger_pairs = _pair_by(
            [t for t in triggers if t.name not in wanted_triggers],
            [t for t in wanted.triggers if t.name not in {x.name for x in triggers}],
            key=lambda t: (t.timing, t.events, t.function),
        )
        pairs.append((table, dict(constraint_pairs), dict(index_pairs), dict(trigger_pairs), triggers))

    # Indexes (a primary key's and a unique rule's too) share the schema's one namespace of relations: after a chain
    # or a swap of table names, `a_pkey` may go to a name another table's index leaves (ordered together, a swap
    # through a free name), or to one an object keeps (not renamed then: dropped and made again).
    renamers: dict[str, Callable[[str, str], Change]] = {}
    wanted_names: dict[str, str] = {}
    for table, paired_constraints, paired_indexes, _, _ in pairs:
        kinds = {c.name: c.kind for c in table.constraints}
        for old, new in paired_constraints.items():
            if kinds[old] in _INDEX_BACKED:
                wanted_names[old], renamers[old] = new, functools.partial(RenameConstraint, table.name)
        for old, new in paired_indexes.items():
            wanted_names[old], renamers[old] = new, functools.partial(RenameIndex, table.name)
    relations = _relation_names(current) if wanted_names else set()  # most plans rename no index
    relation_renames = _possible_renames(wanted_names, relations)

    tables = []
    trigger_renames: list[Change] = []  # after the others, as they always were
    for table, paired_constraints, paired_indexes, trigger_map, triggers in pairs:
        constraint_map = {o: n for o, n in paired_constraints.items() if o not in wanted_names or o in relation_renames}
        index_map = {o: n for o, n in paired_indexes.items() if o in relation_renames}
        out.extend(RenameConstraint(table.name, o, n) for o, n in constraint_map.items() if o not in wanted_names)
        trigger_renames.extend(RenameTrigger(table.name, old, new) for old, new in trigger_map.items())
        if not (constraint_map or index_map or trigger_map or renamed_functions):
            tables.append(table)  # nothing of it renamed (every table of most plans)
            continue
        tables.append(_objects_renamed(table, constraint_map, index_map, trigger_map, triggers))

    def rename_relation(old: str, new: str) -> Change:
        renamers[new] = renamers[old]  # a name moved aside is renamed again from there
        return renamers[old](old, new)

    out.extend(_ordered_renames(relation_renames, relations, rename_relation))
    out.extend(trigger_renames)
    functions = tuple(_renamed_item(f, renamed_functions, "name") for f in current.functions)
    return replace(current, tables=tuple(tables), functions=functions)


def _objects_renamed(
    table: Table,
    constraints: Mapping[str, str],
    indexes: Mapping[str, str],
    trigger_names: Mapping[str, str],
    triggers: tuple[Trigger, ...],
) -> Table:
    """`table` with its constraints, indexes and `triggers` (its own, their functions renamed) renamed old → new."""
    return replace(
        table,
        constraints=tuple(_renamed_item(c, constraints, "name") for c in table.constraints),
        indexes=tuple(_renamed_item(i, indexes, "name") for i in table.indexes),
        triggers=tuple(_renamed_item(t, trigger_names, "name") for t in triggers),
    )


_Item = TypeVar("_Item", Constraint, Index, Trigger, Function)


def _renamed_item(item: _Item, renamed: Mapping[str, str], attribute: Literal["name", "function"]) -> _Item:
    """`item` with its `attribute` renamed as `renamed` says; the same object when it says nothing of it."""
    value = getattr(item, attribute)
    return replace(item, **{attribute: renamed[value]}) if value in renamed else item  # type: ignore[arg-type]


def _function_users(catalog: Catalog) -> dict[str, frozenset[str]]:
    """For each trigger function, the tables whose triggers call it."""
    users: dict[str, set[str]] = {}
    for table in catalog.tables:
        for trigger in table.triggers:
            users.setdefault(trigger.function, set()).add(table.name)
    return {name: frozenset(tables) for name, tables in users.items()}


def desired_function(catalog: Catalog, name: str) -> Function | None:
    return catalog.function(name)


def _pair_by(olds: Sequence[_Named], news: Sequence[_Named], *, key: Callable[[Any], object]) -> list[tuple[str, str]]:
    """Pair unmatched old and new objects that are identical but for their name (each used once)."""
    waiting: dict[object, list[_Named]] = {}  # key -> the new objects with it, in their order, not yet paired
    for new in reversed(news):
        waiting.setdefault(key(new), []).append(new)
    pairs: list[tuple[str, str]] = []
    for old in sorted(olds, key=lambda o: o.name):
        candidates = waiting.get(key(old))
        if candidates:
            pairs.append((old.name, candidates.pop().name))
    return pairs
