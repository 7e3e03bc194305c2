"""Plan SQL read with PostgreSQL's own grammar (libpg_query, through pglast): what each statement may do.

Two questions are answered here, for every statement a plan holds:

- `statement_problem`: can it be in a plan at all? One statement per item, valid PostgreSQL, nothing that ends
  or escapes the plan's one transaction (COMMIT, SAVEPOINT, SET TRANSACTION …), nothing that cannot run inside
  a transaction block (CREATE INDEX CONCURRENTLY, VACUUM …), nothing that needs a client data stream (COPY …
  FROM STDIN), and nothing that changes how the server reads later SQL (standard_conforming_strings).
  Nor anything that writes the tool's own bookkeeping (`system.migration_history` …): the audit trail and the
  recorded state are written by the tool alone.
- `effects`: what data it can destroy, from the statement itself and never from what a plan file says:
  dropped tables and columns, truncations, deletes, overwriting updates, type changes, new CHECK rules, and
  code the parser cannot see into (DO, CALL …). The executor counts each effect in the database just before
  the statement runs.

Every statement is first read as libpg_query's JSON (about 0.04 ms for a 14-column CREATE TABLE); only
statements whose JSON mentions something that can destroy data are decoded and walked, and only those whose
loss is counted are parsed into pglast's node objects to print their expressions back as SQL.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, Literal

from sovrium_tui.identifiers import quote_ident
from sovrium_tui.pgparse import TOO_DEEP, with_deep_trees
from sovrium_tui.records import record

EffectKind = Literal[
    "drop_table",
    "drop_column",
    "truncate",
    "delete",
    "update",
    "alter_type",
    "add_check",
    "opaque",
]

# Effects that are refused on apply even when nothing would be counted (Sovrium's rule for drops).
ALWAYS_DESTRUCTIVE: frozenset[EffectKind] = frozenset({"drop_table", "drop_column", "truncate"})


@record
class Relation:
    """A table as a statement names it; `schema` None means the search path (this tool's: `public`)."""

    name: str
    schema: str | None = None

    @property
    def sql(self) -> str:
        """The name as SQL, quoted as needed."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}" if self.schema else quote_ident(self.name)

    @property
    def label(self) -> str:
        """The name for people: `customers`, or `audit.events` outside `public`."""
        return self.name if self.schema in (None, "public") else f"{self.schema}.{self.name}"


@record
class Effect:
    """One way a statement can destroy data, with what the executor needs to count it.

    `expression` is SQL text printed back from the statement: the new type (`alter_type`), the CHECK
    condition (`add_check`), the WHERE condition (`delete`, `update`); `using` is an ALTER TYPE's USING
    expression; `assignments` an UPDATE's (column, new value) pairs. `countable` is False when the statement's
    shape (a USING list, a multi-column assignment …) leaves no sound count; the loss is then unknown.
    """

    kind: EffectKind
    relation: Relation | None = None
    column: str | None = None
    expression: str | None = None
    using: str | None = None
    assignments: tuple[tuple[str, str | None], ...] = ()
    alias: str | None = None
    countable: bool = True
    detail: str = ""  # for `opaque`: what could not be analysed ("DO block", "CALL archive_orders()")


@record
class StatementFacts:
    """What one statement is and does: its problem (None when it may be in a plan), effects, relations."""

    problem: str | None
    effects: tuple[Effect, ...] = ()
    relations: tuple[Relation, ...] = ()  # existing tables it alters, renames, drops or writes rows of
    # `CREATE TRIGGER name (…)` when it creates a trigger or an event trigger: code that runs on later changes
    trigger: str | None = None


# --- reading ---------------------------------------------------------------------------------------------

_SEVERAL = "more than one statement in one item (put each statement in its own list item)"

# The tool's bookkeeping in schema `system` (execution/store.py creates it). A step may read it, not change it.
BOOKKEEPING_SCHEMA = "system"
BOOKKEEPING_TABLES = ("schema_checksum", "migration_history", "migration_log")
# Statements that only read what they name (or annotate it): they cannot change what is recorded.
_READS = frozenset({"SelectStmt", "ExplainStmt", "CommentStmt", "GrantStmt", "ViewStmt", "CreateTableAsStmt"})
_WRITES = ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt")

# Statements PostgreSQL refuses inside a transaction block (or that need a client data stream).
_OUTSIDE_TRANSACTION = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "DropSubscriptionStmt": "DROP SUBSCRIPTION",
    "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
}

# Node types that make a statement worth decoding: anything that can destroy data, break the transaction,
# or touch an existing table's rows or structure, wherever it is nested. A statement without any of them (CREATE
# TABLE, CREATE INDEX, CREATE FUNCTION, COMMENT …), not concurrent and not a top-level SELECT, is accepted from
# its JSON text alone. Node types are found as the keys `"…Stmt":` of that text (`_statement_nodes`).
_WORTH_DECODING = frozenset(
    {
        "TransactionStmt",
        "VariableSetStmt",
        "VacuumStmt",
        "ReindexStmt",
        "ClusterStmt",
        "DiscardStmt",
        "CopyStmt",
        "DoStmt",
        "CallStmt",
        "ExecuteStmt",
        "RuleStmt",
        "DropOwnedStmt",
        "DeleteStmt",
        "UpdateStmt",
        "TruncateStmt",
        "MergeStmt",
        "InsertStmt",
        "DropStmt",
        "AlterTableStmt",
        "RenameStmt",
        "AlterDatabaseStmt",
        "AlterDatabaseSetStmt",
        "AlterDatabaseRefreshCollStmt",
        *_OUTSIDE_TRANSACTION,
    }
)
_STATEMENT_KEY_END = 'Stmt":'
_CONCURRENT = '"concurrent":true'
_TOP_LEVEL_SELECT = '"stmts":[{"stmt":{"SelectStmt":'

# Functions a top-level SELECT may call without being treated as code the tool cannot see into.
_HARMLESS_FUNCTIONS = frozenset(
    {
        "setval",
        "nextval",
        "currval",
        "pg_notify",
        "count",
        "max",
        "min",
        "now",
        "current_setting",
        "version",
        "pg_sleep",
        "to_regclass",
    }
)


def statement_problem(statement: str) -> str | None:
    """Why this text cannot be one statement of a plan, or None when it can."""
    return analyse(statement).problem


def _worth_decoding(text: str) -> bool:
    """Whether a statement's JSON parse tree may hold anything `_problem` or `_effects` looks for."""
    return (
        any(node in _WORTH_DECODING for node in _statement_nodes(text))
        or _CONCURRENT in text
        or _TOP_LEVEL_SELECT in text
    )


def _statement_nodes(tree_json: str) -> Iterator[str]:
    """The node types `"…Stmt"` that are keys of a parse tree's JSON text. A quote inside a JSON string is escaped,
    so `Stmt":` only ends a key; found with `str.find`, a fifth of the time a regular expression takes."""
    end = tree_json.find(_STATEMENT_KEY_END)
    while end != -1:
        yield tree_json[tree_json.rfind('"', 0, end) + 1 : end + 4]
        end = tree_json.find(_STATEMENT_KEY_END, end + len(_STATEMENT_KEY_END))


# What this tool writes to make something new — a table, an index, a function, a trigger — or to comment on it:
# nothing in it reads or changes what is already there (analysed, it has no problem, effect nor relation).
_CREATES_ONLY = re.compile(
    r"(?:CREATE (?:TABLE|(?:UNIQUE )?INDEX(?! CONCURRENTLY)|(?:OR REPLACE )?FUNCTION|TRIGGER) |COMMENT ON )"
)
_CREATES = StatementFacts(None)


@functools.lru_cache(maxsize=65536)  # read before the steps run, and again by each step
def generated_facts(statement: str) -> StatementFacts:
    """`analyse` for a statement this tool generated, in a plan it made itself or whose digest is intact: one that
    only creates, and is plainly one statement that names nothing of the bookkeeping, is taken as written, not
    parsed again (a third of the Python time of applying 500 new tables); any other is analysed."""
    if _CREATES_ONLY.match(statement) and _plainly_one_statement(statement):
        return _CREATES
    return analyse(statement)


def _plainly_one_statement(statement: str) -> bool:
    """Whether a text is at most one statement and mentions neither the bookkeeping schema nor the setting that
    changes how statements are read, as seen without a parser: every quote closed, and outside the quoted texts no
    `;`, no comment and no `$` (a dollar quote: what is inside is not read as quoted here); no backslash or NUL
    anywhere. Up to the first comment, dollar quote or backslash this reading is PostgreSQL's own, and each of those
    is refused where it starts."""
    if "\\" in statement or "\x00" in statement:
        return False
    lowered = statement.lower()
    if BOOKKEEPING_SCHEMA in lowered or "standard_conforming_strings" in lowered:
        return False
    rest = _unquoted(statement)
    return rest is not None and not any(mark in rest for mark in (";", "--", "/*", "$"))


def _unquoted(statement: str) -> str | None:
    """The text outside '…' and "…" (a doubled quote stays inside, as PostgreSQL reads it with
    standard_conforming_strings on); None when a quote is never closed."""
    outside: list[str] = []
    start = 0
    while True:
        single, double = statement.find("'", start), statement.find('"', start)
        opening = double if single == -1 or (double != -1 and double < single) else single
        if opening == -1:
            outside.append(statement[start:])
            return "".join(outside)
        outside.append(statement[start:opening])
        quote = statement[opening]
        closing = statement.find(quote, opening + 1)
        while closing != -1 and statement.startswith(quote, closing + 1):  # a doubled quote: still inside
            closing = statement.find(quote, closing + 2)
        if closing == -1:
            return None
        start = closing + 1


@functools.lru_cache(maxsize=65536)  # a plan's statements are read several times while it runs
def analyse(statement: str) -> StatementFacts:
    """Parse one plan statement and say what it is and what it may destroy."""
    from pglast import parser

    if not statement.strip():
        return StatementFacts("empty statement")
    if "\x00" in statement:  # PostgreSQL's parser stops reading at a NUL, and so would the server
        return StatementFacts("holds a NUL character, which PostgreSQL cannot take in a statement")
    if "standard_conforming_strings" in statement.lower():
        return StatementFacts(
            "changes standard_conforming_strings, which would change how the server reads the statements "
            "after it; this tool runs every plan with it on"
        )
    try:
        text = parser.parse_sql_json(statement)
    except parser.ParseError as failure:
        return StatementFacts(_parse_error(statement, failure))
    count = text.count('{"stmt":')
    if count == 0:
        return StatementFacts("expected exactly one statement (this item holds only comments)")
    if count > 1:
        return StatementFacts(_SEVERAL)
    if f'"{BOOKKEEPING_SCHEMA}"' in text:  # a name in the schema, or the schema itself (cheap test first)
        problem = with_deep_trees(lambda: _bookkeeping_problem(json.loads(text)))
        if problem is not None:
            return StatementFacts(problem)
    trigger = _created_trigger(text)
    if not _worth_decoding(text):
        return StatementFacts(None, trigger=trigger)
    try:
        facts = with_deep_trees(lambda: _facts(statement, json.loads(text)))
    except RecursionError:
        return StatementFacts(TOO_DEEP)
    return facts if trigger is None else replace(facts, trigger=trigger)


_CREATED_TRIGGERS = tuple(
    (f'"{node_type}":', re.compile(rf'"{node_type}":\{{.*?"trigname":"((?:[^"\\]|\\.)*)"'), what)
    for node_type, what in (("CreateTrigStmt", "TRIGGER"), ("CreateEventTrigStmt", "EVENT TRIGGER"))
)


def _created_trigger(tree_json: str) -> str | None:
    for key, pattern, what in _CREATED_TRIGGERS:
        if key in tree_json:
            found = pattern.search(tree_json)
            name = json.loads(f'"{found.group(1)}"') if found else "?"
            return f"CREATE {what} {name} (its function runs on later changes)"
    return None


def _facts(statement: str, document: Any) -> StatementFacts:
    node_type, node = next(iter(document["stmts"][0]["stmt"].items()))
    problem = _problem(node_type, node)
    if problem is not None:
        return StatementFacts(problem)
    return StatementFacts(None, tuple(_effects(statement, node_type, node)), tuple(_relations(node_type, node)))


def _bookkeeping_problem(document: Any) -> str | None:
    """Why a statement may not run in a plan because it changes the tool's bookkeeping, or None.

    Changed: a bookkeeping table an INSERT, UPDATE, DELETE or MERGE writes (at any depth), or one named by any
    other statement that is not a read (DROP, ALTER, TRUNCATE, LOCK, CREATE TRIGGER ON …); the schema itself
    dropped, renamed, moved or given away.
    """
    node_type, node = next(iter(document["stmts"][0]["stmt"].items()))
    if node_type in ("DropStmt", "RenameStmt", "AlterOwnerStmt") and (
        node.get("removeType", node.get("renameType", node.get("objectType"))) == "OBJECT_SCHEMA"
    ):
        names = [item.get("String", {}).get("sval") for item in node.get("objects", ())]
        if BOOKKEEPING_SCHEMA in (*names, node.get("subname"), node.get("object", {}).get("String", {}).get("sval")):
            return _BOOKKEEPING_REFUSAL.format(what=f"schema {BOOKKEEPING_SCHEMA}")
    if node_type in _READS or node_type in _WRITES:
        changed = {_bookkeeping_name(inner.get("relation", {})) for kind in _WRITES for inner in _nodes(document, kind)}
    else:
        changed = {_bookkeeping_name(found) for found in _range_vars(document)}
        for qualified in _nodes(document, "List"):
            parts = [item.get("String", {}).get("sval") for item in qualified.get("items", ())]
            if len(parts) >= 2:
                changed.add(_bookkeeping_name({"schemaname": parts[-2], "relname": parts[-1]}))
    changed.discard(None)
    if not changed:
        return None
    return _BOOKKEEPING_REFUSAL.format(what=", ".join(sorted(f"{BOOKKEEPING_SCHEMA}.{name}" for name in changed)))


def _range_vars(tree: object) -> Iterator[Mapping[str, Any]]:
    """Every table reference below `tree`: RangeVar nodes, also where a statement holds one without its tag."""
    stack: list[object] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "relname" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


_BOOKKEEPING_REFUSAL = (
    "changes {what}, this tool's own bookkeeping (the audit trail and the recorded state): only the tool writes "
    "it, so a step may read it but not change it"
)


def _bookkeeping_name(range_var: Mapping[str, Any]) -> str | None:
    """The name of a bookkeeping table, or of its index, key or sequence (`migration_history_id_seq`), or None."""
    name = range_var.get("relname")
    if range_var.get("schemaname") != BOOKKEEPING_SCHEMA or not isinstance(name, str):
        return None
    return name if name.startswith(tuple(BOOKKEEPING_TABLES)) else None


def _parse_error(statement: str, failure: Exception) -> str:
    message = str(failure.args[0]) if failure.args else str(failure)
    location = failure.args[1] if len(failure.args) > 1 else None
    if isinstance(location, int) and 0 <= location <= len(statement):
        line = statement.count("\n", 0, location) + 1
        column = location - (statement.rfind("\n", 0, location) + 1) + 1
        where = f" at line {line}, column {column}" if "\n" in statement else f" at character {location + 1}"
        return f"does not parse as PostgreSQL: {message}{where}"
    return f"does not parse as PostgreSQL: {message}"


def _problem(node_type: str, node: Mapping[str, Any]) -> str | None:
    """Statements that break the plan's one transaction, or cannot run inside it."""
    if node_type == "TransactionStmt":
        kind = str(node.get("kind", "")).removeprefix("TRANS_STMT_").replace("_", " ")
        return (
            f"transaction control ({kind}) is not allowed: each plan runs as one transaction, which the tool "
            "begins and commits itself"
        )
    if node_type == "VariableSetStmt":
        if node.get("name") in ("TRANSACTION", "SESSION CHARACTERISTICS"):
            return f"SET {node['name']} is not allowed: the tool sets up the plan's transaction itself"
        if node.get("kind") == "VAR_RESET_ALL":
            return "RESET ALL is not allowed: it would undo the settings the tool runs the plan with"
        return None
    if node_type in _OUTSIDE_TRANSACTION:
        return f"{_OUTSIDE_TRANSACTION[node_type]} cannot run inside a transaction block, and a plan is one transaction"
    if node.get("concurrent") is True:
        verb = "CREATE INDEX" if node_type == "IndexStmt" else "DROP INDEX"
        return f"{verb} CONCURRENTLY cannot run inside a transaction block, and a plan is one transaction"
    if node_type == "ReindexStmt":
        options = {_def_name(item) for item in node.get("params", ())}
        if "concurrently" in options:
            return "REINDEX CONCURRENTLY cannot run inside a transaction block, and a plan is one transaction"
        if node.get("kind") in ("REINDEX_OBJECT_SYSTEM", "REINDEX_OBJECT_DATABASE"):
            return "REINDEX SYSTEM/DATABASE cannot run inside a transaction block, and a plan is one transaction"
    if node_type == "VacuumStmt" and node.get("is_vacuumcmd"):
        return "VACUUM cannot run inside a transaction block, and a plan is one transaction"
    if node_type == "ClusterStmt" and not node.get("relation"):
        return "CLUSTER without a table cannot run inside a transaction block, and a plan is one transaction"
    if node_type == "DiscardStmt" and node.get("target") == "DISCARD_ALL":
        return "DISCARD ALL cannot run inside a transaction block, and a plan is one transaction"
    if node_type == "AlterDatabaseStmt" and any(_def_name(o) == "tablespace" for o in node.get("options", ())):
        return "ALTER DATABASE … SET TABLESPACE cannot run inside a transaction block"
    if node_type == "CopyStmt" and not node.get("filename") and not node.get("is_program"):
        direction = "FROM STDIN" if node.get("is_from") else "TO STDOUT"
        return f"COPY … {direction} needs a client data stream, which a plan cannot provide"
    return None


def _def_name(item: Mapping[str, Any]) -> str:
    return str(item.get("DefElem", {}).get("defname", ""))


# --- effects -----------------------------------------------------------------------------------------------


def _effects(statement: str, node_type: str, node: Mapping[str, Any]) -> Iterator[Effect]:
    match node_type:
        case "DropStmt":
            yield from _drop_effects(node)
        case "TruncateStmt":
            for item in node.get("relations", ()):
                yield Effect("truncate", _relation(item["RangeVar"]))
        case "AlterTableStmt":
            yield from _alter_table_effects(statement, node)
        case "DoStmt":
            yield Effect("opaque", detail="DO block")
        case "CallStmt":
            yield Effect("opaque", detail=f"CALL {_function_name(node.get('funccall', {}))}()")
        case "ExecuteStmt":
            yield Effect("opaque", detail=f"EXECUTE {node.get('name', '')}")
        case "RuleStmt":
            yield Effect("opaque", detail=f"CREATE RULE {node.get('rulename', '')} (it rewrites later statements)")
        case "DropOwnedStmt":
            yield Effect("opaque", detail="DROP OWNED (drops every object a role owns)")
        case "SelectStmt":
            called = sorted({_function_name(f) for f in _nodes(node, "FuncCall")} - _HARMLESS_FUNCTIONS)
            if called:
                yield Effect("opaque", detail=f"SELECT calling {', '.join(f'{name}()' for name in called)}")
    yield from _data_modifications(statement, node_type, node)


def _drop_effects(node: Mapping[str, Any]) -> Iterator[Effect]:
    kind = node.get("removeType")
    cascade = node.get("behavior") == "DROP_CASCADE"
    if kind == "OBJECT_TABLE":
        for item in node.get("objects", ()):
            names = [part["String"]["sval"] for part in item.get("List", {}).get("items", ())]
            if names:
                yield Effect("drop_table", Relation(names[-1], names[-2] if len(names) > 1 else None))
    elif cascade and kind in ("OBJECT_SCHEMA", "OBJECT_TYPE", "OBJECT_DOMAIN", "OBJECT_EXTENSION"):
        what = str(kind).removeprefix("OBJECT_").lower()
        yield Effect("opaque", detail=f"DROP {what.upper()} … CASCADE (drops the tables or columns that depend on it)")


def _alter_table_effects(statement: str, node: Mapping[str, Any]) -> Iterator[Effect]:
    if node.get("objtype") not in (None, "OBJECT_TABLE"):
        return
    relation = _relation(node["relation"])
    commands = [command["AlterTableCmd"] for command in node.get("cmds", ())]
    needs_text = any(c.get("subtype") in ("AT_AlterColumnType", "AT_AddConstraint") for c in commands)
    printed = _printed_commands(statement) if needs_text else {}
    for position, command in enumerate(commands):
        subtype = command.get("subtype")
        if subtype == "AT_DropColumn":
            yield Effect("drop_column", relation, command.get("name"))
        elif subtype == "AT_AlterColumnType":
            type_sql, using_sql = printed.get(position, (None, None))
            yield Effect("alter_type", relation, command.get("name"), type_sql, using_sql)
        elif subtype == "AT_AddConstraint":
            constraint = command.get("def", {}).get("Constraint", {})
            if constraint.get("contype") == "CONSTR_CHECK" and not constraint.get("skip_validation"):
                name = constraint.get("conname") or "a new CHECK constraint"
                yield Effect("add_check", relation, name, printed.get(position, (None, None))[0])


def _data_modifications(statement: str, node_type: str, node: Mapping[str, Any]) -> Iterator[Effect]:
    """DELETE, UPDATE, MERGE and INSERT … ON CONFLICT DO UPDATE, at the top level or nested in a CTE."""
    found = [(node_type, node)] if node_type in ("DeleteStmt", "UpdateStmt", "MergeStmt", "InsertStmt") else []
    found += [(kind, inner) for kind in ("DeleteStmt", "UpdateStmt", "MergeStmt") for inner in _nodes(node, kind)]
    found += [("InsertStmt", inner) for inner in _nodes(node, "InsertStmt")]
    printed = _printed_modifications(statement) if any(k in ("DeleteStmt", "UpdateStmt") for k, _ in found) else []
    for kind, inner in found:
        relation = _relation(inner["relation"]) if "relation" in inner else None
        alias = inner.get("relation", {}).get("alias", {}).get("aliasname")
        if kind == "InsertStmt":
            conflict = inner.get("onConflictClause", {})
            if conflict.get("action") == "ONCONFLICT_UPDATE":
                yield Effect("update", relation, countable=False, detail="INSERT … ON CONFLICT DO UPDATE")
        elif kind == "MergeStmt":
            yield Effect("opaque", relation, detail=f"MERGE INTO {relation.label if relation else '?'}")
        elif kind == "UpdateStmt" and _fills_only(inner):
            continue  # a backfill: it writes only where the column is empty, so no value is lost
        else:
            where, assignments = next(
                ((w, a) for (k, loc, w, a) in printed if k == kind and loc == inner["relation"].get("location")),
                (None, ()),
            )
            shaped = not inner.get("usingClause") and not inner.get("fromClause") and not inner.get("withClause")
            countable = shaped and (kind == "DeleteStmt" or all(value is not None for _, value in assignments))
            yield Effect(
                "delete" if kind == "DeleteStmt" else "update",
                relation,
                expression=where,
                assignments=assignments,
                alias=alias,
                countable=countable,
            )


def _fills_only(update: Mapping[str, Any]) -> bool:
    """Whether an UPDATE sets only columns its WHERE requires to be NULL (`SET c = … WHERE c IS NULL AND …`, no
    FROM, no WITH): it fills empty values, never overwrites one."""
    if update.get("fromClause") or update.get("withClause"):
        return False
    assigned = {item["ResTarget"].get("name") for item in update.get("targetList", ()) if "ResTarget" in item}
    where = update.get("whereClause") or {}
    both = where.get("BoolExpr", {})
    conditions = both.get("args", ()) if both.get("boolop") == "AND_EXPR" else (where,)
    empty = set()
    for condition in conditions:
        test = condition.get("NullTest", {})
        fields = test.get("arg", {}).get("ColumnRef", {}).get("fields", ())
        if test.get("nulltesttype") == "IS_NULL" and fields and "String" in fields[-1]:
            empty.add(fields[-1]["String"]["sval"])
    return bool(assigned) and assigned <= empty


def _relations(node_type: str, node: Mapping[str, Any]) -> Iterator[Relation]:
    """Existing tables whose rows or structure the statement changes: locked before anything is counted."""
    if node_type in ("AlterTableStmt", "RenameStmt", "DeleteStmt", "UpdateStmt", "InsertStmt", "MergeStmt"):
        target = node.get("relation")
        renames_table = node.get("renameType", "OBJECT_TABLE") in ("OBJECT_TABLE", "OBJECT_COLUMN")
        if target and renames_table and node.get("objtype", "OBJECT_TABLE") == "OBJECT_TABLE":
            yield _relation(target)
    elif node_type == "TruncateStmt":
        yield from (_relation(item["RangeVar"]) for item in node.get("relations", ()))
    elif node_type == "DropStmt" and node.get("removeType") == "OBJECT_TABLE":
        for item in node.get("objects", ()):
            names = [part["String"]["sval"] for part in item.get("List", {}).get("items", ())]
            if names:
                yield Relation(names[-1], names[-2] if len(names) > 1 else None)
    for kind in ("DeleteStmt", "UpdateStmt", "MergeStmt", "InsertStmt"):
        for inner in _nodes(node, kind):
            if "relation" in inner:
                yield _relation(inner["relation"])


# --- helpers over libpg_query's JSON ------------------------------------------------------------------------


def _relation(range_var: Mapping[str, Any]) -> Relation:
    return Relation(str(range_var["relname"]), range_var.get("schemaname"))


def _function_name(call: Mapping[str, Any]) -> str:
    inner = call.get("FuncCall", call)
    parts = [part["String"]["sval"] for part in inner.get("funcname", ())]
    return ".".join(parts) if parts else "?"


def _nodes(tree: object, kind: str) -> Iterator[dict[str, Any]]:
    """Every node of `kind` below `tree` (not `tree` itself), depth first."""
    stack: list[object] = [tree]
    first = True
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == kind and not first and isinstance(value, dict):
                    yield value
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        first = False


# --- expressions printed back as SQL (pglast's node objects; only for statements whose loss is counted) -------


_Modification = tuple[str, int, str | None, tuple[tuple[str, str | None], ...]]


def _printed_commands(statement: str) -> dict[int, tuple[str | None, str | None]]:
    """ALTER TABLE commands by position: (new type, USING) for type changes, (condition, None) for CHECKs."""
    from pglast.stream import RawStream

    printed: dict[int, tuple[str | None, str | None]] = {}
    try:
        node: Any = _parsed(statement)
        for position, command in enumerate(node.cmds or ()):
            definition = command.def_
            if type(definition).__name__ == "ColumnDef":
                using = definition.raw_default
                printed[position] = (
                    RawStream()(definition.typeName),
                    RawStream()(using) if using is not None else None,
                )
            elif type(definition).__name__ == "Constraint" and definition.raw_expr is not None:
                printed[position] = (RawStream()(definition.raw_expr), None)
    except Exception:  # printing back is best effort: an effect without its text counts as unknown
        return {}
    return printed


def _printed_modifications(statement: str) -> list[_Modification]:
    """(kind, relation location, WHERE condition, assignments) of each DELETE and UPDATE in the statement."""
    from pglast import visitors
    from pglast.stream import RawStream

    found: list[_Modification] = []

    def where_of(node: Any) -> str | None:
        return RawStream()(node.whereClause) if node.whereClause is not None else None

    class Collect(visitors.Visitor):
        def visit_DeleteStmt(self, ancestors: Any, node: Any) -> None:
            found.append(("DeleteStmt", node.relation.location, where_of(node), ()))

        def visit_UpdateStmt(self, ancestors: Any, node: Any) -> None:
            assignments: list[tuple[str, str | None]] = []
            for target in node.targetList or ():
                value = target.val
                plain = type(value).__name__ not in ("SetToDefault", "MultiAssignRef") and not target.indirection
                assignments.append((target.name, RawStream()(value) if plain else None))
            found.append(("UpdateStmt", node.relation.location, where_of(node), tuple(assignments)))

    try:
        Collect()(_parsed(statement))
    except Exception:  # printing back is best effort: an effect without its text counts as unknown
        return []
    return found


def _parsed(statement: str) -> Any:
    from pglast import parser

    return parser.parse_sql(statement)[0].stmt


def named_relations(statement: str) -> tuple[Relation, ...]:
    """Every table a statement names (for saying who held a lock it waited for); empty when it does not parse."""
    from pglast import parser

    try:
        return with_deep_trees(lambda: _named_relations(json.loads(parser.parse_sql_json(statement))))
    except (parser.ParseError, ValueError, RecursionError):
        return ()


def _named_relations(document: Any) -> tuple[Relation, ...]:
    found = dict.fromkeys(_relation(node) for node in _nodes(document, "RangeVar"))
    for drop in _nodes(document, "DropStmt"):
        if drop.get("removeType") == "OBJECT_TABLE":
            found.update(dict.fromkeys(_relations("DropStmt", drop)))
    return tuple(found)
