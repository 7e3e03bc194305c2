"""SQL for each change kind, from one dispatch; a reverse is the forward of the reversed change."""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.identifiers import UnreadableSql, quote_ident, quote_literal, setting_proof
from sovrium_tui.planning import ddl
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
)


def forward_sql(change: Change) -> tuple[str, ...]:
    """The statements that make this change, one per item, without trailing semicolons.

    Literals are written so that no server setting changes their meaning (see `setting_proof`).
    """
    try:
        return tuple(setting_proof(statement) for statement in _statements(change))
    except UnreadableSql as failure:  # validation reads the schema's SQL with the same lexer: a last guard
        message = f"{change.target}: PostgreSQL cannot read the SQL written for it ({failure})"
        raise SchemaInvalid((Problem(message),)) from None


def _statements(change: Change) -> tuple[str, ...]:
    match change:
        case CreateAuthUsers(create_schema):
            return ddl.create_auth_users_sql(create_schema)
        case DropAuthUsers(drop_schema):
            return ddl.drop_auth_users_sql(drop_schema)
        case CreateTable(table):
            return (
                ddl.create_table_sql(table),
                *ddl.late_constraints_sql(table),
                *(comment for c in table.constraints for comment in ddl.source_comment_sql(table.name, c)),
                *(
                    sql
                    for index in table.indexes
                    for sql in (ddl.create_index_sql(index), *ddl.source_comment_sql("", index))
                ),
                *(sql for trigger in table.triggers for sql in ddl.trigger_sql(trigger)),
                *(comment for column in table.columns for comment in ddl.column_comment_sql(table.name, column)),
                *ddl.row_security_sql(table.name, (False, False), (table.row_security, table.force_row_security)),
                *(ddl.create_policy_sql(table.name, policy) for policy in table.policies),
            )
        case DropTable(table):
            return (f"DROP TABLE {_table(table.name)}",)
        case RenameTable(old, new):
            return (f"ALTER TABLE {_table(old)} RENAME TO {quote_ident(new)}",)
        case AddColumn(table, column, expression):
            return (
                f"ALTER TABLE {_table(table)} ADD COLUMN {ddl.column_definition_sql(column, expression=expression)}",
                *ddl.column_comment_sql(table, column),
            )
        case DropColumn(table, column):
            return (f"ALTER TABLE {_table(table)} DROP COLUMN {quote_ident(column.name)}",)
        case RenameColumn(table, old, new):
            return (f"ALTER TABLE {_table(table)} RENAME COLUMN {quote_ident(old)} TO {quote_ident(new)}",)
        case AlterColumnType(table, column, _before, after, using):
            using_sql = f" USING {using}" if using else ""
            return (f"ALTER TABLE {_table(table)} ALTER COLUMN {quote_ident(column)} TYPE {after}{using_sql}",)
        case SetDefault(table, column, _before, after):
            action = "DROP DEFAULT" if after is None else f"SET DEFAULT {after}"
            return (f"ALTER TABLE {_table(table)} ALTER COLUMN {quote_ident(column)} {action}",)
        case AttachSequence(table, column, column_type, sequence):
            return _attach_sequence_sql(table, column, column_type, sequence)
        case DetachSequence(table, column, _type, sequence, identity):
            if identity:  # its sequence goes with it
                return (f"ALTER TABLE {_table(table)} ALTER COLUMN {quote_ident(column)} DROP IDENTITY",)
            return (
                f"ALTER TABLE {_table(table)} ALTER COLUMN {quote_ident(column)} DROP DEFAULT",
                f"DROP SEQUENCE {_table(sequence)}",
            )
        case SetNotNull(table, column, backfill, quiet):
            fill: tuple[str, ...] = (
                (f"UPDATE {_table(table)} SET {quote_ident(column)} = {backfill} WHERE {quote_ident(column)} IS NULL",)
                if backfill
                else ()
            )
            if fill and quiet:
                fill = (_switch_triggers(table, "DISABLE", quiet), *fill, _switch_triggers(table, "ENABLE", quiet))
            return (*fill, f"ALTER TABLE {_table(table)} ALTER COLUMN {quote_ident(column)} SET NOT NULL")
        case DropNotNull(table, column):
            return (f"ALTER TABLE {_table(table)} ALTER COLUMN {quote_ident(column)} DROP NOT NULL",)
        case AddConstraint(table, constraint, _narrowing, written_now):
            written = constraint if written_now is None else replace(constraint, definition=written_now)
            return (ddl.add_constraint_sql(table, written), *ddl.source_comment_sql(table, constraint))
        case DropConstraint(table, constraint):
            return (f"ALTER TABLE {_table(table)} DROP CONSTRAINT {quote_ident(constraint.name)}",)
        case RenameConstraint(table, old, new):
            return (f"ALTER TABLE {_table(table)} RENAME CONSTRAINT {quote_ident(old)} TO {quote_ident(new)}",)
        case CreateIndex(index, written_now):
            as_written = index if written_now is None else replace(index, predicate=written_now)
            return (ddl.create_index_sql(as_written), *ddl.source_comment_sql(index.table, index))
        case DropIndex(index):
            return (f"DROP INDEX {_table(index.name)}",)
        case RenameIndex(_table_name, old, new):
            return (f"ALTER INDEX {_table(old)} RENAME TO {quote_ident(new)}",)
        case CreateTrigger(trigger):
            return ddl.trigger_sql(trigger)
        case DropTrigger(trigger):
            return (f"DROP TRIGGER {quote_ident(trigger.name)} ON {_table(trigger.table)}",)
        case RenameTrigger(table, old, new):
            return (f"ALTER TRIGGER {quote_ident(old)} ON {_table(table)} RENAME TO {quote_ident(new)}",)
        case SetRowSecurity(table, before, after):
            return ddl.row_security_sql(table, before, after)
        case CreatePolicy(table, policy):
            return (ddl.create_policy_sql(table, policy),)
        case DropPolicy(table, policy):
            return (ddl.drop_policy_sql(table, policy),)
        case CreateFunction(function) | ReplaceFunction(_, function):
            return (ddl.create_function_sql(function),)
        case DropFunction(function):
            return (f"DROP FUNCTION {_table(function.name)}()",)
        case RenameFunction(old, new):
            return (f"ALTER FUNCTION {_table(old)}() RENAME TO {quote_ident(new)}",)
        case CreateView(view):
            return ddl.create_view_sql(view)
        case DropView(view):
            return (ddl.drop_view_sql(view),)
        case RefreshView(view):
            return (ddl.refresh_view_sql(view),)
        case ComputeColumns(table, columns, quiet, empty_only, on_rollback):
            return () if on_rollback else _compute_columns_sql(table, columns[0], quiet, empty_only=empty_only)
        case _:
            assert_never(change)


def _attach_sequence_sql(table: str, column: str, column_type: str, sequence: str) -> tuple[str, ...]:
    """What SERIAL makes (a sequence the column owns, its `nextval` as the default), then the sequence set to
    give the value after the largest one there (1 for an empty table or one of negative numbers only)."""
    name = quote_literal(_table(sequence))
    return (
        f"CREATE SEQUENCE {_table(sequence)} AS {column_type} OWNED BY {_table(table)}.{quote_ident(column)}",
        f"ALTER TABLE {_table(table)} ALTER COLUMN {quote_ident(column)} SET DEFAULT {ddl.nextval_sql(sequence)}",
        f"SELECT setval({name}::regclass, GREATEST(max({quote_ident(column)}), 0)::bigint + 1, false)"
        f" FROM {_table(table)}",
    )


def _compute_columns_sql(table: str, column: str, quiet: tuple[str, ...], *, empty_only: bool) -> tuple[str, ...]:
    """Every row (or those where `column` is empty) updated once, for the formula trigger to compute it, with the
    table's other UPDATE triggers disabled meanwhile (and enabled again)."""
    where = f" WHERE {quote_ident(column)} IS NULL" if empty_only else ""
    update = f"UPDATE {_table(table)} SET {quote_ident(column)} = NULL{where} /* the formula trigger computes it */"
    if not quiet:
        return (update,)
    return (_switch_triggers(table, "DISABLE", quiet), update, _switch_triggers(table, "ENABLE", quiet))


def _switch_triggers(table: str, action: str, triggers: tuple[str, ...]) -> str:
    return f"ALTER TABLE {_table(table)} " + ", ".join(f"{action} TRIGGER {quote_ident(t)}" for t in triggers)


def reverse_sql(change: Change) -> tuple[str, ...]:
    return forward_sql(change.reverse())


def _table(name: str) -> str:
    return f"public.{quote_ident(name)}"
