"""What a step would destroy, counted in the database from its statements, just before it runs.

The statements say what they do (`planning.statements.effects`); a plan file's `hazards` are never consulted.
Counting happens inside the migration's transaction after the tables are locked (see `session.lock_tables`),
each count in a savepoint that is always rolled back, so a count can neither fail the migration nor leave
anything behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from sovrium_tui.identifiers import quote_ident
from sovrium_tui.planning.statements import Effect, StatementFacts, analyse
from sovrium_tui.records import record
from sovrium_tui.schema.js_json import read_json

if TYPE_CHECKING:
    import asyncpg


@record
class DataLoss:
    """Data one step would destroy, counted in the database just before it would run."""

    step: str  # "step 2", "undoing version 3 step 1"
    action: str  # "drops column users.nickname"
    amount: int | None  # None when it cannot be counted
    unit: str  # plural: "rows", "non-null values"
    always: bool = False  # refused on apply even when nothing is counted (a dropped table or column)
    table: str | None = None  # the table it happens in, when in `public`: what `allowDestructive` allows

    @property
    def destroys(self) -> bool:
        """Whether it destroys something that exists now (or may: an unknown amount)."""
        return self.amount is None or self.amount > 0

    def describe(self) -> str:
        if self.amount is None:
            return f"{self.step} {self.action}"
        unit = _SINGULAR.get(self.unit, self.unit) if self.amount == 1 else self.unit
        return f"{self.step} {self.action} ({self.amount} {unit})"


BREAKING_ROWS = "rows that break it"  # the unit of a rule existing rows may break

_SINGULAR = {
    "rows": "row",
    "non-null values": "non-null value",
    "values that would change": "value that would change",
    BREAKING_ROWS: "row that breaks it",
    "rows whose values would change": "row whose values would change",
}


async def losses_of(
    conn: asyncpg.Connection,
    step: str,
    statements: Sequence[str],
    hand_written: bool = False,
    facts_of: Callable[[str], StatementFacts] = analyse,
) -> list[DataLoss]:
    """Every loss the statements of one step would cause, counted now. A trigger a hand-written step creates
    runs its function on later row changes, code the tool cannot see into: an unknown loss, like a DO block (the
    triggers the tool writes itself only set timestamps and computed values). `facts_of` reads a statement
    (`generated_facts` for what this tool wrote)."""
    found = []
    for statement in statements:
        facts = facts_of(statement)
        for effect in facts.effects:
            found.append(await _count(conn, step, effect))
        if hand_written and facts.trigger is not None:
            found.append(await _count(conn, step, Effect("opaque", detail=facts.trigger)))
    return found


def schema_tables(schema_json: str) -> dict[str, bool]:
    """The physical name of each table of a target schema → whether it says `allowDestructive: true`."""
    from sovrium_tui.schema.model import physical_table_name

    tables = read_json(schema_json).get("tables", [])
    return {
        physical_table_name(str(table.get("name", ""))): table.get("allowDestructive") is True
        for table in tables
        if isinstance(table, dict)
    }


def allowed_destructive_tables(schema_json: str) -> frozenset[str]:
    """Physical names of the tables whose target definition says `allowDestructive: true`."""
    return frozenset(name for name, allowed in schema_tables(schema_json).items() if allowed)


def refused_on_apply(losses: Iterable[DataLoss], allowed_tables: frozenset[str]) -> list[DataLoss]:
    """The losses an apply refuses: drops always (Sovrium's rule), the rest when they destroy something."""
    return [
        loss
        for loss in losses
        if (loss.always or loss.destroys) and (loss.table is None or loss.table not in allowed_tables)
    ]


async def _count(conn: asyncpg.Connection, step: str, effect: Effect) -> DataLoss:
    relation = effect.relation
    target = relation.sql if relation else ""
    label = relation.label if relation else ""
    table = relation.name if relation and relation.schema in (None, "public") else None
    column = quote_ident(effect.column) if effect.column else ""
    match effect.kind:
        case "drop_table":
            if await conn.fetchval("SELECT to_regclass($1) IS NULL", target):
                return _not_there_yet(step, f"drops table {label}", "rows", table)
            amount = await _count_or_none(conn, f"SELECT count(*) FROM {target}")
            return DataLoss(step, f"drops table {label}", amount, "rows", True, table)
        case "drop_column":
            kind = await _column_kind(conn, target, effect.column or "")
            if kind is None:
                return _not_there_yet(step, f"drops column {label}.{effect.column}", "non-null values", table)
            if kind == "computed":
                action = f"drops computed column {label}.{effect.column} (derived from other columns)"
                return DataLoss(step, action, 0, "non-null values", False, table)
            amount = await _count_or_none(conn, f"SELECT count({column}) FROM {target}")
            return DataLoss(step, f"drops column {label}.{effect.column}", amount, "non-null values", True, table)
        case "truncate":
            amount = await _count_or_none(conn, f"SELECT count(*) FROM {target}")
            return DataLoss(step, f"empties table {label} (TRUNCATE)", amount, "rows", True, table)
        case "delete":
            where = f" WHERE {effect.expression}" if effect.expression else ""
            query = f"SELECT count(*) FROM {target}{_alias(effect)}{where}"
            amount = await _count_or_none(conn, query) if effect.countable else None
            return DataLoss(step, f"deletes rows of {label}", amount, "rows", False, table)
        case "update":
            return await _count_update(conn, step, effect, target=target, label=label, table=table)
        case "alter_type":
            amount = await _count_changed(conn, target, effect)
            action = f"changes the type of column {label}.{effect.column}"
            return DataLoss(step, action, amount, "values that would change", False, table)
        case "add_check":
            query = f"SELECT count(*) FROM {target} WHERE NOT ({effect.expression})"
            amount = await _count_or_none(conn, query) if effect.expression else None
            action = f"adds a rule that existing rows may break: {label}.{effect.column}"
            return DataLoss(step, action, amount, BREAKING_ROWS, False, table)
        case "opaque":
            action = f"runs {effect.detail}, whose effect on data the tool cannot analyse"
            return DataLoss(step, action, None, "", False, table)
    raise AssertionError(effect.kind)  # pragma: no cover - the match covers EffectKind


def _not_there_yet(step: str, action: str, unit: str, table: str | None) -> DataLoss:
    """A drop of what does not exist now: an earlier step of the plan makes or renames it (it is counted again
    just before its own step runs, where it then is), or `IF EXISTS` makes the drop do nothing."""
    return DataLoss(step, action, 0, unit, False, table)


async def _column_kind(conn: asyncpg.Connection, target: str, column: str) -> Literal["plain", "computed"] | None:
    """Whether a column holds its own values or computed ones (generated, or filled by a formula trigger); None
    when there is no such column now.

    A name that is a view now (a view-backed table turning plain again: its base is renamed to it by an earlier
    step) holds no data of its own yet; the column is counted again just before its step runs.
    """
    from sovrium_tui.catalog.model import DERIVED_COMMENT

    computed = await conn.fetchval(
        "SELECT a.attgenerated <> '' OR col_description(a.attrelid, a.attnum) IS NOT DISTINCT FROM $3 "
        "OR c.relkind IN ('v', 'm') "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
        target,
        column,
        DERIVED_COMMENT,
    )
    if computed is None:
        return None
    return "computed" if computed else "plain"


async def _count_update(
    conn: asyncpg.Connection, step: str, effect: Effect, *, target: str, label: str, table: str | None
) -> DataLoss:
    """Rows whose values an UPDATE overwrites: where a set column is not NULL and would become different. Computed
    columns (a formula's, which its trigger would compute again at the row's next write) hold no data to lose."""
    columns = ", ".join(name for name, _ in effect.assignments) or "its columns"
    action = f"overwrites {columns} in {label}"
    if effect.assignments and all(
        [await _column_kind(conn, target, name) == "computed" for name, _ in effect.assignments]
    ):
        return DataLoss(
            step, f"computes {columns} in {label} again (derived from other columns)", 0, "rows", False, table
        )
    if not effect.countable or not effect.assignments:
        detail = f" ({effect.detail})" if effect.detail else ""
        return DataLoss(step, action + detail, None, "rows", False, table)
    changed = " OR ".join(
        f"({quote_ident(name)} IS NOT NULL AND {quote_ident(name)} IS DISTINCT FROM ({value}))"
        for name, value in effect.assignments
    )
    where = f"({effect.expression}) AND " if effect.expression else ""
    query = f"SELECT count(*) FROM {target}{_alias(effect)} WHERE {where}({changed})"
    return DataLoss(step, action, await _count_or_none(conn, query), "rows whose values would change", False, table)


async def _count_changed(conn: asyncpg.Connection, target: str, effect: Effect) -> int | None:
    """Values a type change would not keep: converted to the new type and back, they differ (or fail)."""
    column = quote_ident(effect.column or "")
    if effect.expression is None:
        return None
    current = await conn.fetchval(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
        target,
        effect.column,
    )
    if current is None:
        return 0
    converted = f"(({effect.using or column})::{effect.expression})::{current}"
    query = f"SELECT count(*) FROM {target} WHERE {column} IS NOT NULL AND {converted} IS DISTINCT FROM {column}"
    return await _count_or_none(conn, query, unconvertible_counts_all=f"SELECT count({column}) FROM {target}")


def _alias(effect: Effect) -> str:
    return f" AS {quote_ident(effect.alias)}" if effect.alias else ""


async def _count_or_none(
    conn: asyncpg.Connection, query: str, *, unconvertible_counts_all: str | None = None
) -> int | None:
    """Run a count in a savepoint that is always rolled back; a missing table or column counts 0, an
    expression the database cannot evaluate gives None (unknown).

    With `unconvertible_counts_all`, a value the conversion rejects means every value is at stake: that
    fallback count is returned instead.
    """
    import asyncpg

    savepoint = conn.transaction()
    await savepoint.start()
    try:
        value = await conn.fetchval(query)
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        await savepoint.rollback()
        return 0  # nothing there to lose (and the statement itself will fail, or do nothing with IF EXISTS)
    except (asyncpg.DataError, asyncpg.CannotCoerceError, asyncpg.DatatypeMismatchError, asyncpg.SyntaxOrAccessError):
        await savepoint.rollback()
        if unconvertible_counts_all is None:
            return None
        return await _count_or_none(conn, unconvertible_counts_all)
    except BaseException:
        if not conn.is_closed():
            await savepoint.rollback()
        raise
    await savepoint.rollback()  # a count changes nothing, even when the expressions it evaluates would
    return int(value)
