"""Bringing an existing database (tables, but no sovrium history) under the tool."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from sovrium_tui import services
from sovrium_tui.errors import DestructiveRefused

SCHEMA = """
name: shop
tables:
  - id: 1
    name: customers
    fields:
      - {id: 1, name: email, type: email}
      - {id: 2, name: phone, type: phone-number}
"""


async def test_an_existing_database_is_planned_against_what_is_there(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    await db.execute("CREATE TABLE customers (id serial PRIMARY KEY, email varchar(255))")
    await db.execute("CREATE TABLE legacy (id int)")
    await db.execute("INSERT INTO customers (email) VALUES ('a@x.io'); INSERT INTO legacy VALUES (1), (2)")
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA)
    plans = tmp_path / "plans"

    outcome = await services.plan(schema, plans, database_url=database_url)
    assert outcome.plan is not None and outcome.plan.from_version == 0
    ops = {(step.op, step.target) for step in outcome.plan.steps}
    assert ("add_column", "customers.phone") in ops
    assert ("create_table", "customers") not in ops, "what the database has is kept, not created again"
    drop = next(step for step in outcome.plan.steps if step.op == "drop_table")
    assert drop.target == "legacy" and "data-loss" in drop.hazards

    with pytest.raises(DestructiveRefused, match=r"legacy \(2 rows\)"):
        await services.apply(plans, database_url=database_url)
    assert await db.fetchval("SELECT count(*) FROM legacy") == 2

    await services.apply(plans, database_url=database_url, allow_destructive=True)
    assert await db.fetchval("SELECT email FROM customers") == "a@x.io"
    report = await services.status(plans_dir=plans, database_url=database_url)
    assert (report.version, report.drift) == (1, False)
