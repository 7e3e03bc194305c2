"""Drift accepted by hand (`drift --accept`), carried through the next plans: a three-way merge of catalogs.

A plan goes from the recorded schema to its target; the live database may differ from the recorded schema by
drift someone accepted (an index added by hand, a column type changed, row-level security). What the database
should be after the plan is the target with that drift kept wherever the plan does not change the same object:
for each table, column, constraint, index, trigger, policy, function and view, by name, the plan's version when
the plan changes it, else the live one. Where both changed one object, the plan's wins (and the check after the
apply says what then differs). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from sovrium_tui.catalog.model import Catalog, Table

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
    if renames:
        from sovrium_tui.planning.diff import renamed  # the differ and its changes: only when something is renamed

        recorded, live = renamed(recorded, target, renames), renamed(live, target, renames)
    if target == recorded:
        return live  # the plan changes nothing
    if live == recorded:
        return target  # nothing was accepted
    tables = _merged_named(recorded.tables, target.tables, live.tables, _merged_table)
    functions = _merged_named(recorded.functions, target.functions, live.functions)
    views = _merged_named(recorded.views, target.views, live.views)
    return replace(target, tables=tuple(tables), functions=tuple(functions), views=tuple(views))


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
