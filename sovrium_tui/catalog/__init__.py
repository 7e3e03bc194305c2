"""The relational model (Catalog) and the compiler from an App to it."""

from __future__ import annotations

from sovrium_tui.catalog.compile import compile_app, junction_table_name
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
