"""SQL text for catalog objects: the building blocks every change renders with, and a whole-catalog script.

Names go through `quote_ident` and strings through `quote_literal`; the deparsed texts a Catalog holds
(types, defaults, constraint definitions, index keys and predicates) are already valid SQL and are used as
they are. Statements carry no trailing semicolon.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sovrium_tui.catalog.model import (
    DERIVED_COMMENT,
    SOURCE_COMMENT_PREFIX,
    Catalog,
    Column,
    Constraint,
    Function,
    Index,
    Policy,
    Table,
    Trigger,
    View,
)
from sovrium_tui.identifiers import quote_ident, quote_literal, setting_proof

SCHEMA = "public"


def nextval_sql(sequence: str) -> str:
    """The next value of a public sequence, as SERIAL writes a column's default."""
    return f"nextval({quote_literal(f'public.{quote_ident(sequence)}')}::regclass)"


_SERIAL_TYPES = {"integer": "serial", "bigint": "bigserial", "smallint": "smallserial"}
_TRIGGER_EVENTS = frozenset({"INSERT", "UPDATE", "DELETE", "TRUNCATE"})
_TRIGGER_TIMINGS = frozenset({"BEFORE", "AFTER", "INSTEAD OF"})


def qualified(name: str) -> str:
    """`public.<name>`, quoted as needed."""
    return f"{SCHEMA}.{quote_ident(name)}"


def column_definition_sql(column: Column, *, expression: str | None = None) -> str:
    """`name type [NOT NULL] [DEFAULT expr]`, with `serial`/`bigserial` for sequence-backed columns; a generated
    column computed from `expression` when given (else from its source text)."""
    if column.generated is not None:
        computed = expression or column.generated
        return f"{quote_ident(column.name)} {column.type} GENERATED ALWAYS AS ({computed}) STORED"
    pg_type = _SERIAL_TYPES[column.type] if column.serial else column.type
    not_null = "" if column.nullable else " NOT NULL"
    default = f" DEFAULT {column.default}" if column.default is not None and not column.serial else ""
    return f"{quote_ident(column.name)} {pg_type}{not_null}{default}"


def constraint_definition_sql(constraint: Constraint) -> str:
    """`CONSTRAINT name definition`, as it appears in CREATE TABLE and ADD CONSTRAINT."""
    return f"CONSTRAINT {quote_ident(constraint.name)} {constraint.definition}"


def create_table_sql(table: Table) -> str:
    """CREATE TABLE with its columns and its constraints but exclusion ones (see `late_constraints`)."""
    items = [column_definition_sql(c) for c in table.columns]
    items += [constraint_definition_sql(c) for c in table.constraints if c.kind != "exclude"]
    body = ",\n".join(f"    {item}" for item in items)
    return f"CREATE TABLE {qualified(table.name)} (\n{body}\n)"


def late_constraints_sql(table: Table) -> list[str]:
    """Exclusion constraints, added after CREATE TABLE as Sovrium adds them (and as the plan SQL checker reads)."""
    return [add_constraint_sql(table.name, c) for c in table.constraints if c.kind == "exclude"]


def drop_table_sql(table: Table) -> str:
    return f"DROP TABLE {qualified(table.name)}"


def add_column_sql(table_name: str, column: Column) -> str:
    return f"ALTER TABLE {qualified(table_name)} ADD COLUMN {column_definition_sql(column)}"


def drop_column_sql(table_name: str, column: Column) -> str:
    return f"ALTER TABLE {qualified(table_name)} DROP COLUMN {quote_ident(column.name)}"


def add_constraint_sql(table_name: str, constraint: Constraint) -> str:
    return f"ALTER TABLE {qualified(table_name)} ADD {constraint_definition_sql(constraint)}"


def drop_constraint_sql(table_name: str, constraint: Constraint) -> str:
    return f"ALTER TABLE {qualified(table_name)} DROP CONSTRAINT {quote_ident(constraint.name)}"


def create_index_sql(index: Index) -> str:
    """The statement exactly as pg_get_indexdef() prints it for this index."""
    unique = "UNIQUE " if index.unique else ""
    where = f" WHERE {index.predicate}" if index.predicate else ""
    keys = ", ".join(index.keys)
    return (
        f"CREATE {unique}INDEX {quote_ident(index.name)} ON {qualified(index.table)} "
        f"USING {quote_ident(index.method)} ({keys}){where}"
    )


def drop_index_sql(index: Index) -> str:
    return f"DROP INDEX {qualified(index.name)}"


def create_function_sql(function: Function) -> str:
    """CREATE OR REPLACE a plpgsql trigger function whose prosrc is exactly `function.body`."""
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(function.name)}() RETURNS trigger "
        f"LANGUAGE plpgsql AS {quote_literal(function.body)}"
    )


def drop_function_sql(function: Function) -> str:
    return f"DROP FUNCTION {qualified(function.name)}()"


def create_trigger_sql(trigger: Trigger) -> str:
    """A row-level trigger, its events in the order pg_get_triggerdef prints them."""
    unknown = set(trigger.events) - _TRIGGER_EVENTS
    if unknown or not trigger.events or trigger.timing not in _TRIGGER_TIMINGS:
        raise ValueError(f"not a trigger this tool creates: {trigger}")
    events = " OR ".join(trigger.events)
    return (
        f"CREATE TRIGGER {quote_ident(trigger.name)} {trigger.timing} {events} ON {qualified(trigger.table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {qualified(trigger.function)}()"
    )


def trigger_sql(trigger: Trigger) -> tuple[str, ...]:
    """The trigger as it is: created, then disabled when it was found disabled (the reverse of dropping it)."""
    if trigger.enabled:
        return (create_trigger_sql(trigger),)
    disable = f"ALTER TABLE {qualified(trigger.table)} DISABLE TRIGGER {quote_ident(trigger.name)}"
    return (create_trigger_sql(trigger), disable)


def drop_trigger_sql(trigger: Trigger) -> str:
    return f"DROP TRIGGER {quote_ident(trigger.name)} ON {qualified(trigger.table)}"


def row_security_sql(table_name: str, before: tuple[bool, bool], after: tuple[bool, bool]) -> tuple[str, ...]:
    """The ALTER TABLE statements that take row-level security from `before` to `after` (enabled, forced)."""
    statements = []
    if before[0] != after[0]:
        statements.append(
            f"ALTER TABLE {qualified(table_name)} {'ENABLE' if after[0] else 'DISABLE'} ROW LEVEL SECURITY"
        )
    if before[1] != after[1]:
        statements.append(
            f"ALTER TABLE {qualified(table_name)} {'FORCE' if after[1] else 'NO FORCE'} ROW LEVEL SECURITY"
        )
    return tuple(statements)


def create_policy_sql(table_name: str, policy: Policy) -> str:
    kind = "PERMISSIVE" if policy.permissive else "RESTRICTIVE"
    using = f" USING ({policy.using})" if policy.using is not None else ""
    check = f" WITH CHECK ({policy.check})" if policy.check is not None else ""
    return (
        f"CREATE POLICY {quote_ident(policy.name)} ON {qualified(table_name)} AS {kind} FOR {policy.command} "
        f"TO {', '.join(policy.roles)}{using}{check}"
    )


def drop_policy_sql(table_name: str, policy: Policy) -> str:
    return f"DROP POLICY {quote_ident(policy.name)} ON {qualified(table_name)}"


def source_comment_sql(table_name: str, item: Constraint | Index) -> tuple[str, ...]:
    """Keep the user's own SQL text where introspection reads it back (see `Constraint.verbatim`)."""
    if not item.verbatim:
        return ()
    if isinstance(item, Constraint):
        text = quote_literal(SOURCE_COMMENT_PREFIX + item.definition)
        return (f"COMMENT ON CONSTRAINT {quote_ident(item.name)} ON {qualified(table_name)} IS {text}",)
    text = quote_literal(SOURCE_COMMENT_PREFIX + (item.predicate or ""))
    return (f"COMMENT ON INDEX {qualified(item.name)} IS {text}",)


def column_comment_sql(table_name: str, column: Column) -> tuple[str, ...]:
    """Mark a computed column where introspection reads it back: its generation text, or that a trigger fills it."""
    if column.generated is not None:
        text = SOURCE_COMMENT_PREFIX + column.generated
    elif column.derived:
        text = DERIVED_COMMENT
    else:
        return ()
    target = f"{qualified(table_name)}.{quote_ident(column.name)}"
    return (f"COMMENT ON COLUMN {target} IS {quote_literal(text)}",)


def create_view_sql(view: View) -> tuple[str, ...]:
    """CREATE [MATERIALIZED] VIEW, the comment that keeps its query as written, and its INSTEAD OF triggers."""
    kind = view.kind.upper()
    comment = quote_literal(SOURCE_COMMENT_PREFIX + view.definition)
    return (
        f"CREATE {kind} {qualified(view.name)} AS\n{view.definition}",
        f"COMMENT ON {kind} {qualified(view.name)} IS {comment}",
        *(create_trigger_sql(trigger) for trigger in view.triggers),  # a view's triggers cannot be disabled
    )


def drop_view_sql(view: View) -> str:
    return f"DROP {view.kind.upper()} {qualified(view.name)}"


def refresh_view_sql(view: View) -> str:
    return f"REFRESH MATERIALIZED VIEW {qualified(view.name)}"


def view_creation_order(views: Iterable[View]) -> list[View]:
    """Views with the views they read first (ties by name); a cycle keeps name order."""
    pending = sorted(views, key=lambda v: v.name)
    names = {v.name for v in pending}
    created: set[str] = set()
    ordered: list[View] = []
    while pending:
        ready = next((v for v in pending if (set(v.reads) & names) <= created | {v.name}), pending[0])
        pending.remove(ready)
        created.add(ready.name)
        ordered.append(ready)
    return ordered


# Better Auth's users table exactly as Sovrium's first Drizzle migration creates it.
AUTH_USERS_TABLE_SQL = """CREATE TABLE auth."user" (
    id text PRIMARY KEY NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    email_verified boolean DEFAULT false NOT NULL,
    image text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    role text,
    banned boolean DEFAULT false,
    ban_reason text,
    ban_expires timestamp with time zone,
    two_factor_enabled boolean DEFAULT false,
    "scheduledErasureAt" timestamp with time zone,
    CONSTRAINT user_email_unique UNIQUE (email)
)"""


def create_auth_users_sql(create_schema: bool) -> tuple[str, ...]:
    return (*(("CREATE SCHEMA auth",) if create_schema else ()), AUTH_USERS_TABLE_SQL)


def drop_auth_users_sql(drop_schema: bool) -> tuple[str, ...]:
    return ('DROP TABLE auth."user"', *(("DROP SCHEMA auth",) if drop_schema else ()))


def create_catalog_sql(catalog: Catalog) -> list[str]:
    """Statements that build `catalog` in an empty schema: functions, tables, late foreign keys, indexes, triggers,
    views.

    Tables come in foreign-key order (referenced first). A foreign key that cannot be created with its table
    (its target is in a cycle with it, or relies on a unique index that does not exist yet) is added with
    ALTER TABLE once every table and index exists.
    """
    ordered, deferred = _creation_order(catalog)
    statements = []
    if catalog.auth_users == "present":  # a script for an empty database: create what user fields point at
        statements += [
            "CREATE SCHEMA IF NOT EXISTS auth",
            AUTH_USERS_TABLE_SQL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1),
        ]
    statements += [create_function_sql(f) for f in catalog.functions]
    for table in ordered:
        postponed = {c.name for c in deferred.get(table.name, ())}
        kept = tuple(c for c in table.constraints if c.name not in postponed)
        statements.append(create_table_sql(replace(table, constraints=kept)))
        statements += late_constraints_sql(table)
    statements += [s for t in ordered for c in t.constraints for s in source_comment_sql(t.name, c)]
    statements += [s for t in ordered for i in t.indexes for s in (create_index_sql(i), *source_comment_sql(t.name, i))]
    statements += [add_constraint_sql(t.name, c) for t in ordered for c in deferred.get(t.name, ())]
    statements += [create_trigger_sql(tr) for t in ordered for tr in t.triggers]
    statements += [s for t in ordered for c in t.columns for s in column_comment_sql(t.name, c)]
    statements += [s for v in view_creation_order(catalog.views) for s in create_view_sql(v)]
    return [setting_proof(statement) for statement in statements]


def _creation_order(catalog: Catalog) -> tuple[list[Table], dict[str, list[Constraint]]]:
    """Tables with their targets first (ties by name) and the foreign keys that must wait for later."""
    names = {t.name for t in catalog.tables}
    deferred: dict[str, list[Constraint]] = {}
    waiting: dict[str, list[Constraint]] = {}
    for table in catalog.tables:
        for fk in _foreign_keys(table, names):
            if _needs_unique_index(catalog, fk):
                deferred.setdefault(table.name, []).append(fk)
            elif fk.references != table.name:
                waiting.setdefault(table.name, []).append(fk)
    created: set[str] = set()
    ordered: list[Table] = []
    remaining = list(catalog.tables)
    while remaining:
        ready = next((t for t in remaining if _targets(waiting, t.name) <= created), None)
        if ready is None:  # a cycle: create the first table now, its still-missing foreign keys later
            ready = remaining[0]
            late = [fk for fk in waiting.get(ready.name, ()) if fk.references not in created]
            deferred.setdefault(ready.name, []).extend(late)
        remaining.remove(ready)
        created.add(ready.name)
        ordered.append(ready)
    return ordered, {name: sorted(fks, key=lambda c: c.name) for name, fks in deferred.items()}


def _foreign_keys(table: Table, names: set[str]) -> Iterable[Constraint]:
    """Foreign keys to tables in this catalog (auth.user and other outside tables exist already)."""
    return (c for c in table.constraints if c.kind == "foreign_key" and c.references in names)


def _targets(waiting: dict[str, list[Constraint]], table_name: str) -> set[str]:
    return {fk.references for fk in waiting.get(table_name, ()) if fk.references is not None}


def _needs_unique_index(catalog: Catalog, fk: Constraint) -> bool:
    """Whether the referenced columns are unique only through an index (created after the tables)."""
    target = catalog.table(fk.references or "")
    referenced = _referenced_columns(fk.definition)
    if target is None or referenced is None:
        return False
    keys = {c.columns for c in target.constraints if c.kind in ("primary_key", "unique")}
    return referenced not in {tuple(sorted(k)) for k in keys}


def _referenced_columns(definition: str) -> tuple[str, ...] | None:
    """The referenced column names of a `FOREIGN KEY (…) REFERENCES t(…)` text, sorted, unquoted."""
    _, found, rest = definition.partition(" REFERENCES ")
    opening, closing = rest.find("("), rest.find(")")
    if not found or opening < 0 or closing < opening:
        return None
    names = [name.strip().strip('"').replace('""', '"') for name in rest[opening + 1 : closing].split(",")]
    return tuple(sorted(names))
