"""The relational model, one shape for both sides of a diff: compiled from an App or read from a database.

Every text here is in the form PostgreSQL itself prints it (`format_type`, `pg_get_expr`,
`pg_get_constraintdef`, `pg_get_indexdef`), so a compiled catalog and an introspected one compare equal,
and the same text is valid DDL to create the object.
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from sovrium_tui.records import record

SOURCE_COMMENT_PREFIX = "sovrium-source: "
# The comment of a column a trigger computes from other columns (a formula): its values are derived, not data.
DERIVED_COMMENT = "sovrium-derived: computed from other columns by a trigger"

ConstraintKind = Literal["primary_key", "unique", "foreign_key", "check", "exclude"]

# Better Auth's users table `auth."user"`, which `user`, `created-by`, `updated-by` and `deleted-by` fields point
# at. It lives outside `public` and belongs to Sovrium: a catalog only says whether it is there (introspected)
# or needed (compiled). It is created when needed and missing, never altered, never dropped but by the reverse
# of the step that created it, and is not part of drift.
AuthUsers = Literal["absent", "schema-only", "present"]


@record
class Column:
    name: str
    type: str  # format_type() text: "character varying(255)", "integer", "numeric(20,2)", "text[]", …
    nullable: bool = True
    default: str | None = None  # pg_get_expr() text: "'a'::character varying", "CURRENT_TIMESTAMP", …
    serial: bool = False  # backed by an owned sequence (SERIAL / BIGSERIAL); `default` is then None
    # GENERATED ALWAYS AS (<generated>) STORED. The expression as the compiler wrote it (PostgreSQL reprints it
    # differently), kept in the column's comment with SOURCE_COMMENT_PREFIX.
    generated: str | None = None
    derived: bool = False  # a trigger fills it from other columns (DERIVED_COMMENT): dropping it loses nothing
    # The owned sequence of a serial column, as read from a database (None when compiled: PostgreSQL names it when
    # the column is made, see `identifiers.serial_sequence_name`). A name, not a property: never compared.
    sequence: str | None = field(default=None, compare=False)
    # Numbered as GENERATED … AS IDENTITY (read from a table made by hand; this tool makes SERIAL): `serial` too.
    identity: bool = field(default=False, compare=False)

    @property
    def computed(self) -> bool:
        """Whether its values are computed from other columns (so dropping the column loses no data)."""
        return self.generated is not None or self.derived


@record
class Constraint:
    name: str
    kind: ConstraintKind
    definition: str  # pg_get_constraintdef() text: "UNIQUE (email)", "CHECK ((age >= 0))", …
    # Both follow from the definition, so they do not take part in comparisons.
    columns: tuple[str, ...] = field(default=(), compare=False)  # the constrained columns, in key order
    references: str | None = field(default=None, compare=False)  # foreign keys: the referenced table
    # The definition is the user's own SQL, kept as written (PostgreSQL would reprint it differently); the
    # database keeps that text in the constraint's comment, prefixed with SOURCE_COMMENT_PREFIX.
    verbatim: bool = False
    # False for a foreign key whose internal triggers are disabled (`ALTER TABLE … DISABLE TRIGGER ALL`, as
    # `pg_restore --disable-triggers` does): the key is declared but not checked. Found in a live database, as drift.
    enforced: bool = True


@record
class Index:
    name: str
    table: str
    keys: tuple[str, ...]  # column names or deparsed expressions, in key order
    unique: bool = False
    method: str = "btree"
    predicate: str | None = None  # deparsed WHERE expression, without the WHERE
    verbatim: bool = False  # the predicate is the user's own SQL, kept in the index's comment


@record
class Function:
    """A trigger function the compiler creates (plpgsql, `RETURNS trigger`)."""

    name: str
    body: str  # prosrc, exactly as stored


TriggerTiming = Literal["BEFORE", "AFTER", "INSTEAD OF"]


@record
class Trigger:
    name: str
    table: str  # the table, or the view for INSTEAD OF triggers
    timing: TriggerTiming
    events: tuple[str, ...]  # ("INSERT",), ("INSERT", "UPDATE"), …
    function: str
    # False when it does not fire in ordinary sessions: `ALTER TABLE … DISABLE TRIGGER` (or ENABLE REPLICA). This
    # tool only creates enabled triggers; a disabled one is found in a live database, as drift.
    enabled: bool = True


PolicyCommand = Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]


@record
class Policy:
    """A row-level security policy (CREATE POLICY). This tool creates none: one found in a live database is drift."""

    name: str
    command: PolicyCommand
    permissive: bool = True
    roles: tuple[str, ...] = ("public",)  # quoted role names, sorted; "public" for everyone
    using: str | None = None  # pg_get_expr() text of USING, without the parentheses
    check: str | None = None  # pg_get_expr() text of WITH CHECK


@record
class Table:
    name: str
    columns: tuple[Column, ...]  # in ordinal order
    constraints: tuple[Constraint, ...] = ()  # sorted by name
    indexes: tuple[Index, ...] = ()  # sorted by name; not the ones backing constraints
    triggers: tuple[Trigger, ...] = ()  # sorted by name
    # Row-level security (`ALTER TABLE … ENABLE / FORCE ROW LEVEL SECURITY`) and its policies, sorted by name.
    # Sovrium does not use them: this tool creates none, and finds them in a live database as drift.
    row_security: bool = False
    force_row_security: bool = False
    policies: tuple[Policy, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "constraints", tuple(sorted(self.constraints, key=lambda c: c.name)))
        object.__setattr__(self, "indexes", tuple(sorted(self.indexes, key=lambda i: i.name)))
        object.__setattr__(self, "triggers", tuple(sorted(self.triggers, key=lambda t: t.name)))
        if self.policies:
            object.__setattr__(self, "policies", tuple(sorted(self.policies, key=lambda p: p.name)))

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def constraint(self, name: str) -> Constraint | None:
        return next((c for c in self.constraints if c.name == name), None)

    def index(self, name: str) -> Index | None:
        return next((i for i in self.indexes if i.name == name), None)


@record
class View:
    """A view or materialized view: the front of a view-backed table, or a table's declared view.

    `definition` is the query as the compiler (or the user) wrote it; PostgreSQL reprints a view's query in its own
    words, so the text is kept in the view's comment with SOURCE_COMMENT_PREFIX. A view found without that comment
    (not made by this tool) reads back as pg_get_viewdef() prints it.
    """

    name: str
    definition: str
    materialized: bool = False
    triggers: tuple[Trigger, ...] = ()  # INSTEAD OF triggers, sorted by name
    # Relations the query reads (tables and views), for ordering; they follow from the definition.
    reads: tuple[str, ...] = field(default=(), compare=False)
    # Declared, not stored: a materialized view refreshed by every plan that changes anything.
    refresh_on_migration: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "triggers", tuple(sorted(self.triggers, key=lambda t: t.name)))
        object.__setattr__(self, "reads", tuple(sorted(set(self.reads))))

    @property
    def kind(self) -> str:
        return "materialized view" if self.materialized else "view"


@record
class Catalog:
    """The `public` schema of one database: tables and views (sorted by name) and the trigger functions they use."""

    tables: tuple[Table, ...] = ()
    functions: tuple[Function, ...] = ()
    auth_users: AuthUsers = field(default="absent", compare=False)  # see AuthUsers
    views: tuple[View, ...] = ()
    # Lookups by name (a catalog of thousands of tables is searched once per table while diffing).
    _tables_by_name: dict[str, Table] = field(init=False, repr=False, compare=False, hash=False)
    _functions_by_name: dict[str, Function] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(sorted(self.tables, key=lambda t: t.name)))
        object.__setattr__(self, "functions", tuple(sorted(self.functions, key=lambda f: f.name)))
        object.__setattr__(self, "views", tuple(sorted(self.views, key=lambda v: v.name)))
        tables: dict[str, Table] = {}
        for table in self.tables:
            tables.setdefault(table.name, table)  # the first of a name, as a search of the sorted tuple finds
        functions: dict[str, Function] = {}
        for function in self.functions:
            functions.setdefault(function.name, function)
        object.__setattr__(self, "_tables_by_name", tables)
        object.__setattr__(self, "_functions_by_name", functions)

    def table(self, name: str) -> Table | None:
        return self._tables_by_name.get(name)

    def function(self, name: str) -> Function | None:
        return self._functions_by_name.get(name)

    def view(self, name: str) -> View | None:
        return next((v for v in self.views if v.name == name), None)
