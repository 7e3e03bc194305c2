"""Dependencies point one way, and the start-up path stays light: no textual in the core, and no asyncio,
asyncpg, sqlglot or textual for an unchanged `sovrium migrate`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import sovrium_tui
from sovrium_tui import services

PACKAGE = Path(sovrium_tui.__file__).parent
HEAVY = ("asyncio", "asyncpg", "sqlglot", "textual")
SCHEMA = (
    "name: shop\ntables:\n  - id: 1\n    name: items\n    fields:\n"
    "      - {id: 1, name: title, type: single-line-text}\n"
)


def _loaded_after(code: str, cwd: Path) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_only_the_tui_package_imports_textual() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "tui" not in path.relative_to(PACKAGE).parts[:1]
        and re.search(r"^\s*(from|import) textual", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_importing_the_cli_loads_nothing_heavy(tmp_path: Path) -> None:
    assert _loaded_after("import sovrium_tui.cli", tmp_path) == []


async def test_an_unchanged_migrate_never_loads_asyncio_or_the_database_driver(
    database_url: str, tmp_path: Path
) -> None:
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA)
    first = await services.migrate(schema, database_url=database_url)
    assert first.status == "migrated"
    code = (
        "from sovrium_tui.cli import main\n"
        f"assert main(['migrate', {str(schema)!r}, '--database-url', {database_url!r}, '--quiet']) == 0"
    )
    assert _loaded_after(code, tmp_path) == [], "the first run fills the checksum cache; the fast path needs none"
    assert _loaded_after(code, tmp_path) == []


async def test_the_console_script_start_up_skips_even_the_standard_librarys_slow_imports(
    database_url: str, tmp_path: Path
) -> None:
    """`sovrium migrate` (entry.main, what the console script runs) on an unchanged database: besides the
    heavy packages, none of pathlib, socket, hashlib, urllib, json, dataclasses, typing, re (with enum: 14 ms here)
    or contextlib (each a few ms of a 50 ms budget)."""
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA)
    first = await services.migrate(schema, database_url=database_url)
    assert first.status == "migrated"
    slow = ("pathlib", "socket", "hashlib", "urllib.parse", "json", "dataclasses", "typing", "re", "enum", "contextlib")
    slow += HEAVY
    code = (
        "import sys\n"
        "from sovrium_tui.entry import main\n"
        f"assert main(['migrate', {str(schema)!r}, '--database-url', {database_url!r}, '--quiet']) == 0\n"
        f"print(sorted(m for m in {slow!r} if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    runs = [
        subprocess.run(
            [sys.executable, "-I", "-c", code], check=False, capture_output=True, text=True, cwd=tmp_path, env=env
        )
        for _ in range(2)  # the first run fills the checksum cache
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert runs[1].stdout.strip() == "[]"


async def test_the_python_api_migrates_then_returns_at_once(database_url: str, tmp_path: Path) -> None:
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA)
    code = (
        "import sovrium_tui\n"
        f"outcome = sovrium_tui.migrate({str(schema)!r}, {database_url!r})\n"
        "print(outcome.status, outcome.version)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
        )
        for _ in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["migrated", "1"], ["up-to-date", "1"]], [r.stderr for r in runs]


async def test_an_unchanged_composed_app_takes_the_fast_path_too(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "items.yaml").write_text("id: 1\nname: items\nfields:\n  - $ref: ../fields/title.json\n")
    (tmp_path / "fields").mkdir()
    (tmp_path / "fields" / "title.json").write_text('{"id": 1, "name": "title", "type": "single-line-text"}')
    schema = tmp_path / "app.yaml"
    schema.write_text("name: shop\ntables:\n  - $ref: ./tables/items.yaml\n")
    assert (await services.migrate(schema, database_url=database_url)).status == "migrated"
    code = (
        "from sovrium_tui.cli import main\n"
        f"assert main(['migrate', {str(schema)!r}, '--database-url', {database_url!r}, '--quiet']) == 0"
    )
    _loaded_after(code, tmp_path)  # fills the cache
    assert _loaded_after(code, tmp_path) == [], "every file is re-read and hashed, nothing heavy is imported"
    (tmp_path / "fields" / "title.json").write_text('{"id": 1, "name": "title", "type": "long-text"}')
    assert "asyncpg" in _loaded_after(code, tmp_path), "an edit two references down takes the full path"


async def test_the_console_command_answers_an_unchanged_start_up_without_argparse_dataclasses_or_typing(
    database_url: str, tmp_path: Path
) -> None:
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA)
    assert (await services.migrate(schema, database_url=database_url)).status == "migrated"
    code = (
        "import sys\nfrom sovrium_tui.entry import main\n"
        f"assert main(['migrate', {str(schema)!r}, '--database-url', {database_url!r}, '--quiet']) == 0\n"
        "print(sorted(m for m in ('argparse', 'dataclasses', 'typing', 'sovrium_tui.cli', 'yaml') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    for _ in range(2):  # the first run fills the checksum cache
        result = subprocess.run(
            [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
        )
        assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", "each of these costs the application's every boot milliseconds"


def test_the_offline_commands_never_start_an_event_loop(tmp_path: Path) -> None:
    """`plan --offline`, `check` and `validate` touch no database: no asyncio (50 ms of imports) nor driver."""
    schema = tmp_path / "app.yaml"
    schema.write_text(SCHEMA)
    for command in (["plan", "app.yaml", "--offline"], ["plan", "app.yaml", "--offline"], ["check", "app.yaml"]):
        code = f"from sovrium_tui.cli import main\nmain({command!r})"
        assert _loaded_after(code, tmp_path) == [], command
    code = "from sovrium_tui.cli import main\nassert main(['validate', 'app.yaml']) == 0"
    assert _loaded_after(code, tmp_path) == []
    assert [p.name for p in (tmp_path / "plans").iterdir()] == ["0001_new_table_items.yaml"], (
        "planned once, then nothing to plan"
    )
