"""`sovrium tui` in a real terminal (tmux, 80×24) against a real database: read the dashboard, open a plan, quit."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from sovrium_tui import services

from .conftest import Project

TIMEOUT = 30.0


class Terminal:
    """One tmux session on a private tmux server, so nothing else running on the machine is touched."""

    def __init__(self, tmux: str, name: str) -> None:
        self.tmux = tmux
        self.socket = name

    def run(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True, check=True)
        return done.stdout

    def start(self, command: str, cwd: Path) -> None:
        self.run("new-session", "-d", "-x", "80", "-y", "24", "-s", "tui", "-c", str(cwd), command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "tui", *keys)

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{screen}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    session = Terminal(tmux, f"sovrium-tui-test-{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def db_sync(database_url: str) -> Callable[[str], object]:
    """Run one statement on the test database from synchronous test code; its first value back."""

    def run(sql: str) -> object:
        async def go() -> object:
            connection = await asyncpg.connect(database_url)
            try:
                return await connection.fetchval(sql)
            finally:
                await connection.close()

        return asyncio.run(go())

    return run


def sovrium_command() -> list[str]:
    script = Path(sys.executable).with_name("sovrium")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sovrium_tui"]


def test_sovrium_tui_in_tmux(terminal: Terminal, project: Project, database_url: str) -> None:
    project.plan_now("v1")
    status_file = project.root / "exit-status"
    command = shlex.join([*sovrium_command(), "tui", "--plans", "plans", "--database-url", database_url])
    terminal.start(f"{command}; echo $? > {shlex.quote(str(status_file))}", project.root)

    dashboard = terminal.wait_for("new table customers")
    assert "Dashboard" in dashboard
    assert "Plans in plans" in dashboard
    assert "version 0 · never migrated" in terminal.wait_for("never migrated")
    assert "pending" in dashboard

    terminal.keys("Enter")
    review = terminal.wait_for("Forward SQL")
    assert "Plan review" in review
    assert "Plan 0001 · shop" in review
    assert "create table customers" in review

    terminal.keys("q")
    terminal.wait_for("Dashboard")
    terminal.keys("q")
    deadline = time.monotonic() + TIMEOUT
    while not status_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status_file.read_text().strip() == "0"


def test_a_destructive_plan_applied_end_to_end_in_tmux(
    terminal: Terminal, project: Project, database_url: str, db_sync: Callable[[str], object]
) -> None:
    """Review a plan that drops a column with values, apply it: the dry run counts the loss, the typed word is
    asked for, a wrong word does nothing, `destroy` applies it, and the dashboard then says it is applied."""
    project.plan_now("v1", "v2")
    asyncio.run(services.apply(plans_dir=project.plans, database_url=database_url))
    db_sync("INSERT INTO customers (name, nickname) VALUES ('Ada', 'ada'), ('Bob', 'bob')")
    project.plan_now("v3")
    status_file = project.root / "exit-status"
    command = shlex.join([*sovrium_command(), "tui", "--plans", "plans", "--database-url", database_url])
    terminal.start(f"{command}; echo $? > {shlex.quote(str(status_file))}", project.root)
    terminal.wait_for("customers: -nickname")

    terminal.keys("End", "Enter")
    review = terminal.wait_for("1 destroy: 2 values")
    assert "step 1 drops column customers.nickname (2 non-null values)" in review
    assert "data-loss" in review

    terminal.keys("a")
    confirmation = terminal.wait_for("Apply and destroy data?")
    assert "step 1 drops column customers.nickname (2 non-null values)" in confirmation
    assert "The dry run passed" in confirmation
    terminal.keys("y", "e", "s", "Enter")
    terminal.wait_for("is not destroy")
    terminal.keys("d", "e", "s", "t", "r", "o", "y", "Enter")
    terminal.wait_for("Applied version 3")

    terminal.keys("Escape")
    terminal.wait_for("Plan review")
    terminal.keys("Escape")
    terminal.wait_for("Dashboard")
    assert "pending" not in terminal.wait_for("version 3")
    terminal.keys("q")
    deadline = time.monotonic() + TIMEOUT
    while not status_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status_file.read_text().strip() == "0"
    assert db_sync("SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'") == 0
