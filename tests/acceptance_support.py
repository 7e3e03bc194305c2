"""Shared moves for the tests that drive `sovrium` as a user would: run the real command in a subprocess,
write schemas, and read the database's own catalogs and bookkeeping tables to see what really happened.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import yaml


class Server(Protocol):
    """What the harness's `pg_server` fixture gives: the URL of the whole test server (may create databases)."""

    @property
    def admin_url(self) -> str: ...


# The installed console script of this environment (the one a user runs); `python -m sovrium_tui` otherwise.
_SCRIPT = Path(sys.executable).with_name("sovrium")
SOVRIUM: tuple[str, ...] = (str(_SCRIPT),) if _SCRIPT.is_file() else (sys.executable, "-m", "sovrium_tui")
DEFAULT_TIMEOUT = 60.0


def clean_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment without DATABASE_URL (and colour/CI noise), plus `overrides` (None removes)."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "SOURCE_DATE_EPOCH")}
    env["NO_COLOR"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass(frozen=True, slots=True)
class Result:
    """One finished `sovrium` run."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def __str__(self) -> str:
        return (
            f"$ sovrium {' '.join(self.args)}\nexit {self.returncode} after {self.seconds:.2f} s\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def run_sovrium(
    *args: str | Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    stdin: int | None = subprocess.DEVNULL,
    allow_traceback: bool = False,
) -> Result:
    """Run `sovrium ARGS` in `cwd` with a clean environment; never leave it waiting on a prompt."""
    words = tuple(str(a) for a in args)
    started = time.monotonic()
    completed = subprocess.run(
        [*SOVRIUM, *words],
        cwd=cwd,
        env=dict(env) if env is not None else clean_env(),
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = Result(words, completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started)
    if not allow_traceback:
        assert "Traceback" not in result.stderr, f"a traceback reached the user:\n{result}"
    return result


@dataclass(frozen=True, slots=True)
class Cli:
    """`sovrium` bound to a working directory and, for database commands, a database URL."""

    cwd: Path
    database_url: str | None = None

    def run(self, *args: str | Path, **options: Any) -> Result:
        return run_sovrium(*args, cwd=self.cwd, **options)

    def db(self, *args: str | Path, **options: Any) -> Result:
        """A command that talks to the database: `--database-url` is added."""
        assert self.database_url is not None
        return self.run(*args, "--database-url", self.database_url, **options)

    def ok(self, *args: str | Path, **options: Any) -> Result:
        result = self.run(*args, **options)
        assert result.returncode == 0, str(result)
        return result

    def db_ok(self, *args: str | Path, **options: Any) -> Result:
        result = self.db(*args, **options)
        assert result.returncode == 0, str(result)
        return result

    def db_fails(self, *args: str | Path, code: int = 1, **options: Any) -> Result:
        result = self.db(*args, **options)
        assert result.returncode == code, str(result)
        assert result.error_lines, f"a failure must say why on stderr (error: …):\n{result}"
        return result


# --- schemas ---------------------------------------------------------------------------------------------


def field(field_id: int, name: str, field_type: str = "single-line-text", **options: Any) -> dict[str, Any]:
    return {"id": field_id, "name": name, "type": field_type, **options}


def table(table_id: int, name: str, *fields: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"id": table_id, "name": name, "fields": list(fields), **options}


def app_schema(*tables: dict[str, Any], name: str = "app") -> dict[str, Any]:
    return {"name": name, "tables": list(tables)}


class _Yaml12Dumper(yaml.SafeDumper):
    """PyYAML's emitter knows only YAML 1.1: it also quotes text a YAML 1.2 reader takes for a number (`0E0`)."""


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
):
    _Yaml12Dumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def yaml_text(document: Mapping[str, Any]) -> str:
    """A document as YAML that PyYAML (1.1), Sovrium and this tool (1.2) all read back the same."""
    return yaml.dump(dict(document), Dumper=_Yaml12Dumper, sort_keys=False, allow_unicode=True)


def write_schema(path: Path, document: Mapping[str, Any] | str) -> Path:
    """Write a schema (a document, dumped as YAML, or YAML text as is) and return its path."""
    text = document if isinstance(document, str) else yaml_text(document)
    path.write_text(text, encoding="utf-8")
    return path


# --- what the database says ------------------------------------------------------------------------------


async def has_system_schema(db: asyncpg.Connection) -> bool:
    return bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'system')"))


async def public_tables(db: asyncpg.Connection) -> set[str]:
    rows = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    return {row["table_name"] for row in rows}


async def columns(db: asyncpg.Connection, table_name: str) -> list[str]:
    rows = await db.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 "
        "ORDER BY ordinal_position",
        table_name,
    )
    return [row["column_name"] for row in rows]


async def constraint_names(db: asyncpg.Connection, table_name: str) -> set[str]:
    rows = await db.fetch(
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('public.' || quote_ident($1)) "
        "AND contype <> 'n'",
        table_name,
    )
    return {row["conname"] for row in rows}


async def index_names(db: asyncpg.Connection, table_name: str) -> set[str]:
    rows = await db.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1", table_name)
    return {row["indexname"] for row in rows}


async def catalog_state(db: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a migration could change in the user's schema (public), straight from pg_catalog."""
    relations = await db.fetch(
        "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' ORDER BY 1"
    )
    cols = await db.fetch(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
        "AND d.adnum = a.attnum WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped "
        "AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY 1, 2"
    )
    cons = await db.fetch(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' ORDER BY 1, 2"
    )
    indexes = await db.fetch("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
    functions = await db.fetch(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' ORDER BY 1"
    )
    triggers = await db.fetch(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal "
        "ORDER BY 1, 2"
    )
    return {
        "relations": [tuple(r) for r in relations],
        "columns": [tuple(r) for r in cols],
        "constraints": [tuple(r) for r in cons],
        "indexes": [tuple(r) for r in indexes],
        "functions": [tuple(r) for r in functions],
        "triggers": [tuple(r) for r in triggers],
    }


async def checksum_row(db: asyncpg.Connection) -> dict[str, Any] | None:
    """The singleton of system.schema_checksum (schema decoded), or None when there is none."""
    if not await has_system_schema(db):
        return None
    row = await db.fetchrow(
        "SELECT id, checksum, schema::text AS schema, version, updated_at, xmin::text AS xmin "
        "FROM system.schema_checksum"
    )
    if row is None:
        return None
    return {**dict(row), "schema": json.loads(row["schema"])}


async def history_rows(db: asyncpg.Connection) -> list[dict[str, Any]]:
    """system.migration_history, oldest first, with the jsonb columns decoded."""
    if not await has_system_schema(db):
        return []
    rows = await db.fetch(
        "SELECT version, checksum, schema::text AS schema, plan::text AS plan, applied_at, applied_by, "
        "rolled_back_at, rollback_reason FROM system.migration_history ORDER BY id"
    )
    return [
        {**dict(r), "schema": json.loads(r["schema"]), "plan": json.loads(r["plan"]) if r["plan"] else None}
        for r in rows
    ]


async def log_rows(db: asyncpg.Connection) -> list[dict[str, Any]]:
    """system.migration_log, oldest first."""
    if not await has_system_schema(db):
        return []
    rows = await db.fetch(
        "SELECT operation, status, from_version, to_version, reason, created_at FROM system.migration_log ORDER BY id"
    )
    return [dict(r) for r in rows]


async def table_rows(db: asyncpg.Connection, table_name: str) -> list[tuple[Any, ...]]:
    """Every row of a public table, every column, in id order."""
    relation = '"' + table_name.replace('"', '""') + '"'
    return [tuple(r) for r in await db.fetch(f"SELECT * FROM public.{relation} ORDER BY id")]


# --- the network ---------------------------------------------------------------------------------------------


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lines_containing(text: str, *needles: str) -> list[int]:
    """Line numbers of `text` holding each needle (first match), -1 for a needle not found."""
    lines = text.splitlines()
    found = []
    for needle in needles:
        found.append(next((i for i, line in enumerate(lines) if needle in line), -1))
    return found


def sha256_of_tables(tables: Sequence[Any]) -> str:
    """The checksum as the spec defines it, computed here independently of the code under test."""
    import hashlib

    text = json.dumps(list(tables), sort_keys=True, indent=2, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
