"""Shared moves for the fleet tests: a few real databases on the test server, plans to roll out, a targets file,
and what each database holds afterwards."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from sovrium_tui import services

from .acceptance_support import app_schema, history_rows, log_rows, public_tables, table, write_schema
from .acceptance_support import field as schema_field
from .conftest import PgTestServer

# Three versions of one app: customers(name); + phone; + an orders table.
_CUSTOMERS = [schema_field(1, "name", required=True)]
SCHEMAS = (
    app_schema(table(1, "customers", *_CUSTOMERS), name="shop"),
    app_schema(table(1, "customers", *_CUSTOMERS, schema_field(2, "phone", "phone-number")), name="shop"),
    app_schema(
        table(1, "customers", *_CUSTOMERS, schema_field(2, "phone", "phone-number")),
        table(2, "orders", schema_field(1, "total", "decimal")),
        name="shop",
    ),
)
HEAD = len(SCHEMAS)

_numbers = itertools.count(1)


@dataclass
class FleetDatabases:
    """Databases made for one test on the session's server, dropped when it ends."""

    server: PgTestServer
    names: list[str] = field(default_factory=list)

    async def create(self, count: int) -> list[str]:
        """`count` new empty databases; their URLs."""
        made = [f"sovrium_fleet_{os.getpid()}_{next(_numbers)}" for _ in range(count)]
        admin = await asyncpg.connect(self.server.admin_url)
        try:
            for name in made:
                await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
                self.names.append(name)
        finally:
            await admin.close()
        return [self.server.url_for(name) for name in made]

    async def drop_all(self) -> None:
        admin = await asyncpg.connect(self.server.admin_url)
        try:
            for name in self.names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def fleet_databases(pg_server: PgTestServer) -> AsyncIterator[FleetDatabases]:
    databases = FleetDatabases(pg_server)
    try:
        yield databases
    finally:
        await databases.drop_all()


async def make_plans(root: Path) -> list[Path]:
    """The plan files for SCHEMAS, made offline into root/plans; version N is item N-1."""
    plans = root / "plans"
    written = []
    for number, document in enumerate(SCHEMAS, start=1):
        schema = write_schema(root / f"shop.v{number}.yaml", document)
        outcome = await services.plan(schema, plans, offline=True)
        assert outcome.path is not None
        written.append(outcome.path)
    return written


async def bring_to(url: str, plans: Sequence[Path], version: int) -> None:
    """Apply plans 1..version to a database (0 leaves it untouched)."""
    for plan in plans[:version]:
        await services.apply(plan, database_url=url)


def write_targets(path: Path, entries: Sequence[tuple[str, str] | tuple[str, str, dict[str, Any]]]) -> Path:
    """A targets file of (name, url[, labels]) in this order."""
    targets = []
    for entry in entries:
        item: dict[str, Any] = {"name": entry[0], "url": entry[1]}
        if len(entry) > 2:
            item["labels"] = entry[2]
        targets.append(item)
    path.write_text(yaml.safe_dump({"targets": targets}, sort_keys=False))
    return path


async def execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@dataclass(frozen=True)
class Contents:
    """What one database holds: applied versions (history, oldest first), its tables and its log."""

    versions: list[int]
    tables: set[str]
    log: list[tuple[str, str, int | None, int | None]]


async def contents(url: str) -> Contents:
    connection = await asyncpg.connect(url)
    try:
        history = [row["version"] for row in await history_rows(connection) if row["rolled_back_at"] is None]
        log = [(r["operation"], r["status"], r["from_version"], r["to_version"]) for r in await log_rows(connection)]
        return Contents(history, await public_tables(connection), log)
    finally:
        await connection.close()


HEAD_TABLES = {"customers", "orders"}
