"""From a target App and the state it starts from to a Plan: compile, diff, render, bind, hash."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from sovrium_tui.catalog.model import Catalog
from sovrium_tui.planning.accepted import Orphans, merged_with_accepted_drift
from sovrium_tui.planning.changes import (
    AddColumn,
    Change,
    ComputeColumns,
    CreateAuthUsers,
    CreateFunction,
    CreateTable,
    CreateView,
    DropAuthUsers,
    DropColumn,
    DropConstraint,
    DropFunction,
    DropIndex,
    DropPolicy,
    DropTable,
    DropView,
    RefreshView,
    RenameColumn,
    RenameFunction,
    RenameTable,
    ReplaceFunction,
)
from sovrium_tui.planning.diff import Renames, diff, kept_row_security
from sovrium_tui.planning.plan import Plan, Step, canonical_json
from sovrium_tui.planning.renames import Naming, renames_between
from sovrium_tui.planning.render import forward_sql, reverse_sql
from sovrium_tui.records import record
from sovrium_tui.schema.model import App


@record
class Origin:
    """The state a plan starts from: version and checksum recorded, the app then, the catalog now."""

    version: int
    checksum: str | None
    app: App | Naming | None  # for renames, the app's names by id are all it takes
    catalog: Catalog
    # When `catalog` is a live database's that accepted drift: the catalog `app` compiles to. The plan then
    # keeps that drift wherever it leaves the object alone (see `planning.accepted`).
    recorded_catalog: Catalog | None = None


def make_plan(
    target: App,
    origin: Origin,
    *,
    next_version: int | None = None,
    summary: str | None = None,
    allow_empty: bool = False,
    target_catalog: Catalog | None = None,
    keep_row_security: bool = True,
) -> Plan | None:
    """The plan that takes `origin` to `target` (compiled: `target_catalog`), or None when there is nothing to
    change. Row-level security and policies found in `origin` are kept unless `keep_row_security` is false (a plan
    that reverts drift)."""
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.schema import app_snapshot
    from sovrium_tui.schema.checksum import checksum_of_tables

    renames = renames_between(origin.app, target) if origin.app is not None else Renames()
    desired = compile_app(target) if target_catalog is None else target_catalog
    orphans = Orphans()
    if origin.recorded_catalog is not None:
        desired, orphans = merged_with_accepted_drift(origin.recorded_catalog, desired, origin.catalog, renames)
    if keep_row_security:
        desired = kept_row_security(origin.catalog, desired, renames)
    changes = diff(origin.catalog, desired, renames)
    if not changes and not allow_empty:
        return None
    snapshot = app_snapshot(target)  # the checksum covers its tables (`app_checksum`, without reading them twice)
    return Plan(
        version=next_version or origin.version + 1,
        app=target.name,
        from_version=origin.version,
        from_checksum=origin.checksum,
        to_checksum=checksum_of_tables(cast(list[object], snapshot["tables"])),
        created_at=plan_timestamp(),
        summary=summary or summarize(changes) or "settings only: no database change",
        steps=steps_for(changes, orphans=orphans),
        schema=canonical_json(snapshot),
    ).with_digest()


def steps_for(changes: Sequence[Change], *, orphans: Orphans | None = None) -> tuple[Step, ...]:
    """One step per change, with the SQL the renderer writes for it and its reverse.

    Generated SQL is not parsed again here: the renderer's output for every change kind and field type is read
    with PostgreSQL's parser by the test suite, and `apply` reads every forward statement before it runs but those
    that plainly only create (`statements.generated_facts`).

    Accepted drift the plan drops with what it reads (`orphans`) has no reverse: the versions a rollback goes
    back to never recorded it, so making it again would leave the database unlike any of them.
    """
    return tuple(
        Step(
            id=number,
            op=change.op,
            target=change.target,
            summary=change.summary() + (_ORPHAN_NOTE if orphan else ""),
            hazards=tuple(change.hazards()),
            forward=forward_sql(change),
            reverse=() if orphan else reverse_sql(_as_recorded(change, orphans) if orphans else change),
        )
        for number, change in enumerate(changes, start=1)
        for orphan in (bool(orphans) and _is_orphan(change, orphans),)
    )


_ORPHAN_NOTE = " (accepted drift reading what this plan drops; a rollback does not make it again)"


def _as_recorded(change: Change, orphans: Orphans) -> Change:
    """A table dropped with accepted drift on it comes back, when the drop is undone, as the schema recorded it."""
    if isinstance(change, DropTable):
        recorded = orphans.recorded_table(change.table.name)
        if recorded is not None:
            return DropTable(recorded)
    return change


def _is_orphan(change: Change, orphans: Orphans | None) -> bool:
    if orphans is None:
        return False
    match change:
        case DropView(view, rebuild=False):
            return view.name in orphans.views
        case DropConstraint(table, constraint):
            return (table, constraint.name) in orphans.objects
        case DropIndex(index):
            return (index.table, index.name) in orphans.objects
        case DropPolicy(table, policy):
            return (table, policy.name) in orphans.objects
    return False


def plan_timestamp() -> str:
    """Now, in UTC to the second; SOURCE_DATE_EPOCH fixes it for reproducible plan files."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _note_move(marks: list[str], moved: dict[str, tuple[int, str]], old: str, new: str) -> None:
    """Add `old → new` to `marks`; a name renamed again (a swap goes through a free name) keeps one mark, from its
    first name to its last. `moved` maps each name now to its mark's position and first name."""
    if old in moved:
        position, first = moved.pop(old)
        marks[position] = f"{first} → {new}"
    else:
        position, first = len(marks), old
        marks.append(f"{old} → {new}")
    moved[new] = (position, first)


def summarize(changes: Sequence[Change], *, limit: int = 100) -> str:
    """A one-line summary such as `new tables invoices, payments; customers: +phone -fax`."""
    created: list[str] = []
    dropped: list[str] = []
    renamed: list[str] = []
    per_table: dict[str, list[str]] = {}
    column_moves: dict[str, dict[str, tuple[int, str]]] = {}  # table -> column's name now -> (its mark, first name)
    table_moves: dict[str, tuple[int, str]] = {}
    views: list[str] = []
    for change in changes:
        match change:
            case CreateView(view, rebuild=False):
                views.append(f"+{view.name}")
            case DropView(view, rebuild=False):
                views.append(f"-{view.name}")
            case ComputeColumns(table, columns, empty_only=False, on_rollback=False):
                per_table.setdefault(table, []).extend(f"~{name}" for name in columns)  # a formula changed
            case CreateView() | DropView() | RefreshView() | ComputeColumns():
                continue  # made again because what it reads changed, or an added column computed: the tables tell it
            case CreateTable(table):
                created.append(table.name)
            case DropTable(table) if table.name in table_moves:  # moved aside for a table taking its name
                position, first = table_moves.pop(table.name)
                renamed[position] = ""
                dropped.append(first)
            case DropTable(table):
                dropped.append(table.name)
            case RenameTable(old, new):
                _note_move(renamed, table_moves, old, new)
            case AddColumn(table, column):
                per_table.setdefault(table, []).append(f"+{column.name}")
            case DropColumn(table, column):
                per_table.setdefault(table, []).append(f"-{column.name}")
            case RenameColumn(table, old, new):
                _note_move(per_table.setdefault(table, []), column_moves.setdefault(table, {}), old, new)
            case CreateAuthUsers():
                created.append('auth."user"')
            case CreateFunction() | DropFunction() | ReplaceFunction() | RenameFunction() | DropAuthUsers():
                continue  # trigger functions follow their tables; the tables tell the story
            case _:
                per_table.setdefault(change.target.split(".")[0], []).append("altered")
    renamed = [mark for mark in renamed if mark]
    parts = [
        *([f"new table{'s' if len(created) > 1 else ''} {', '.join(created)}"] if created else []),
        *([f"drop table{'s' if len(dropped) > 1 else ''} {', '.join(dropped)}"] if dropped else []),
        *([f"rename {', '.join(renamed)}"] if renamed else []),
        *([f"views: {' '.join(_collapse_views(views))}"] if views else []),
        *(
            f"{table}: {' '.join(_collapse(marks))}"
            for table, marks in sorted(per_table.items())
            if table not in created
        ),
    ]
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _collapse_views(marks: list[str]) -> list[str]:
    """A view dropped and created again (its query changed) reads as `~name`."""
    made = {m[1:] for m in marks if m.startswith("+")}
    gone = {m[1:] for m in marks if m.startswith("-")}
    return [
        f"~{m[1:]}" if m[1:] in made & gone else m for m in dict.fromkeys(marks) if not (m[0] == "-" and m[1:] in made)
    ]


def _collapse(marks: list[str]) -> list[str]:
    """Keep named marks; fold the many unnamed alterations into one word."""
    named = [m for m in marks if m != "altered"]
    return named + (["altered"] if len(named) < len(marks) else [])
