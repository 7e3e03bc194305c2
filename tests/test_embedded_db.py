"""`sovrium db start|status|url|stop` and the commands that fall back to the embedded PostgreSQL kept in
`.sovrium/pgdata` when neither --database-url nor DATABASE_URL is given. Slow (initdb): a few tests only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from sovrium_tui.execution.server import LocalServer, embedded_bin_dir
from tests.acceptance_support import Cli, app_schema, clean_env, field, run_sovrium, table, write_schema

pytestmark = pytest.mark.db

DATA_DIR = Path(".sovrium") / "pgdata"
SLOW = 180.0  # initdb and a first start can take a while on a busy machine


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its parent to reap it does not)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether a stopped server's process has exited (the postmaster lingers a moment after its pid file)."""
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A project directory whose embedded server, if a test starts one, is always stopped afterwards."""
    try:
        yield tmp_path
    finally:
        try:
            run_sovrium("db", "stop", cwd=tmp_path, timeout=SLOW, allow_traceback=True)
        finally:
            server = LocalServer(data_dir=(tmp_path / DATA_DIR).absolute(), bin_dir=embedded_bin_dir())
            if server.data_dir.is_symlink():
                server.destroy()  # a cluster kept outside a private directory: remove it with the test
            elif server.running_pid() is not None:
                server.stop()


def _modes(path: Path) -> dict[Path, int]:
    return {directory: directory.stat().st_mode for directory in path.parents if directory.exists()}


async def test_db_start_status_url_stop(workdir: Path) -> None:
    cli = Cli(workdir)
    modes = _modes(workdir / DATA_DIR)
    before = cli.ok("db", "status", "--json").json()
    assert before["running"] is False
    assert not (workdir / DATA_DIR / "PG_VERSION").exists(), "status never starts or creates a server"

    started = cli.ok("db", "start", "--json", timeout=SLOW).json()
    assert (started["running"], started["changed"]) == (True, True)
    assert Path(started["data_dir"]) == (workdir / DATA_DIR).absolute()
    assert Path(started["cluster_dir"]) == (workdir / DATA_DIR).resolve()
    assert {d: m for d, m in _modes(workdir / DATA_DIR).items() if d in modes} == modes, (
        "starting the server (as root: as another OS user) changes no permission of the directories above it"
    )
    assert (workdir / DATA_DIR / "PG_VERSION").is_file()
    pid = started["pid"]
    assert isinstance(pid, int) and _alive(pid)

    again = cli.ok("db", "start", "--json", timeout=SLOW).json()
    assert (again["running"], again["changed"], again["pid"]) == (True, False, pid), "a second start is a no-op"
    status = cli.ok("db", "status")
    assert "running" in status.stdout and str(pid) in status.stdout

    url = cli.ok("db", "url").stdout.strip()
    assert url.startswith("postgresql://") and "\n" not in url
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()

    stopped = cli.ok("db", "stop", "--json", timeout=SLOW).json()
    assert (stopped["running"], stopped["changed"]) == (False, True)
    assert _gone(pid)
    assert "stopped" in cli.ok("db", "status").stdout
    assert cli.ok("db", "status", "--json").json()["running"] is False
    assert cli.ok("db", "stop", "--json").json()["changed"] is False, "stopping a stopped server is a no-op"


async def test_migrate_and_status_use_the_embedded_server_without_any_url(workdir: Path) -> None:
    env = clean_env(DATABASE_URL=None)
    schema = write_schema(workdir / "app.yaml", app_schema(table(1, "users", field(1, "name"))))
    cli = Cli(workdir)

    migrated = cli.ok("migrate", schema, "--json", env=env, timeout=SLOW)
    assert migrated.json()["status"] == "migrated", "the embedded server is started on first use"
    assert (workdir / DATA_DIR / "PG_VERSION").is_file()
    assert cli.ok("db", "status", "--json").json()["running"] is True, "and left running for the next command"
    assert cli.ok("migrate", schema, "--json", env=env).json()["status"] == "up-to-date"
    # the server up, an unchanged start-up finds it without the module that starts one (pathlib, subprocess …)
    probe = (
        "import sys\nfrom sovrium_tui.entry import main\n"
        f"assert main(['migrate', {str(schema)!r}, '--quiet']) == 0\n"
        "print(sorted(m for m in ('sovrium_tui.execution.server', 'pathlib', 'subprocess') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        check=False,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (found.returncode, found.stdout.strip()) == (0, "[]"), found.stderr

    status = cli.ok("status", "--json", env=env).json()
    assert (status["version"], status["drift"]) == (1, False)
    assert [e["version"] for e in cli.ok("history", "--json", env=env).json()["history"]] == [1]

    url = cli.ok("db", "url").stdout.strip()
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT to_regclass('public.users') IS NOT NULL")
        assert await connection.fetchval("SELECT version FROM system.schema_checksum") == 1
    finally:
        await connection.close()

    cli.ok("db", "stop", timeout=SLOW)
    assert cli.ok("db", "status", "--json").json()["running"] is False
    # The data survives a restart: the next command starts it again and finds version 1.
    assert cli.ok("status", "--json", env=env, timeout=SLOW).json()["version"] == 1
