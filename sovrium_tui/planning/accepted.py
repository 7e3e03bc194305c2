"""Drift accepted by hand (`drift --accept`), carried through the next plans: a three-way merge of catalogs.

A plan goes from the recorded schema to its target; the live database may differ from the recorded schema by
drift someone accepted (an index added by hand, a column type changed, row-level security). What the database
should be after the plan is the target with that drift kept wherever the plan does not change the same object:
for each table, column, constraint, index, trigger, policy, function and view, by name, the plan's version when
the plan changes it, else the live one. Where both changed one object, the plan's wins (and the check after the
apply says what then differs). Renames are followed: an accepted object keeps the name PostgreSQL gives it when
the table or column it belongs to is renamed. Accepted objects reading a table or column the plan drops go with
it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from sovrium_tui.catalog.model import Catalog, Table
from sovrium_tui.records import record

if TYPE_CHECKING:
    from sovrium_tui.planning.diff import Renames


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_T = TypeVar("_T")
_N = TypeVar("_N", bound=_Named)


def with_accepted_drift(recorded: Catalog, target: Catalog, live: Catalog, renames: Renames | None = None) -> Catalog:
    """`target`, with what `live` has that `recorded` has not (and the other way round) where the plan from
    `recorded` to `target` leaves the object alone. Tables and columns the plan renames are compared under their
    new names (`live` may be read before the plan or after it)."""
    return merged_with_accepted_drift(recorded, target, live, renames)[0]


def merged_with_accepted_drift(
    recorded: Catalog, target: Catalog, live: Catalog, renames: Renames | None = None
) -> tuple[Catalog, Orphans]:
    """`with_accepted_drift`, and the accepted objects it lets go of because they read what the plan drops."""
    if renames:
        recorded, live = _renamed_alike(recorded, target, live, renames)
    if target == recorded:
        return live, Orphans()  # the plan changes nothing
    if live == recorded:
        return target, Orphans()  # nothing was accepted
    tables = _merged_named(recorded.tables, target.tables, live.tables, _merged_table)
    functions = _merged_named(recorded.functions, target.functions, live.functions)
    views = _merged_named(recorded.views, target.views, live.views)
    merged = replace(target, tables=tuple(tables), functions=tuple(functions), views=tuple(views))
    return _without_orphans(merged, live, recorded)


@record
class Orphans:
    """Accepted drift a plan drops because it reads a table or column the plan drops: views by name, and
    constraints, indexes and policies as (table, name)."""

    views: frozenset[str] = frozenset()
    objects: frozenset[tuple[str, str]] = frozenset()
    # Tables the plan drops that carry accepted drift, as the schema recorded them: what undoing the drop makes.
    tables: tuple[Table, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.views or self.objects or self.tables)

    def recorded_table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


def _renamed_alike(recorded: Catalog, target: Catalog, live: Catalog, renames: Renames) -> tuple[Catalog, Catalog]:
    """`recorded` and `live` as they are after the plan's renames: tables and columns, the constraints, indexes,
    triggers and functions whose names derive from them (renamed in `live` as they are in `recorded`, whatever
    was accepted of them), and the tables a view found in `live` reads (PostgreSQL prints a view's query with
    the new names)."""
    from sovrium_tui.planning.diff import derived_renames, renamed, substitute_identifiers

    tables = {
        old: new for old, new in renames.tables if old != new and live.table(old) and target.table(new) is not None
    }
    recorded, live = renamed(recorded, target, renames), renamed(live, target, renames)
    recorded, names = derived_renames(recorded, target)
    live = names.applied_to(live)
    if tables and live.views:
        views = tuple(
            replace(
                view,
                definition=substitute_identifiers(view.definition, tables),
                reads=tuple(tables.get(name, name) for name in view.reads),
            )
            if tables.keys() & set(view.reads)
            else view
            for view in live.views
        )
        live = replace(live, views=views)
    return recorded, live


def _without_orphans(merged: Catalog, live: Catalog, recorded: Catalog) -> tuple[Catalog, Orphans]:
    """`merged` without what it kept of the live database that reads a table or column the plan removes: PostgreSQL
    drops an index or a constraint with its column, and refuses to drop a column a policy reads or a table a view or
    a foreign key reads; such drift goes with what it reads (and no rollback makes it again: see `steps_for`). Nor
    is an index or a rule made on a column accepted drift dropped."""
    from sovrium_tui.planning.diff import reads_any

    gone_tables = {t.name for t in live.tables} - {t.name for t in merged.tables}
    objects: set[tuple[str, str]] = set()
    tables = []
    for table in merged.tables:
        # Columns the database had, or the recorded schema had (and accepted drift dropped), that `table` has not.
        found, had = live.table(table.name), recorded.table(table.name)
        gone = {c.name for c in (*(found.columns if found else ()), *(had.columns if had else ()))}
        gone -= {c.name for c in table.columns}
        kept = replace(
            table,
            constraints=tuple(
                c for c in table.constraints if not reads_any(c, gone) and c.references not in gone_tables
            ),
            indexes=tuple(i for i in table.indexes if not reads_any(i, gone)),
            policies=tuple(p for p in table.policies if not reads_any(p, gone)),
        )
        if kept != table:
            for before, after in (
                ({c.name for c in table.constraints}, {c.name for c in kept.constraints}),
                ({i.name for i in table.indexes}, {i.name for i in kept.indexes}),
                ({p.name for p in table.policies}, {p.name for p in kept.policies}),
            ):
                objects |= {(table.name, name) for name in before - after}
        tables.append(kept if kept != table else table)
    gone = set(gone_tables)
    views = list(merged.views)
    while True:  # a view reading a view that goes, goes too
        remaining = [v for v in views if gone.isdisjoint(v.reads)]
        if len(remaining) == len(views):
            break
        gone |= {v.name for v in views} - {v.name for v in remaining}
        views = remaining
    dropped = tuple(
        table
        for name in sorted(gone_tables)
        for table in (recorded.table(name),)
        if table is not None and table != live.table(name)
    )
    orphans = Orphans(frozenset(v.name for v in merged.views) - {v.name for v in views}, frozenset(objects), dropped)
    if not (orphans.views or orphans.objects):
        return merged, orphans
    return replace(merged, tables=tuple(tables), views=tuple(views)), orphans


def _merged_table(recorded: Table, target: Table, live: Table) -> Table:
    security = _pick(
        (recorded.row_security, recorded.force_row_security),
        (target.row_security, target.force_row_security),
        (live.row_security, live.force_row_security),
    )
    assert security is not None
    return replace(
        target,
        columns=tuple(_merged_named(recorded.columns, target.columns, live.columns)),
        constraints=tuple(_merged_named(recorded.constraints, target.constraints, live.constraints)),
        indexes=tuple(_merged_named(recorded.indexes, target.indexes, live.indexes)),
        triggers=tuple(_merged_named(recorded.triggers, target.triggers, live.triggers)),
        row_security=security[0],
        force_row_security=security[1],
        policies=tuple(_merged_named(recorded.policies, target.policies, live.policies)),
    )


def _pick(recorded: _T | None, target: _T | None, live: _T | None) -> _T | None:
    """The plan's version when the plan changes it, else the live one (None: absent)."""
    if target == recorded:
        return live
    return target


def _merged_named(
    recorded: Iterable[_N],
    target: Iterable[_N],
    live: Iterable[_N],
    merge_both: Callable[[_N, _N, _N], _N] | None = None,
) -> list[_N]:
    """Items by name, in the target's order and then the live database's (a name both changed: the plan's
    version, or `merge_both(recorded, target, live)` when the three exist)."""
    before = {item.name: item for item in recorded}
    planned = {item.name: item for item in target}
    found = {item.name: item for item in live}
    merged = []
    for name in {**planned, **found}:
        was, will, now = before.get(name), planned.get(name), found.get(name)
        if merge_both and was and will and now and was not in (will, now):  # both changed it
            merged.append(merge_both(was, will, now))
            continue
        item = _pick(was, will, now)
        if item is not None:
            merged.append(item)
    return merged
