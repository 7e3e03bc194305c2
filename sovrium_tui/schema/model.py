"""The validated app schema: what the user declared, as frozen values; nothing downstream sees raw dicts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# A field default as the user wrote it: a scalar, or a tuple of strings for multi-select / array.
DefaultValue = str | int | float | bool | tuple[str, ...]

RelationType = Literal["many-to-one", "one-to-one", "one-to-many", "many-to-many"]
PrimaryKeyType = Literal["composite", "uuid", "text", "bigserial", "auto-increment"]


@dataclass(frozen=True, slots=True)
class Field:
    """One declared field of a table. Type-specific settings are None/empty when not given."""

    id: int
    name: str
    type: str
    required: bool = False
    unique: bool = False
    indexed: bool = False
    default: DefaultValue | None = None
    # integer, decimal, currency, percentage, rating
    min: int | float | None = None
    max: int | float | None = None
    precision: int | None = None
    # single-select, multi-select, status (option values, in declared order)
    options: tuple[str, ...] = ()
    max_selections: int | None = None
    # relationship
    related_table: str | None = None
    relation_type: RelationType | None = None
    related_field: str | None = None
    on_delete: str | None = None
    on_update: str | None = None
    # array
    item_type: str | None = None
    max_items: int | None = None
    # single-attachment, multiple-attachments
    store_metadata: bool = False
    max_files: int | None = None
    # rich-text
    max_length: int | None = None
    full_text_search: bool = False
    # barcode
    format: str | None = None


@dataclass(frozen=True, slots=True)
class PrimaryKey:
    type: PrimaryKeyType
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A table-level `indexes[]` entry."""

    name: str
    fields: tuple[str, ...]
    unique: bool = False
    where: str | None = None


@dataclass(frozen=True, slots=True)
class UniqueSpec:
    """A table-level composite unique rule (`uniqueConstraints[]` with a name, or `unique[]` without)."""

    fields: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ForeignKeySpec:
    """A table-level composite foreign key (`foreignKeys[]`)."""

    name: str
    fields: tuple[str, ...]
    referenced_table: str
    referenced_fields: tuple[str, ...]
    on_delete: str | None = None
    on_update: str | None = None


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A table-level raw CHECK (`constraints[]`)."""

    name: str
    check: str


@dataclass(frozen=True, slots=True)
class Table:
    id: int | str
    name: str
    fields: tuple[Field, ...]
    primary_key: PrimaryKey | None = None
    indexes: tuple[IndexSpec, ...] = ()
    unique_constraints: tuple[UniqueSpec, ...] = ()
    foreign_keys: tuple[ForeignKeySpec, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    allow_destructive: bool = False

    @property
    def physical_name(self) -> str:
        return physical_table_name(self.name)

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True, slots=True)
class App:
    """A whole validated app schema.

    `document` is the canonical JSON text of the decoded tables (ids filled in, defaults applied): it is what
    the checksum covers and what history stores, so the App can be rebuilt from the database alone.
    """

    name: str
    tables: tuple[Table, ...]
    auth: bool = False
    document: str = field(default="[]", compare=False, repr=False)
    _by_name: dict[str, Table] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Table] = {}
        for table in self.tables:
            by_name.setdefault(table.name, table)  # the first of a name, as a linear search would find
        object.__setattr__(self, "_by_name", by_name)

    def table_named(self, name: str) -> Table | None:
        return self._by_name.get(name)


_NOT_IDENT = re.compile(r"[^a-z0-9_]+")
_UNDERSCORES = re.compile(r"_+")


def physical_table_name(name: str) -> str:
    """Sovrium's sanitised table name: lowercase, other characters to `_`, runs collapsed, ends trimmed."""
    lowered = _NOT_IDENT.sub("_", name.lower())
    return _UNDERSCORES.sub("_", lowered).strip("_")
