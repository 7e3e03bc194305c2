"""Changing a field's type, with a value in it: what it becomes, and that the change can always be rolled back.

A rollback undoes a type change with the reverse conversion; it must accept every value the forward one can
produce, or a database that applied a forced change could never go back, even with --force.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused

SCHEMA = """
name: shop
tables:
  - id: 1
    name: things
    fields:
      - {{id: 1, name: label, type: single-line-text}}
      - {{id: 2, name: f, type: {field}}}
"""


@dataclass(frozen=True)
class TypeChange:
    before: str  # the field as written after `type: `
    after: str
    value: str  # an SQL literal written at the old type
    becomes: str  # f::text after the change
    comes_back: str  # f::text after the rollback
    destructive: bool  # refused without --allow-destructive

    @property
    def name(self) -> str:
        return f"{self.before} to {self.after}"


CHANGES = [
    TypeChange("integer", "duration", "42", "00:00:42", "42", destructive=True),
    TypeChange("decimal, precision: 2", "duration", "3.25", "00:00:03.25", "3.25", destructive=True),
    TypeChange("duration", "integer", "'1 hour 30 seconds'", "3630", "01:00:30", destructive=False),
    TypeChange("duration", "decimal, precision: 2", "'90.5 seconds'", "90.50", "00:01:30.5", destructive=False),
    TypeChange("datetime", "time", "'2024-01-02 03:04:05+00'", "03:04:05", "1970-01-01 03:04:05+00", destructive=True),
    TypeChange("time", "datetime", "'10:20'", "1970-01-01 10:20:00+00", "10:20:00", destructive=False),
    TypeChange("single-line-text", "integer", "'12'", "12", "12", destructive=False),
    TypeChange("long-text", "single-line-text", "'short'", "short", "short", destructive=False),
    # arrays whose elements PostgreSQL has no cast between go through text (empty ones convert)
    TypeChange("array, itemType: integer", "array, itemType: date", "'{}'", "{}", "{}", destructive=False),
    TypeChange("array, itemType: date", "array, itemType: integer", "'{}'", "{}", "{}", destructive=False),
    TypeChange("array, itemType: text", "array, itemType: date", "'{2024-1-2}'", "{2024-01-02}", "{2024-01-02}", False),
    TypeChange("array, itemType: integer", "array, itemType: decimal", "'{1,2}'", "{1,2}", "{1,2}", destructive=False),
]


async def migrate_to(schema: Path, url: str, field: str, *, allow_destructive: bool = False) -> None:
    schema.write_text(SCHEMA.format(field=field))
    await services.migrate(schema, database_url=url, allow_destructive=allow_destructive)


@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
async def test_a_type_change_converts_the_value_and_rolls_back(
    db: asyncpg.Connection, database_url: str, tmp_path: Path, change: TypeChange
) -> None:
    schema = tmp_path / "app.yaml"
    await migrate_to(schema, database_url, change.before)
    await db.execute(f"INSERT INTO things (label, f) VALUES ('a', {change.value}), ('b', NULL)")

    if change.destructive:
        with pytest.raises(DestructiveRefused, match=r"changes the type of column things\.f"):
            await migrate_to(schema, database_url, change.after)
        assert await db.fetchval("SELECT f::text FROM things WHERE label = 'a'") != change.becomes
    await migrate_to(schema, database_url, change.after, allow_destructive=True)
    assert await db.fetch("SELECT label, f::text FROM things ORDER BY label") == [("a", change.becomes), ("b", None)]

    await services.rollback(reason="back", force=True, database_url=database_url)
    assert await db.fetch("SELECT label, f::text FROM things ORDER BY label") == [
        ("a", change.comes_back),
        ("b", None),
    ]
    assert (await services.drift(database_url=database_url)).differences == ()
