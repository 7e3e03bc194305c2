"""The validated app schema: what the user declared, as frozen values; nothing downstream sees raw dicts."""

from __future__ import annotations

import functools
import re
from dataclasses import field
from typing import Literal

from sovrium_tui.identifiers import truncate_identifier
from sovrium_tui.records import record
from sovrium_tui.schema.field_types import VIEW_COMPUTED_TYPES

# A field default as the user wrote it: a scalar, or a tuple of strings for multi-select / array.
DefaultValue = str | int | float | bool | tuple[str, ...]

RelationType = Literal["many-to-one", "one-to-one", "one-to-many", "many-to-many"]
PrimaryKeyType = Literal["composite", "uuid", "text", "bigserial", "auto-increment"]

# A filter value as written: a scalar, or a list of scalars for `in`.
FilterScalar = str | int | float | bool | None
FilterValue = FilterScalar | tuple[FilterScalar, ...]


@record
class FilterCondition:
    """One `{field, operator, value}` of a lookup, rollup, count or table view filter."""

    field: str
    operator: str
    value: FilterValue = None


@record
class FilterGroup:
    """`{and: [...]}` or `{or: [...]}`: conditions (or groups) combined."""

    kind: Literal["and", "or"]
    items: tuple[FilterNode, ...]


FilterNode = FilterCondition | FilterGroup


@record
class AiSettings:
    """What an AI field's trigger needs: its source fields, when it fires, and the provider hints it passes on."""

    source_fields: tuple[str, ...]
    compute_on: str | None = None  # create, update, both, manual; None: Sovrium's default (insert only)
    prompt: str | None = None
    system_prompt: str | None = None
    model: str | None = None
    temperature: int | float | None = None
    max_tokens: int | None = None
    categories: tuple[str, ...] = ()  # ai-categorize
    tags: tuple[str, ...] = ()  # ai-tag
    max_tags: int | None = None
    target_language: str | None = None  # ai-translate
    max_length: int | None = None  # ai-summary
    schema_json: str | None = None  # ai-extract: the JSON Schema as compact JSON text
    extract_properties: tuple[tuple[str, bool], ...] = ()  # ai-extract: (property, numeric?) in order


@record
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
    # relationship metadata that says which column of the related table points back (one-to-many)
    foreign_key: str | None = None
    reciprocal_field: str | None = None
    # lookup, rollup, count (`related_field` is then the related table's field they read)
    relationship_field: str | None = None
    aggregation: str | None = None
    filters: FilterNode | None = None
    # formula
    formula: str | None = None
    result_type: str | None = None
    # ai-* fields
    ai: AiSettings | None = None


@record
class PrimaryKey:
    type: PrimaryKeyType
    fields: tuple[str, ...] = ()


@record
class IndexSpec:
    """A table-level `indexes[]` entry."""

    name: str
    fields: tuple[str, ...]
    unique: bool = False
    where: str | None = None


@record
class UniqueSpec:
    """A table-level composite unique rule (`uniqueConstraints[]` with a name, or `unique[]` without)."""

    fields: tuple[str, ...]
    name: str | None = None


@record
class ForeignKeySpec:
    """A table-level composite foreign key (`foreignKeys[]`)."""

    name: str
    fields: tuple[str, ...]
    referenced_table: str
    referenced_fields: tuple[str, ...]
    on_delete: str | None = None
    on_update: str | None = None


@record
class CheckSpec:
    """A table-level raw CHECK (`constraints[]`)."""

    name: str
    check: str


@record
class ViewSpec:
    """A table's `views[]` entry; only those with a `query` or a text id become SQL views (see `sql_view`)."""

    id: int | str
    name: str
    query: str | None = None
    materialized: bool = False
    refresh_on_migration: bool = False
    filters: FilterNode | None = None
    sorts: tuple[tuple[str, str], ...] = ()  # (field, asc|desc)
    fields: tuple[str, ...] = ()
    group_by: tuple[str, str] | None = None  # (field, asc|desc)

    @property
    def sql_view(self) -> bool:
        """Whether Sovrium creates a database view for it (numeric ids without a query are UI-only)."""
        return self.query is not None or isinstance(self.id, str)

    @property
    def view_name(self) -> str:
        return str(self.id)


@record
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
    views: tuple[ViewSpec, ...] = ()
    # Looked up table after table by the compiler (a linear search was a fifth of compiling a big app).
    _by_name: dict[str, Field] = field(default_factory=dict, init=False, compare=False, repr=False)
    _view_backed: bool = field(default=False, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Field] = {}
        view_backed = False
        for f in self.fields:
            by_name.setdefault(f.name, f)  # the first of a name, as a linear search would find
            view_backed = view_backed or f.type in VIEW_COMPUTED_TYPES
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_view_backed", view_backed)

    @property
    def physical_name(self) -> str:
        """The name the app sees: the table itself, or the view in front of `<name>_base` (see `view_backed`)."""
        return physical_table_name(self.name)

    @property
    def view_backed(self) -> bool:
        """Whether lookups, rollups or counts make it a view over a `<name>_base` table, as Sovrium does."""
        return self._view_backed

    @property
    def storage_name(self) -> str:
        """The physical table that holds the rows: `<name>_base` for a view-backed table."""
        return truncate_identifier(f"{self.physical_name}_base") if self.view_backed else self.physical_name

    def field_named(self, name: str) -> Field | None:
        return self._by_name.get(name)


@record
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


@functools.lru_cache(maxsize=8192)  # asked again and again for each table while compiling and planning
def physical_table_name(name: str) -> str:
    """Sovrium's sanitised table name: lowercase, other characters to `_`, runs collapsed, ends trimmed."""
    lowered = _NOT_IDENT.sub("_", name.lower())
    return _UNDERSCORES.sub("_", lowered).strip("_")
