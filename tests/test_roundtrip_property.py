"""Property: for random schema pairs (A, B), plan A→B; forward yields exactly B, reverse yields exactly A."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.acceptance_support import yaml_text
from tests.conftest import PgTestServer
from tests.roundtrip import app, build, differences, plan_change, run_steps

# Each field slot keeps its id across versions; a version picks whether it exists, its name and its shape.
FIELD_SHAPES: list[dict[str, Any]] = [
    {"type": "single-line-text"},
    {"type": "long-text"},
    {"type": "integer"},
    {"type": "integer", "min": 0, "max": 100},
    {"type": "decimal", "precision": 2},
    {"type": "checkbox", "default": False},
    {"type": "single-select", "options": ["a", "b"]},
    {"type": "single-select", "options": ["a", "b", "c"], "default": "a"},
    {"type": "multi-select", "options": ["x", "y"]},
    {"type": "date"},
    {"type": "datetime"},
    {"type": "email", "unique": True},
    {"type": "json"},
    {"type": "color"},
    {"type": "formula", "formula": "id * 2", "resultType": "integer"},
    {"type": "formula", "formula": "CURRENT_DATE - 1", "resultType": "date"},
]
TABLE_NAMES = (("alpha", "apples"), ("beta", "bananas"), ("gamma", "grapes"))
FIELD_NAMES = ("f_one", "f_two", "f_three", "f_four")


@st.composite
def field(draw: st.DrawFn, slot: int) -> dict[str, Any] | None:
    if not draw(st.booleans()):
        return None
    shape = dict(draw(st.sampled_from(FIELD_SHAPES)))
    name = FIELD_NAMES[slot] if draw(st.booleans()) else f"{FIELD_NAMES[slot]}_renamed"
    extra: dict[str, Any] = {}
    if draw(st.booleans()) and "default" in shape:
        extra["required"] = True
    if draw(st.booleans()) and shape["type"] in ("integer", "single-line-text", "date"):
        extra["indexed"] = True
    return {"id": slot + 1, "name": name, **shape, **extra}


@st.composite
def schema(draw: st.DrawFn) -> str:
    tables = []
    for number, names in enumerate(TABLE_NAMES):
        if not draw(st.booleans()):
            continue
        fields = [f for slot in range(len(FIELD_NAMES)) if (f := draw(field(slot))) is not None]
        if not fields:
            fields = [{"id": 1, "name": "f_one", "type": "single-line-text"}]
        earlier = [t["name"] for t in tables]
        if earlier and draw(st.booleans()):
            fields.append(
                {"id": 9, "name": "parent", "type": "relationship", "relatedTable": draw(st.sampled_from(earlier))}
            )
            if draw(st.booleans()):  # a lookup makes the table view-backed: its rows move to <name>_base
                fields.append(
                    {
                        "id": 10,
                        "name": "parent_seen",
                        "type": "lookup",
                        "relationshipField": "parent",
                        "relatedField": "created_at",
                    }
                )
        name = draw(st.sampled_from(names))
        table: dict[str, Any] = {"id": number + 1, "name": name, "allowDestructive": True, "fields": fields}
        if draw(st.booleans()):
            query = draw(st.sampled_from(["SELECT id FROM {t}", "SELECT id, created_at FROM {t} WHERE id > 1"]))
            table["views"] = [{"id": f"v_{number}", "name": "listing", "query": query.format(t=name)}]
        tables.append(table)
    return yaml_text({"name": "property", "tables": tables})


@pytest.fixture(scope="module")
def scratch_url(pg_server: PgTestServer) -> str:
    name = f"sovrium_property_{os.getpid()}"

    async def create() -> None:
        admin = await asyncpg.connect(pg_server.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            await admin.close()

    asyncio.run(create())
    return pg_server.url_for(name)


async def _round_trip(url: str, before_text: str, after_text: str) -> None:
    before, after = app(before_text), app(after_text)
    db = await asyncpg.connect(url)
    try:
        await db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await build(db, before)
        assert await differences(db, before) == [], "the first plan builds A exactly"
        plan = await plan_change(db, before, after)
        if plan is None:
            assert await differences(db, after) == []
            return
        await run_steps(db, plan.steps)
        assert await differences(db, after) == [], "forward yields B"
        await run_steps(db, plan.steps, forward=False)
        assert await differences(db, before) == [], "reverse yields A"
    finally:
        await db.close()


@settings(
    max_examples=int(os.environ.get("SOVRIUM_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=schema(), after=schema())
@example(  # a formula its trigger computes replacing a field: the plan computes it for the rows there
    before="name: property\ntables:\n- id: 3\n  name: gamma\n  fields:\n"
    "  - {id: 1, name: f_one, type: single-line-text}\n",
    after="name: property\ntables:\n- id: 3\n  name: gamma\n  allowDestructive: true\n  fields:\n"
    "  - {id: 4, name: f_four, type: formula, formula: CURRENT_DATE - 1, resultType: date}\n",
)
def test_plan_forward_then_reverse_round_trips(scratch_url: str, before: str, after: str) -> None:
    asyncio.run(_round_trip(scratch_url, before, after))
