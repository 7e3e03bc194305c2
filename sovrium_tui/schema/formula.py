"""A formula read as a SQL tree (sqlglot, PostgreSQL dialect): the names it uses and what it must not contain.

A formula is one SQL expression over the fields of its own table. sqlglot costs about 125 ms to import, so it is
imported here only when an app has a formula; the catalog translates the same tree to the column's SQL.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sovrium_tui.records import record


class FormulaError(ValueError):
    """A formula that is not one plain expression over its own table's fields; the message says why."""


@record
class ParsedFormula:
    """The expression tree (never mutated: copy it before rewriting) and the column names it reads."""

    tree: Any  # sqlglot.exp.Expression
    names: tuple[str, ...]  # as PostgreSQL folds them (unquoted names lower-cased), first use first


_NAMED = re.compile(r"\bAS\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def parse_formula(text: str) -> ParsedFormula:
    """Parse one formula, refusing statements, several expressions, subqueries and other tables' columns."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from sovrium_tui.pgparse import expression_problem

    if not text.strip():
        raise FormulaError("the formula is empty")
    try:
        parsed = [tree for tree in sqlglot.parse(text, dialect="postgres") if tree is not None]
    except SqlglotError as failure:
        reason = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        raise FormulaError(f"not a valid SQL expression: {_plain(reason)}") from None
    if len(parsed) != 1:
        raise FormulaError(f"a formula is one expression, found {len(parsed)} statements")
    problem = expression_problem(text)
    if problem is not None:
        raise FormulaError(f"the formula {problem}")
    tree = parsed[0]
    if isinstance(tree, exp.Subquery):
        raise FormulaError("a formula cannot contain a subquery")
    if isinstance(tree, exp.Alias):
        if _NAMED.search(text) is None:  # two terms side by side, which sqlglot reads as a name given to the first
            from sovrium_tui.pgparse import syntax_problem

            raise FormulaError(f"not a valid SQL expression: {syntax_problem(text) or 'two terms side by side'}")
        raise FormulaError("a formula cannot name its result (AS …): the field's name is its name")
    if isinstance(tree, exp.Query) or not isinstance(tree, exp.Condition):
        raise FormulaError("a formula is an expression, not a statement")
    if next(tree.find_all(exp.Query, exp.Subquery), None) is not None:
        raise FormulaError("a formula cannot contain a subquery")
    if next(tree.find_all(exp.Table), None) is not None:
        raise FormulaError("a formula cannot read other tables")
    if next(tree.find_all(exp.Star), None) is not None:
        raise FormulaError("a formula cannot use *")
    if next(tree.find_all(exp.Placeholder, exp.Parameter), None) is not None:
        raise FormulaError("a formula cannot contain parameters")
    names: dict[str, None] = {}
    for column in tree.find_all(exp.Column):
        if column.table:
            raise FormulaError(f"a formula reads only its own table's fields, not {column.sql(dialect='postgres')}")
        names[column_name(column)] = None
    return ParsedFormula(tree, tuple(names))


def column_name(column: Any) -> str:
    """The name a column reference means: quoted names as written, unquoted ones lower-cased as PostgreSQL does."""
    identifier = column.this
    return str(identifier.name) if identifier.quoted else str(identifier.name).lower()


def _plain(reason: str) -> str:
    """sqlglot's message without its terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", reason)
