"""Drift: every way the live database differs from the catalog it should have, in words, by table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sovrium_tui.catalog.model import Catalog, Constraint, Trigger
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
    DropAuthUsers,
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
    policy_words,
    row_security_words,
)
from sovrium_tui.planning.diff import diff
from sovrium_tui.records import record


@record
class Difference:
    table: str  # "" for database-wide objects (functions)
    kind: str  # "extra", "missing" or "changed"
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"table": self.table, "kind": self.kind, "detail": self.detail}


def find_drift(expected: Catalog, live: Catalog) -> tuple[Difference, ...]:
    """What is extra, missing or changed in `live` compared with `expected` (empty when none).

    Better Auth's users table is Sovrium's, not the app's: it is never drift.
    """
    changes = diff(replace(expected, auth_users="present"), replace(live, auth_users="present"))
    # A view rebuilt only because what it reads differs is not a difference of its own; refreshes neither.
    kept = [
        c for c in changes if not ((isinstance(c, CreateView | DropView) and c.rebuild) or isinstance(c, RefreshView))
    ]
    made = {c.view.name: c.view for c in kept if isinstance(c, CreateView)}
    replaced = {c.view.name for c in kept if isinstance(c, DropView) and c.view.name in made}
    switched = _switched_on_or_off(kept)
    differences = []
    for change in kept:
        if isinstance(change, CreateView | DropView) and change.view.name in replaced:
            if isinstance(change, DropView):  # one difference for the pair: the live view is not the recorded one
                live_view = made[change.view.name]
                detail = (
                    f"{live_view.kind} {live_view.name} differs from the recorded one (its query or triggers changed)"
                )
                differences.append(Difference(live_view.name, "changed", detail))
            continue
        if isinstance(change, DropTrigger | CreateTrigger | DropConstraint | AddConstraint):
            key = _switch_key(change)
            if key in switched:
                if isinstance(change, CreateTrigger | AddConstraint):  # one difference for the pair
                    differences.append(switched[key])
                continue
        differences.append(_describe(change))
    return tuple(differences)


_Switchable = DropTrigger | CreateTrigger | DropConstraint | AddConstraint


def _switch_key(change: _Switchable) -> tuple[str, str, str]:
    if isinstance(change, DropTrigger | CreateTrigger):
        return ("trigger", change.trigger.table, change.trigger.name)
    return ("constraint", change.table, change.constraint.name)


def _switched_on_or_off(changes: Sequence[Change]) -> dict[tuple[str, str, str], Difference]:
    """Triggers and foreign keys that differ only in whether they fire: one "changed" difference each, not a
    missing and an extra object of the same name (the differ drops and creates them again, which switches them)."""
    recorded: dict[tuple[str, str, str], Trigger | Constraint] = {}
    live: dict[tuple[str, str, str], Trigger | Constraint] = {}
    for change in changes:
        match change:
            case DropTrigger(trigger):
                recorded[_switch_key(change)] = trigger
            case CreateTrigger(trigger):
                live[_switch_key(change)] = trigger
            case DropConstraint(_, constraint):
                recorded[_switch_key(change)] = constraint
            case AddConstraint(_, constraint):
                live[_switch_key(change)] = constraint
    switched = {}
    for key, now in live.items():
        before = recorded.get(key)
        if isinstance(now, Trigger) and isinstance(before, Trigger) and replace(before, enabled=now.enabled) == now:
            switched[key] = Difference(now.table, "changed", _trigger_switch(now))
        elif (
            isinstance(now, Constraint)
            and isinstance(before, Constraint)
            and replace(before, enforced=now.enforced) == now
        ):
            state = "enforced" if now.enforced else "not enforced: its triggers are disabled"
            was = "not enforced" if now.enforced else "enforced"
            detail = f"foreign key {now.name} on {key[1]} is {state} (recorded as {was})"
            switched[key] = Difference(key[1], "changed", detail)
    return switched


def _trigger_switch(trigger: Trigger) -> str:
    state = "enabled (recorded as disabled)" if trigger.enabled else "disabled (recorded as enabled)"
    return f"trigger {trigger.name} on {trigger.table} is {state}"


def _describe(change: Change) -> Difference:
    match change:
        case CreateTable(table):
            return Difference(table.name, "extra", f"table {table.name} exists but was not recorded")
        case DropTable(table):
            return Difference(table.name, "missing", f"table {table.name} is missing")
        case AddColumn(table, column):
            return Difference(table, "extra", f"column {table}.{column.name} ({column.type}) was added")
        case DropColumn(table, column):
            return Difference(table, "missing", f"column {table}.{column.name} ({column.type}) is missing")
        case AlterColumnType(table, column, before, after):
            return Difference(table, "changed", f"column {table}.{column} is {after}, recorded as {before}")
        case SetDefault(table, column, before, after):
            return Difference(table, "changed", f"default of {table}.{column} is {after}, recorded as {before}")
        case AttachSequence(table, column, _type, sequence):
            detail = f"{table}.{column} is numbered by sequence {sequence}, recorded as a plain column"
            return Difference(table, "changed", detail)
        case DetachSequence(table, column):
            detail = f"{table}.{column} is not numbered by a sequence, recorded as serial"
            return Difference(table, "changed", detail)
        case SetNotNull(table, column):
            return Difference(table, "changed", f"{table}.{column} is NOT NULL, recorded as nullable")
        case DropNotNull(table, column):
            return Difference(table, "changed", f"{table}.{column} is nullable, recorded as NOT NULL")
        case AddConstraint(table, constraint):
            return Difference(table, "extra", f"constraint {constraint.name}: {constraint.definition}")
        case DropConstraint(table, constraint):
            return Difference(table, "missing", f"constraint {constraint.name}: {constraint.definition}")
        case CreateIndex(index):
            return Difference(index.table, "extra", f"index {index.name} on ({', '.join(index.keys)})")
        case DropIndex(index):
            return Difference(index.table, "missing", f"index {index.name} on ({', '.join(index.keys)})")
        case CreateTrigger(trigger):
            return Difference(trigger.table, "extra", f"trigger {trigger.name}")
        case DropTrigger(trigger):
            return Difference(trigger.table, "missing", f"trigger {trigger.name}")
        case SetRowSecurity(table, before, after):
            now, was = row_security_words(after), row_security_words(before)
            detail = f"row level security on {table} is {now} (recorded as {was})"
            return Difference(table, "changed", detail)
        case CreatePolicy(table, policy):
            return Difference(table, "extra", f"policy {policy.name} ({policy_words(policy)})")
        case DropPolicy(table, policy):
            return Difference(table, "missing", f"policy {policy.name} ({policy_words(policy)})")
        case CreateFunction(function):
            return Difference("", "extra", f"function {function.name}()")
        case DropFunction(function):
            return Difference("", "missing", f"function {function.name}()")
        case ReplaceFunction(_, after):
            return Difference("", "changed", f"body of function {after.name}() was changed")
        case RenameTable() | RenameColumn() | RenameConstraint() | RenameIndex() | RenameTrigger() | RenameFunction():
            return Difference("", "changed", change.summary())
        case CreateView(view):
            return Difference(view.name, "extra", f"{view.kind} {view.name} exists but was not recorded")
        case DropView(view):
            return Difference(view.name, "missing", f"{view.kind} {view.name} is missing")
        case (
            CreateAuthUsers() | DropAuthUsers() | RefreshView() | ComputeColumns()
        ):  # never drift; named for completeness
            return Difference("", "changed", change.summary())
