"""The relational model (Catalog) and the compiler from an App to it.

The compiler (and the schema package it reads) is imported on first use: commands that only read plans and the
database (`apply`, `status`, `history`) start without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sovrium_tui.catalog.model import (
    Catalog,
    Column,
    Constraint,
    ConstraintKind,
    Function,
    Index,
    Table,
    Trigger,
    View,
)

if TYPE_CHECKING:
    from sovrium_tui.catalog.compile import compile_app, junction_table_name

__all__ = [
    "Catalog",
    "Column",
    "Constraint",
    "ConstraintKind",
    "Function",
    "Index",
    "Table",
    "Trigger",
    "View",
    "compile_app",
    "junction_table_name",
]

_COMPILER = frozenset({"compile_app", "junction_table_name"})


def __getattr__(name: str) -> object:
    if name in _COMPILER:
        from sovrium_tui.catalog import compile

        return getattr(compile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
