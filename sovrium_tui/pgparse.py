"""PostgreSQL's own parser (libpg_query, through pglast) where schema and plan checks share it: what its lexer
refuses, and parse trees read as JSON without running out of Python's recursion.

A parse tree is decoded and walked recursively, and an expression nests two levels per operator: a CHECK of
600 terms (`a + a + … + a`) is 1,200 levels, past Python's default 1,000 frames. Trees are read with room for
`MAX_TREE_DEPTH` levels (well inside the C stack of a thread); a deeper one is refused with a reason, never a
crash. Schema validation reads its expressions with a margin below that, so that every statement it lets a
plan hold is one the plan checker can read again.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")

MAX_TREE_DEPTH = 6000
_EXPRESSION_MARGIN = 500  # the statement a schema expression ends up in nests it a few levels deeper
TOO_DEEP = "nests too deeply for this tool to read (more than about 2,500 operators or brackets inside each other)"


def with_deep_trees(job: Callable[[], _T], *, depth: int = MAX_TREE_DEPTH) -> _T:
    """`job()` with Python's recursion limit raised to `depth` (never lowered); RecursionError past it."""
    limit = sys.getrecursionlimit()
    if limit >= depth:
        return job()
    sys.setrecursionlimit(depth)
    try:
        return job()
    finally:
        sys.setrecursionlimit(limit)


def lexer_problem(text: str) -> str | None:
    """What PostgreSQL's lexer refuses in `text` (an escape such as E'\\x00' that is no valid UTF-8), or None."""
    from pglast import parser

    try:
        parser.scan(text)
    except parser.ParseError as failure:
        return str(failure.args[0]) if failure.args else str(failure)
    return None


def expression_problem(expression: str) -> str | None:
    """Why PostgreSQL's parser, or this tool's reading of its tree, cannot take `expression` as an expression
    in a statement (None when it can). Other rules (one boolean expression, no subquery) are the caller's."""
    from pglast import parser

    problem = lexer_problem(expression)
    if problem is not None:
        return f"is not valid PostgreSQL: {problem}"
    try:
        tree = parser.parse_sql_json(f"SELECT ({expression})")
    except parser.ParseError:
        return None  # the caller's own parser reports what is wrong with it, in its words
    try:
        with_deep_trees(lambda: json.loads(tree), depth=MAX_TREE_DEPTH - _EXPRESSION_MARGIN)
    except RecursionError:
        return TOO_DEEP
    return None


def syntax_problem(expression: str) -> str | None:
    """PostgreSQL's syntax error for `expression` in a statement, with its position in `expression`, or None."""
    from pglast import parser

    opening = "SELECT ("
    try:
        parser.parse_sql_json(f"{opening}{expression})")
    except parser.ParseError as failure:
        message = str(failure.args[0]) if failure.args else str(failure)
        index = failure.args[1] - len(opening) if len(failure.args) > 1 and isinstance(failure.args[1], int) else -1
        return f"{message} (character {index + 1})" if 0 <= index < len(expression) else message
    return None


@functools.lru_cache(maxsize=1024)  # a rule is read by validation and again by compile
def column_references(expression: str) -> tuple[tuple[str, ...], ...] | None:
    """The column references of an expression as PostgreSQL reads them (each a name, or table and name; quoted
    names as written, others folded to lower case), or None when its parser cannot read the expression."""
    from pglast import parser

    try:
        tree = with_deep_trees(lambda: json.loads(parser.parse_sql_json(f"SELECT ({expression})")))
    except (parser.ParseError, RecursionError):
        return None
    found: list[tuple[str, ...]] = []
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            reference = node.get("ColumnRef")
            if isinstance(reference, dict):
                names = [item["String"]["sval"] for item in reference.get("fields", ()) if "String" in item]
                found.append(tuple(names))
                continue
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return tuple(found)


def unqualified(expression: str, qualifier: str) -> str | None:
    """The expression as PostgreSQL's printer writes it, its column references `qualifier.x` written `x` (a trigger
    body's `NEW.price` read as a column of the row); None when its parser cannot read the expression."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError
    from pglast.stream import RawStream
    from pglast.visitors import Visitor

    class _Unqualify(Visitor):
        def visit_ColumnRef(self, ancestors: object, node: ast.ColumnRef) -> ast.ColumnRef | None:
            names = node.fields or ()
            if len(names) == 2 and isinstance(names[0], ast.String) and names[0].sval == qualifier:
                return ast.ColumnRef(fields=(names[1],))
            return None

    try:
        tree = with_deep_trees(lambda: parse_sql(f"SELECT ({expression})"))
        _Unqualify()(tree)
        printed = str(with_deep_trees(lambda: RawStream()(tree)))
    except (ParseError, RecursionError):
        return None
    return printed.removeprefix("SELECT ")
