"""Schema changes: a closed union of small frozen values, each knowing its reverse, summary and hazards.

A drop keeps the whole dropped object so that its reverse can rebuild it. SQL text is not made here: see
`planning.render`, which renders a change's reverse with the same code as its forward.
"""

from __future__ import annotations

from dataclasses import replace

from sovrium_tui.catalog.model import Column, Constraint, Function, Index, Policy, Table, Trigger, View
from sovrium_tui.planning.hazards import Hazard
from sovrium_tui.records import record


@record
class CreateTable:
    table: Table  # with the indexes and triggers created alongside it

    op = "create_table"

    def reverse(self) -> Change:
        return DropTable(self.table)

    @property
    def target(self) -> str:
        return self.table.name

    def summary(self) -> str:
        return f"create table {self.table.name} ({len(self.table.columns)} columns)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class DropTable:
    table: Table  # everything that goes with it, so the reverse can rebuild it

    op = "drop_table"

    def reverse(self) -> Change:
        return CreateTable(self.table)

    @property
    def target(self) -> str:
        return self.table.name

    def summary(self) -> str:
        return f"drop table {self.table.name} and all its rows"

    def hazards(self) -> tuple[Hazard, ...]:
        return ("data-loss", "exclusive-lock")


@record
class RenameTable:
    old: str
    new: str

    op = "rename_table"

    def reverse(self) -> Change:
        return RenameTable(self.new, self.old)

    @property
    def target(self) -> str:
        return self.old

    def summary(self) -> str:
        return f"rename table {self.old} to {self.new} (rows kept)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class AddColumn:
    table: str
    column: Column
    # A generated column's expression in the table's names when this runs, where they differ from its source text
    # (`column.generated`, which its comment keeps): undoing a drop that followed a rename of a column it reads.
    expression: str | None = None

    op = "add_column"

    def reverse(self) -> Change:
        return DropColumn(self.table, self.column, self.expression)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column.name}"

    def summary(self) -> str:
        return f"add column {self.target} ({self.column.type}{_column_traits(self.column)})"

    def hazards(self) -> tuple[Hazard, ...]:
        column = self.column
        if column.generated is not None:
            return ("table-rewrite",)  # every existing row gets its value computed and stored
        if not column.nullable and column.default is None and not column.serial:
            return ("fails-on-existing-rows",)
        if column.default is not None and _is_volatile(column.default):
            return ("table-rewrite",)
        return ()


@record
class DropColumn:
    table: str
    column: Column
    expression: str | None = None  # see AddColumn.expression: what undoing this drop writes

    op = "drop_column"

    def reverse(self) -> Change:
        return AddColumn(self.table, self.column, self.expression)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column.name}"

    def summary(self) -> str:
        if self.column.computed:
            return f"drop computed column {self.target} (its values derive from other columns)"
        return f"drop column {self.target} and its values"

    def hazards(self) -> tuple[Hazard, ...]:
        return () if self.column.computed else ("data-loss",)


@record
class RenameColumn:
    table: str
    old: str
    new: str

    op = "rename_column"

    def reverse(self) -> Change:
        return RenameColumn(self.table, self.new, self.old)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.old}"

    def summary(self) -> str:
        return f"rename column {self.table}.{self.old} to {self.new} (values kept)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class AlterColumnType:
    table: str
    column: str
    before: str
    after: str
    using: str | None = None  # an expression over the column, e.g. "left(name, 255)"
    reverse_using: str | None = None
    hazard_list: tuple[Hazard, ...] = ()
    reverse_hazard_list: tuple[Hazard, ...] = ()

    op = "alter_column_type"

    def reverse(self) -> Change:
        return AlterColumnType(
            self.table,
            self.column,
            self.after,
            self.before,
            self.reverse_using,
            self.using,
            self.reverse_hazard_list,
            self.hazard_list,
        )

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column}"

    def summary(self) -> str:
        how = f" using {self.using}" if self.using else ""
        return f"change type of {self.target} from {self.before} to {self.after}{how}"

    def hazards(self) -> tuple[Hazard, ...]:
        return self.hazard_list


@record
class SetDefault:
    table: str
    column: str
    before: str | None
    after: str | None

    op = "set_default"

    def reverse(self) -> Change:
        return SetDefault(self.table, self.column, self.after, self.before)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column}"

    def summary(self) -> str:
        if self.after is None:
            return f"drop default of {self.target} (was {self.before})"
        return f"set default of {self.target} to {self.after} (existing rows unchanged)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class AttachSequence:
    """Number an existing column from a new sequence it owns, as SERIAL would, after its largest value: a plain
    integer becomes the table's serial id (a user field named `id` given up for Sovrium's automatic one)."""

    table: str
    column: str
    type: str  # integer, bigint or smallint: the sequence's type
    sequence: str

    op = "attach_sequence"

    def reverse(self) -> Change:
        return DetachSequence(self.table, self.column, self.type, self.sequence)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column}"

    def summary(self) -> str:
        return f"number {self.target} from a new sequence {self.sequence}, after its largest value (values kept)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class DetachSequence:
    """Stop numbering a serial column: its default and the sequence it owns are dropped, its values kept (a table
    made with `id SERIAL` whose schema names a plain `id` field, as in a database Sovrium adopts). An identity
    column (made by hand) drops its identity instead; undone, it is numbered as SERIAL numbers."""

    table: str
    column: str
    type: str
    sequence: str
    identity: bool = False

    op = "detach_sequence"

    def reverse(self) -> Change:
        return AttachSequence(self.table, self.column, self.type, self.sequence)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column}"

    def summary(self) -> str:
        if self.identity:
            return f"stop numbering {self.target}: drop its identity (and sequence {self.sequence}); values kept"
        return f"stop numbering {self.target} from sequence {self.sequence} (dropped; values kept)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class SetNotNull:
    table: str
    column: str
    backfill: str | None = None  # fill NULLs with this expression first (the column's default)
    # The table's UPDATE triggers but its formula trigger, disabled while the NULLs are filled: a fill is no write
    # to the row (no `updated_at` moves); the formulas reading the column are computed again.
    quiet: tuple[str, ...] = ()

    op = "set_not_null"

    def reverse(self) -> Change:
        return DropNotNull(self.table, self.column, self.backfill)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column}"

    def summary(self) -> str:
        fill = f", filling NULLs with {self.backfill}" if self.backfill else ""
        return f"make {self.target} required (NOT NULL{fill})"

    def hazards(self) -> tuple[Hazard, ...]:
        return ("exclusive-lock",) if self.backfill else ("fails-on-existing-rows", "exclusive-lock")


@record
class DropNotNull:
    table: str
    column: str
    backfill: str | None = None  # kept for the reverse only

    op = "drop_not_null"

    def reverse(self) -> Change:
        return SetNotNull(self.table, self.column, self.backfill)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.column}"

    def summary(self) -> str:
        return f"make {self.target} optional (drop NOT NULL)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class AddConstraint:
    table: str
    constraint: Constraint
    narrowing: bool = False  # a rule existing rows may break: a range tightened, an option removed, …
    # The rule as the statement must write it when the table's column names differ from its source text (kept in
    # its comment): undoing the drop of a rule written by hand that read a column this plan renamed.
    written_now: str | None = None

    op = "add_constraint"

    def reverse(self) -> Change:
        return DropConstraint(self.table, self.constraint, self.narrowing, self.written_now)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.constraint.name}"

    def summary(self) -> str:
        return f"add constraint {self.target}: {self.constraint.definition}"

    def hazards(self) -> tuple[Hazard, ...]:
        if self.narrowing:
            return ("narrowing", "fails-on-existing-rows", "exclusive-lock")
        return ("fails-on-existing-rows", "exclusive-lock")


@record
class DropConstraint:
    table: str
    constraint: Constraint
    narrowing: bool = False  # adding it back (the reverse) narrows
    written_now: str | None = None  # see AddConstraint.written_now: what undoing this drop writes

    op = "drop_constraint"

    def reverse(self) -> Change:
        return AddConstraint(self.table, self.constraint, self.narrowing, self.written_now)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.constraint.name}"

    def summary(self) -> str:
        return f"drop constraint {self.target} ({self.constraint.definition})"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class RenameConstraint:
    table: str
    old: str
    new: str

    op = "rename_constraint"

    def reverse(self) -> Change:
        return RenameConstraint(self.table, self.new, self.old)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.old}"

    def summary(self) -> str:
        return f"rename constraint {self.table}.{self.old} to {self.new}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class CreateIndex:
    index: Index
    # The predicate as the statement must write it (see AddConstraint.written_now).
    written_now: str | None = None

    op = "create_index"

    def reverse(self) -> Change:
        return DropIndex(self.index, self.written_now)

    @property
    def target(self) -> str:
        return f"{self.index.table}.{self.index.name}"

    def summary(self) -> str:
        kind = "unique index" if self.index.unique else "index"
        return f"create {kind} {self.index.name} on {self.index.table} ({', '.join(self.index.keys)})"

    def hazards(self) -> tuple[Hazard, ...]:
        extra: tuple[Hazard, ...] = ("fails-on-existing-rows",) if self.index.unique else ()
        return ("exclusive-lock", *extra)


@record
class DropIndex:
    index: Index
    written_now: str | None = None  # see CreateIndex.written_now: what undoing this drop writes

    op = "drop_index"

    def reverse(self) -> Change:
        return CreateIndex(self.index, self.written_now)

    @property
    def target(self) -> str:
        return f"{self.index.table}.{self.index.name}"

    def summary(self) -> str:
        return f"drop index {self.index.name} on {self.index.table}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class RenameIndex:
    table: str
    old: str
    new: str

    op = "rename_index"

    def reverse(self) -> Change:
        return RenameIndex(self.table, self.new, self.old)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.old}"

    def summary(self) -> str:
        return f"rename index {self.old} to {self.new}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class CreateTrigger:
    trigger: Trigger

    op = "create_trigger"

    def reverse(self) -> Change:
        return DropTrigger(self.trigger)

    @property
    def target(self) -> str:
        return f"{self.trigger.table}.{self.trigger.name}"

    def summary(self) -> str:
        events = " or ".join(self.trigger.events).lower()
        return f"create trigger {self.trigger.name} on {self.trigger.table} ({events})"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class DropTrigger:
    trigger: Trigger

    op = "drop_trigger"

    def reverse(self) -> Change:
        return CreateTrigger(self.trigger)

    @property
    def target(self) -> str:
        return f"{self.trigger.table}.{self.trigger.name}"

    def summary(self) -> str:
        return f"drop trigger {self.trigger.name} on {self.trigger.table}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class RenameTrigger:
    table: str
    old: str
    new: str

    op = "rename_trigger"

    def reverse(self) -> Change:
        return RenameTrigger(self.table, self.new, self.old)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.old}"

    def summary(self) -> str:
        return f"rename trigger {self.old} on {self.table} to {self.new}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class SetRowSecurity:
    """Row-level security switched on or off, forced or not (`ALTER TABLE … ENABLE / FORCE ROW LEVEL SECURITY`)."""

    table: str
    before: tuple[bool, bool]  # (enabled, forced)
    after: tuple[bool, bool]

    op = "set_row_security"

    def reverse(self) -> Change:
        return SetRowSecurity(self.table, self.after, self.before)

    @property
    def target(self) -> str:
        return self.table

    def summary(self) -> str:
        return f"row level security on {self.table}: {row_security_words(self.after)}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ("exclusive-lock",)


def row_security_words(state: tuple[bool, bool]) -> str:
    enabled, forced = state
    if enabled:
        return "on, forced on the owner too" if forced else "on"
    return "off (forced when on)" if forced else "off"


@record
class CreatePolicy:
    table: str
    policy: Policy

    op = "create_policy"

    def reverse(self) -> Change:
        return DropPolicy(self.table, self.policy)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.policy.name}"

    def summary(self) -> str:
        return f"create policy {self.policy.name} on {self.table} ({policy_words(self.policy)})"

    def hazards(self) -> tuple[Hazard, ...]:
        return ("exclusive-lock",)


@record
class DropPolicy:
    table: str
    policy: Policy

    op = "drop_policy"

    def reverse(self) -> Change:
        return CreatePolicy(self.table, self.policy)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.policy.name}"

    def summary(self) -> str:
        return f"drop policy {self.policy.name} on {self.table} ({policy_words(self.policy)})"

    def hazards(self) -> tuple[Hazard, ...]:
        return ("exclusive-lock",)


def policy_words(policy: Policy) -> str:
    """`FOR SELECT TO public USING (…)`: the policy's clauses as CREATE POLICY writes them."""
    kind = "" if policy.permissive else "AS RESTRICTIVE "
    using = f" USING ({policy.using})" if policy.using is not None else ""
    check = f" WITH CHECK ({policy.check})" if policy.check is not None else ""
    return f"{kind}FOR {policy.command} TO {', '.join(policy.roles)}{using}{check}"


@record
class CreateFunction:
    function: Function

    op = "create_function"

    def reverse(self) -> Change:
        return DropFunction(self.function)

    @property
    def target(self) -> str:
        return f"{self.function.name}()"

    def summary(self) -> str:
        return f"create trigger function {self.function.name}()"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class DropFunction:
    function: Function

    op = "drop_function"

    def reverse(self) -> Change:
        return CreateFunction(self.function)

    @property
    def target(self) -> str:
        return f"{self.function.name}()"

    def summary(self) -> str:
        return f"drop trigger function {self.function.name}()"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class ReplaceFunction:
    before: Function
    after: Function

    op = "replace_function"

    def reverse(self) -> Change:
        return ReplaceFunction(self.after, self.before)

    @property
    def target(self) -> str:
        return f"{self.after.name}()"

    def summary(self) -> str:
        return f"replace the body of trigger function {self.after.name}()"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class RenameFunction:
    old: str
    new: str

    op = "rename_function"

    def reverse(self) -> Change:
        return RenameFunction(self.new, self.old)

    @property
    def target(self) -> str:
        return f"{self.old}()"

    def summary(self) -> str:
        return f"rename trigger function {self.old}() to {self.new}()"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class CreateView:
    """A view (or materialized view) with its INSTEAD OF triggers; `rebuild` when only what it reads changed."""

    view: View
    rebuild: bool = False

    op = "create_view"

    def reverse(self) -> Change:
        return DropView(self.view, self.rebuild)

    @property
    def target(self) -> str:
        return self.view.name

    def summary(self) -> str:
        again = " again (what it reads changed)" if self.rebuild else ""
        triggers = f" with {len(self.view.triggers)} INSTEAD OF triggers" if self.view.triggers else ""
        return f"create {self.view.kind} {self.view.name}{triggers}{again}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class DropView:
    """A view holds no rows of its own (a materialized one is computed again when created): nothing is lost."""

    view: View
    rebuild: bool = False

    op = "drop_view"

    def reverse(self) -> Change:
        return CreateView(self.view, self.rebuild)

    @property
    def target(self) -> str:
        return self.view.name

    def summary(self) -> str:
        until = " until it is created again below" if self.rebuild else ""
        return f"drop {self.view.kind} {self.view.name}{until}"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class RefreshView:
    """REFRESH MATERIALIZED VIEW, for views declared with `refreshOnMigration`."""

    view: View

    op = "refresh_view"

    def reverse(self) -> Change:
        return RefreshView(self.view)

    @property
    def target(self) -> str:
        return self.view.name

    def summary(self) -> str:
        return f"refresh materialized view {self.view.name} (refreshOnMigration)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class ComputeColumns:
    """Formulas a trigger computes, computed for the rows already there (the trigger fills only rows written later):
    by the trigger itself, as at a write, so the values are what a write would give. Each row is updated once,
    setting `columns[0]` (the trigger computes it again, with every other formula of the table), with the table's
    other UPDATE triggers (`quiet`: `updated_at`'s stamp, `created_at`'s guard …) disabled meanwhile, so that it
    is not a write to the row: no `updated_at` moves.

    `empty_only`: only the rows where `columns[0]` is empty (the columns were just added; undoing the add drops
    them, so there is nothing to undo). `on_rollback`: nothing is done now, and the reverse computes the rows, at
    the point of a rollback where the earlier formulas are back (a formula changed or dropped: undoing it brings
    back the earlier expression, or the column empty)."""

    table: str
    columns: tuple[str, ...]  # the formula columns this is for (every formula of the table is computed)
    quiet: tuple[str, ...] = ()
    empty_only: bool = False
    on_rollback: bool = False

    op = "compute_columns"

    def reverse(self) -> Change:
        return replace(self, on_rollback=not self.on_rollback)

    @property
    def target(self) -> str:
        return f"{self.table}.{self.columns[0]}"

    def summary(self) -> str:
        names = ", ".join(f"{self.table}.{name}" for name in self.columns)
        if self.on_rollback:
            return f"nothing now; a rollback computes {names} again for every row"
        if self.empty_only:
            return f"compute {names} for the rows already there"
        return f"compute {names} again for every row (a formula changed)"

    def hazards(self) -> tuple[Hazard, ...]:
        return () if self.on_rollback else ("table-rewrite", "exclusive-lock")


@record
class CreateAuthUsers:
    """Better Auth's `auth."user"` table (and schema `auth` when it is missing too), as Sovrium creates it."""

    create_schema: bool

    op = "create_auth_users"

    def reverse(self) -> Change:
        return DropAuthUsers(self.create_schema)

    @property
    def target(self) -> str:
        return "auth.user"

    def summary(self) -> str:
        schema = "schema auth and " if self.create_schema else ""
        return f"create {schema}Better Auth's users table auth.user (user fields point at it)"

    def hazards(self) -> tuple[Hazard, ...]:
        return ()


@record
class DropAuthUsers:
    """The reverse of CreateAuthUsers only: a plan never drops a users table it did not create."""

    drop_schema: bool

    op = "drop_auth_users"

    def reverse(self) -> Change:
        return CreateAuthUsers(self.drop_schema)

    @property
    def target(self) -> str:
        return "auth.user"

    def summary(self) -> str:
        schema = " and schema auth" if self.drop_schema else ""
        return f"drop Better Auth's users table auth.user{schema} and its rows"

    def hazards(self) -> tuple[Hazard, ...]:
        return ("data-loss", "exclusive-lock")


Change = (
    CreateAuthUsers
    | DropAuthUsers
    | CreateTable
    | DropTable
    | RenameTable
    | AddColumn
    | DropColumn
    | RenameColumn
    | AlterColumnType
    | SetDefault
    | AttachSequence
    | DetachSequence
    | SetNotNull
    | DropNotNull
    | AddConstraint
    | DropConstraint
    | RenameConstraint
    | CreateIndex
    | DropIndex
    | RenameIndex
    | CreateTrigger
    | DropTrigger
    | RenameTrigger
    | SetRowSecurity
    | CreatePolicy
    | DropPolicy
    | CreateFunction
    | DropFunction
    | ReplaceFunction
    | RenameFunction
    | CreateView
    | DropView
    | RefreshView
    | ComputeColumns
)


def _column_traits(column: Column) -> str:
    if column.generated is not None:
        return f", generated from {column.generated}"
    if column.derived:
        return ", computed by a trigger"
    traits = []
    if not column.nullable:
        traits.append("NOT NULL")
    if column.serial:
        traits.append("serial")
    if column.default is not None:
        traits.append(f"default {column.default}")
    return ", " + ", ".join(traits) if traits else ""


_VOLATILE_CALLS = ("gen_random_uuid(", "random(", "clock_timestamp(", "nextval(")


def _is_volatile(default: str) -> bool:
    return any(call in default for call in _VOLATILE_CALLS)
