"""Tightening a rule (a range, the options of a select) is destructive: refused with the rows it would reject."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused, StepFailed

TEMPLATE = """
name: shop
tables:
  - id: 1
    name: people
    fields:
      - {{id: 1, name: age, type: integer{age}}}
      - {{id: 2, name: plan, type: single-select, options: [{options}]}}
"""


async def migrate(path: Path, url: str, *, age: str = "", options: str = "free, pro", allow: bool = False) -> str:
    path.write_text(TEMPLATE.format(age=age, options=options))
    return (await services.migrate(path, database_url=url, allow_destructive=allow)).status


async def test_tightening_a_range_is_refused_with_the_rows_it_would_reject(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    schema = tmp_path / "app.yaml"
    await migrate(schema, database_url)
    await db.execute("INSERT INTO people (age, plan) VALUES (12, 'free'), (40, 'pro'), (NULL, 'free')")
    with pytest.raises(DestructiveRefused, match=r"check_age_range \(1 row that breaks it\)") as refused:
        await migrate(schema, database_url, age=", min: 18")
    assert "Rows that break a new rule must be changed or deleted first" in str(refused.value)
    rejected = r'check constraint "check_age_range" of relation "people" is violated by some row'
    with pytest.raises(StepFailed, match=rejected):
        await migrate(schema, database_url, age=", min: 18", allow=True)
    await db.execute("DELETE FROM people WHERE age < 18")
    assert await migrate(schema, database_url, age=", min: 18", allow=True) == "migrated"


async def test_adding_an_option_is_not_destructive_but_removing_one_is(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    schema = tmp_path / "app.yaml"
    await migrate(schema, database_url)
    await db.execute("INSERT INTO people (plan) VALUES ('pro'), ('pro')")
    assert await migrate(schema, database_url, options="free, pro, team") == "migrated"
    with pytest.raises(DestructiveRefused, match=r"check_plan_enum \(2 rows that break it\)"):
        await migrate(schema, database_url, options="free, team")


async def test_a_refusal_lists_each_loss_for_scripts(db: asyncpg.Connection, database_url: str, tmp_path: Path) -> None:
    schema = tmp_path / "app.yaml"
    await migrate(schema, database_url)
    await db.execute("INSERT INTO people (age, plan) VALUES (3, 'pro')")
    with pytest.raises(DestructiveRefused) as refused:
        await migrate(schema, database_url, age=", min: 18", options="free")
    assert [loss.split(": ", 1)[1] for loss in refused.value.losses] == [
        "people.check_age_range (1 row that breaks it)",
        "people.check_plan_enum (1 row that breaks it)",
    ]
    assert refused.value.to_json()["losses"] == list(refused.value.losses)
