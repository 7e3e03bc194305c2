"""Read a live database's `public` schema into a Catalog with a fixed handful of set-based queries.

Uses `pg_catalog` only (information_schema is 4–5× slower). PostgreSQL 18 also lists NOT NULL
constraints in pg_constraint (contype 'n'); they are left out so 15 and 18 read the same.
"""

from __future__ import annotations

import gc
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sovrium_tui.catalog.model import (
    DERIVED_COMMENT,
    SOURCE_COMMENT_PREFIX,
    AuthUsers,
    Catalog,
    Column,
    Constraint,
    Function,
    Index,
    Policy,
    Table,
    Trigger,
    TriggerTiming,
    View,
)
from sovrium_tui.errors import SovriumError
from sovrium_tui.identifiers import QUOTED_KEYWORDS, requote_identifiers

if TYPE_CHECKING:
    import asyncpg

SCHEMA = "public"

# Set-based throughout: comments and owned sequences are joined, not looked up once per row (col_description and a
# per-column pg_depend probe took three quarters of this query at 500 tables), and a default is printed without
# opening its table (a default cannot name a column; a generated column's expression can, so it keeps its table).
# `build_catalog` reads the rows of this query and the next by position: their columns' order is its order.
_COLUMNS = """
SELECT c.relname AS table_name,
       a.attname AS column_name,
       a.attnum AS number,
       format_type(a.atttypid, a.atttypmod) AS column_type,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, CASE WHEN a.attgenerated = '' THEN 0 ELSE d.adrelid END) AS column_default,
       a.attgenerated = 's' AS generated,
       ds.description AS comment,
       seq.relname AS owned_sequence,
       a.attidentity <> '' AS identity
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum
LEFT JOIN (
    SELECT DISTINCT ON (dep.refobjid, dep.refobjsubid) dep.refobjid, dep.refobjsubid, s.relname
    FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
    WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
    ORDER BY dep.refobjid, dep.refobjsubid, s.relname
) seq ON seq.refobjid = c.oid AND seq.refobjsubid = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum
"""

# A constraint's columns are named from the columns read above (a subquery per constraint took half this query).
_CONSTRAINTS = """
SELECT c.relname AS table_name,
       con.conname AS name,
       con.contype::text AS kind,
       pg_get_constraintdef(con.oid) AS definition,
       con.conkey AS column_numbers,
       ref.relname AS referenced_table,
       ds.description AS comment,
       NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgconstraint = con.oid AND t.tgenabled IN ('D', 'R'))
           AS enforced
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class ref ON ref.oid = con.confrelid
LEFT JOIN pg_description ds ON ds.objoid = con.oid AND ds.classoid = 'pg_constraint'::regclass AND ds.objsubid = 0
WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f', 'c', 'x')
"""

_INDEXES = """
SELECT t.relname AS table_name,
       ic.relname AS name,
       i.indisunique AS is_unique,
       am.amname AS method,
       ARRAY(
           SELECT pg_get_indexdef(i.indexrelid, k, false) FROM generate_series(1, i.indnkeyatts) AS k
           ORDER BY k
       ) AS keys,
       pg_get_expr(i.indpred, i.indrelid) AS predicate,
       ds.description AS comment
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_description ds ON ds.objoid = i.indexrelid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
WHERE n.nspname = $1 AND t.relkind IN ('r', 'p')
  AND NOT EXISTS (
      SELECT 1 FROM pg_constraint con
      WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
  )
"""

_TRIGGERS = """
SELECT c.relname AS table_name, c.relkind IN ('v', 'm') AS on_view, t.tgname AS name, t.tgtype AS type_bits,
       p.proname AS function_name, t.tgenabled IN ('O', 'A') AS enabled
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE n.nspname = $1 AND NOT t.tgisinternal
"""

# Tables with row-level security on or forced, or with policies: one row per policy (or one without a policy).
_ROW_SECURITY = """
SELECT c.relname AS table_name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
       p.polname AS name, p.polcmd::text AS command, p.polpermissive AS permissive,
       ARRAY(
           SELECT CASE WHEN r.role = 0 THEN 'public' ELSE quote_ident(a.rolname) END
           FROM unnest(p.polroles) AS r(role) LEFT JOIN pg_roles a ON a.oid = r.role
           ORDER BY 1
       ) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using, pg_get_expr(p.polwithcheck, p.polrelid) AS check
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_policy p ON p.polrelid = c.oid
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND (c.relrowsecurity OR c.relforcerowsecurity OR p.oid IS NOT NULL)
"""

# Views and materialized views, with the relations their query reads (from the rewrite rule's dependencies).
_VIEWS = """
SELECT c.relname AS name,
       c.relkind = 'm' AS materialized,
       pg_get_viewdef(c.oid) AS definition,
       obj_description(c.oid, 'pg_class') AS comment,
       ARRAY(
           SELECT DISTINCT ref.relname
           FROM pg_rewrite r
           JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                           AND d.refclassid = 'pg_class'::regclass
           JOIN pg_class ref ON ref.oid = d.refobjid
           WHERE r.ev_class = c.oid AND ref.oid <> c.oid AND ref.relkind IN ('r', 'p', 'v', 'm')
       ) AS reads
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')
"""

_FUNCTIONS = """
SELECT p.proname AS name, p.prosrc AS body
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND p.prorettype = 'trigger'::regtype
"""

# Words this server quotes when it prints a name; where they differ from ours, its texts are re-quoted.
_QUOTED_BY_SERVER = "SELECT coalesce(array_agg(word::text), '{}') FROM pg_get_keywords() WHERE catcode <> 'U'"

_POLICY_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_CONSTRAINT_KINDS = {"p": "primary_key", "u": "unique", "f": "foreign_key", "c": "check", "x": "exclude"}

# pg_trigger.tgtype bits
_TRIGGER_BEFORE = 1 << 1
_TRIGGER_INSTEAD = 1 << 6
_TRIGGER_EVENTS = ((1 << 2, "INSERT"), (1 << 4, "UPDATE"), (1 << 3, "DELETE"), (1 << 5, "TRUNCATE"))


async def introspect(connection: asyncpg.Connection, schema: str = SCHEMA) -> Catalog:
    """The catalog of one schema as the database has it now (a fixed handful of queries, whatever the table count)."""
    import asyncpg

    if not connection.is_in_transaction():
        try:
            async with connection.transaction(readonly=True):
                return await introspect(connection, schema)
        except asyncpg.LockNotAvailableError as failure:
            raise SovriumError(
                f"cannot read the database schema: another session holds a lock on one of its tables ({failure})"
            ) from failure
    saved = await connection.fetchrow(_CURRENT_SETTINGS)
    await connection.execute(_SET_SETTINGS, *_PRINT_SETTINGS.values())
    catalog = await _read(connection, schema)
    # Not in a `finally`: after a failure the transaction is aborted, and its rollback resets them anyway.
    await connection.execute(_SET_SETTINGS, *saved)
    return catalog


# Defaults print in the session's style (time zone, date and interval style): read them in one fixed style,
# and put the caller's settings back afterwards (introspection may run inside a migration's transaction).
_PRINT_SETTINGS = {"TimeZone": "UTC", "DateStyle": "ISO, MDY", "IntervalStyle": "postgres"}
_CURRENT_SETTINGS = "SELECT " + ", ".join(f"current_setting('{name}')" for name in _PRINT_SETTINGS)
_SET_SETTINGS = "SELECT " + ", ".join(
    f"set_config('{name}', ${number}, true)" for number, name in enumerate(_PRINT_SETTINGS, start=1)
)


# Read from the catalog tables, not with to_regclass(), whose cache inside a long transaction can miss what
# another session created since.
_AUTH_USERS = """
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth') AS schema_exists,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'auth' AND c.relname = 'user' AND c.relkind IN ('r', 'p')) AS table_exists
"""


# The queries introspection sends, for the benchmark's raw baseline.
RAW_QUERIES = (
    _COLUMNS,
    _CONSTRAINTS,
    _INDEXES,
    _TRIGGERS,
    _FUNCTIONS,
    _VIEWS,
    _ROW_SECURITY,
    _AUTH_USERS,
    _QUOTED_BY_SERVER,
)

_QUOTED_BY_VERSION: dict[object, frozenset[str]] = {}


async def _differently_quoted(connection: asyncpg.Connection) -> frozenset[str]:
    """Keywords this server quotes and ours does not, or the other way round; asked once per server version."""
    version = connection.get_server_version()
    if version not in _QUOTED_BY_VERSION:
        words = await connection.fetchval(_QUOTED_BY_SERVER)
        _QUOTED_BY_VERSION[version] = frozenset(QUOTED_KEYWORDS.symmetric_difference(words))
    return _QUOTED_BY_VERSION[version]


async def _read(connection: asyncpg.Connection, schema: str) -> Catalog:
    column_rows = await connection.fetch(_COLUMNS, schema)
    constraint_rows = await connection.fetch(_CONSTRAINTS, schema)
    index_rows = await connection.fetch(_INDEXES, schema)
    trigger_rows = await connection.fetch(_TRIGGERS, schema)
    function_rows = await connection.fetch(_FUNCTIONS, schema)
    view_rows = await connection.fetch(_VIEWS, schema)
    security_rows = await connection.fetch(_ROW_SECURITY, schema)
    auth = await connection.fetchrow(_AUTH_USERS)
    differing = await _differently_quoted(connection)
    with _cycle_collector_paused():
        catalog = build_catalog(
            column_rows,
            constraint_rows,
            index_rows,
            trigger_rows,
            function_rows,
            view_rows=view_rows,
            security_rows=security_rows,
            requote=differing,
        )
    state: AuthUsers = "present" if auth["table_exists"] else "schema-only" if auth["schema_exists"] else "absent"
    return replace(catalog, auth_users=state)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the catalog is built: tens of thousands of small objects, none in a
    cycle, which would otherwise set off collections that walk every row just read (a fifth of introspecting 500
    tables with the collector's default thresholds, as the terminal UI keeps them)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Tables Sovrium itself keeps in `public`: never an app's (an app's table names start with a letter, and
# `audit_log` is refused as an app table name), never planned, never drift.
SOVRIUM_PUBLIC_TABLES = frozenset({"audit_log"})


def sovrium_owned(table_name: str) -> bool:
    """Whether a `public` table is Sovrium's own (`_webhook_deliveries`, `audit_log`, spec-era `_sovrium_*` …)."""
    return table_name.startswith("_") or table_name in SOVRIUM_PUBLIC_TABLES


def build_catalog(
    column_rows: Any,
    constraint_rows: Any,
    index_rows: Any,
    trigger_rows: Any,
    function_rows: Any,
    *,
    view_rows: Any = (),
    security_rows: Any = (),
    requote: frozenset[str] = frozenset(),
) -> Catalog:
    # Rows are read by position, in the order of their query's columns (a third of the time of reading by name).
    columns: dict[str, list[Column]] = defaultdict(list)
    column_names: dict[tuple[str, int], str] = {}
    for table_name, name, number, column_type, nullable, default, generated, comment, sequence, identity in column_rows:
        if sovrium_owned(table_name):
            continue
        if generated:
            column = Column(name, column_type, nullable, generated=_source_text(comment) or default)
        elif sequence is not None and (identity or (default is not None and default.startswith("nextval("))):
            # an identity column numbers rows as a serial one does (a table made by hand): the same to a schema
            column = Column(
                name, column_type, nullable, None, True, None, comment == DERIVED_COMMENT, sequence, identity
            )
        else:
            column = Column(
                name, column_type, nullable, default, False, None, comment == DERIVED_COMMENT, None, identity
            )
        columns[table_name].append(column)
        column_names[table_name, number] = name
    constraints: dict[str, list[Constraint]] = defaultdict(list)
    for table_name, name, kind, definition, numbers, references, comment, enforced in constraint_rows:
        if table_name not in columns:
            continue  # not a table this catalog holds
        source = _source_text(comment)
        constraints[table_name].append(
            Constraint(
                name,
                _CONSTRAINT_KINDS[kind],  # type: ignore[arg-type]
                source if source is not None else requote_identifiers(definition, requote),
                _constrained_columns(table_name, numbers, column_names),
                references,
                source is not None,
                enforced,
            )
        )
    indexes: dict[str, list[Index]] = defaultdict(list)
    for table_name, name, unique, method, keys, predicate, comment in index_rows:
        source = _source_text(comment)
        verbatim = source is not None and predicate is not None
        shown = source if verbatim else _requoted(predicate, requote)
        written = tuple(keys) if not requote else tuple(requote_identifiers(key, requote) for key in keys)
        indexes[table_name].append(Index(name, table_name, written, unique, method, shown, verbatim))
    triggers: dict[str, list[Trigger]] = defaultdict(list)
    view_triggers: dict[str, list[Trigger]] = defaultdict(list)
    for table_name, on_view, name, bits, function_name, enabled in trigger_rows:
        timing, events = _TRIGGER_KINDS.get(bits) or _trigger_kind(bits)
        (view_triggers if on_view else triggers)[table_name].append(
            Trigger(name, table_name, timing, events, function_name, enabled)
        )
    security: dict[str, tuple[bool, bool]] = {}
    policies: dict[str, list[Policy]] = defaultdict(list)
    for row in security_rows:
        security[row["table_name"]] = (row["enabled"], row["forced"])
        if row["name"] is not None:
            using, check = (row[key] and requote_identifiers(row[key], requote) for key in ("using", "check"))
            policies[row["table_name"]].append(
                Policy(
                    name=row["name"],
                    command=_POLICY_COMMANDS[row["command"]],  # type: ignore[arg-type]
                    permissive=row["permissive"],
                    roles=tuple(row["roles"]),
                    using=using,
                    check=check,
                )
            )
    tables = tuple(
        Table(
            name=name,
            columns=tuple(table_columns),
            constraints=tuple(constraints.get(name, ())),
            indexes=tuple(indexes.get(name, ())),
            triggers=tuple(triggers.get(name, ())),
            row_security=security.get(name, (False, False))[0],
            force_row_security=security.get(name, (False, False))[1],
            policies=tuple(policies.get(name, ())),
        )
        for name, table_columns in columns.items()
    )
    functions = tuple(Function(name=row["name"], body=row["body"]) for row in function_rows)
    views = tuple(
        View(
            name=row["name"],
            definition=_view_definition(row),
            materialized=row["materialized"],
            triggers=tuple(view_triggers.get(row["name"], ())),
            reads=tuple(row["reads"]),
        )
        for row in view_rows
    )
    return Catalog(tables=tables, functions=functions, views=views)


# pg_attribute's numbers for the system columns (a CHECK constraint may name tableoid).
_SYSTEM_COLUMN_NAMES = {-1: "ctid", -2: "xmin", -3: "cmin", -4: "xmax", -5: "cmax", -6: "tableoid"}


def _constrained_columns(table: str, numbers: list[int] | None, names: dict[tuple[str, int], str]) -> tuple[str, ...]:
    """A constraint's columns by name, in its order; an expression (number 0) names none."""
    if not numbers:
        return ()
    try:
        return tuple([names[table, number] for number in numbers])
    except KeyError:  # a system column (a CHECK may name tableoid), or an expression
        found = (names.get((table, number)) or _SYSTEM_COLUMN_NAMES.get(number) for number in numbers)
        return tuple(name for name in found if name is not None)


def _requoted(text: str | None, words: frozenset[str]) -> str | None:
    return requote_identifiers(text, words) if text and words else text


_TRIGGER_KINDS: dict[int, tuple[TriggerTiming, tuple[str, ...]]] = {}


def _trigger_kind(bits: int) -> tuple[TriggerTiming, tuple[str, ...]]:
    """A trigger's timing and events from pg_trigger.tgtype (remembered: a catalog has few distinct ones)."""
    timing: TriggerTiming = "INSTEAD OF" if bits & _TRIGGER_INSTEAD else "BEFORE" if bits & _TRIGGER_BEFORE else "AFTER"
    kind = _TRIGGER_KINDS[bits] = (timing, tuple(event for bit, event in _TRIGGER_EVENTS if bits & bit))
    return kind


def _view_definition(row: Any) -> str:
    """The query as this tool wrote it (the view's comment), else as PostgreSQL prints it."""
    source = _source_text(row["comment"])
    return source if source is not None else str(row["definition"]).strip().rstrip(";")


def _source_text(comment: str | None) -> str | None:
    """The user's own SQL we keep in an object's comment, when the comment is ours."""
    if comment is None or not comment.startswith(SOURCE_COMMENT_PREFIX):
        return None
    return comment[len(SOURCE_COMMENT_PREFIX) :]


def fingerprint(catalog: Catalog) -> str:
    """A SHA-256 over the app's catalog, stable across runs, for drift and stale-plan checks.

    Better Auth's users table is Sovrium's, not the app's: whether it exists is left out. Properties added since
    fingerprints were first recorded (views, computed columns) are left out while they hold their empty value, so
    a database migrated by an earlier version keeps its fingerprint.
    """
    document = catalog_document(catalog)
    document.pop("auth_users", None)
    if not document["views"]:
        document.pop("views")
    for table in document["tables"]:
        for column in table["columns"]:
            del column["sequence"], column["identity"]  # how the database numbers it, not a property (see Column)
            if column["generated"] is None and not column["derived"]:
                del column["generated"], column["derived"]
        _drop_when_true(table["constraints"], "enforced")
        _drop_when_true(table["triggers"], "enabled")
        if not (table["row_security"] or table["force_row_security"] or table["policies"]):
            del table["row_security"], table["force_row_security"], table["policies"]
    for view in document.get("views", ()):
        _drop_when_true(view["triggers"], "enabled")  # always (PostgreSQL cannot disable a view's triggers)
    import orjson

    # A catalog holds text, booleans and null only: orjson's key-sorted text is json.dumps's, five times faster.
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _drop_when_true(items: list[dict[str, Any]], key: str) -> None:
    for item in items:
        if item[key] is True:
            del item[key]


_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAVES = frozenset({str, bool, int, type(None)})


def catalog_document(value: Any) -> Any:
    """`dataclasses.asdict(value)` for a catalog (dataclasses of text, tuples and booleans), without its deep copies:
    the fingerprint's input, taken twice per migration (1.3 s for 500 tables with asdict; a leaf is copied where it
    is met, not by a call of its own: 0.04 s instead of 0.07–0.18)."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is tuple or kind is list:
        return [item if type(item) in _LEAVES else catalog_document(item) for item in value]
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclass_fields(value) if f.init)  # not derived lookups
    document = {}
    for name in names:
        item = getattr(value, name)
        document[name] = item if type(item) in _LEAVES else catalog_document(item)
    return document
