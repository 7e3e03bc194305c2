"""Use cases shared by the CLI and the TUI; each returns a typed result and never prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ValidationResult:
    source: str
    app_name: str
    table_count: int
    field_count: int
    checksum: str

    def describe(self) -> str:
        return (
            f"{self.source}: valid — app {self.app_name!r}, {self.table_count} tables, "
            f"{self.field_count} fields, checksum {self.checksum[:12]}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "valid": True,
            "source": self.source,
            "app": self.app_name,
            "tables": self.table_count,
            "fields": self.field_count,
            "checksum": self.checksum,
        }


def validate(schema_path: str | Path) -> ValidationResult:
    """Load and validate a schema file; raises SchemaInvalid listing every problem."""
    from sovrium_tui.schema import app_checksum, load_app

    app = load_app(Path(schema_path))
    return ValidationResult(
        source=str(schema_path),
        app_name=app.name,
        table_count=len(app.tables),
        field_count=sum(len(t.fields) for t in app.tables),
        checksum=app_checksum(app),
    )


@dataclass(frozen=True, slots=True)
class SqlScript:
    source: str
    checksum: str
    statements: tuple[str, ...]

    def text(self) -> str:
        header = f"-- {self.source}: {len(self.statements)} statements, schema checksum {self.checksum}\n\n"
        return header + "".join(f"{statement};\n\n" for statement in self.statements)

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "checksum": self.checksum, "statements": list(self.statements)}


def create_sql(schema_path: str | Path) -> SqlScript:
    """The statements that create a schema's tables in an empty database, in dependency order."""
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.planning.ddl import create_catalog_sql
    from sovrium_tui.schema import app_checksum, load_app

    app = load_app(Path(schema_path))
    return SqlScript(
        source=str(schema_path),
        checksum=app_checksum(app),
        statements=tuple(create_catalog_sql(compile_app(app))),
    )


@dataclass(frozen=True, slots=True)
class EmbeddedDbState:
    data_dir: str
    running: bool
    pid: int | None
    version: str
    url: str
    changed: bool  # whether this call started or stopped it

    def describe(self) -> str:
        if not self.running:
            return f"embedded PostgreSQL in {self.data_dir}: stopped" + (" (stopped now)" if self.changed else "")
        verb = "started now" if self.changed else "running"
        return f"embedded PostgreSQL {self.version} in {self.data_dir}: {verb} (pid {self.pid})\n{self.url}"

    def to_json(self) -> dict[str, object]:
        return {
            "data_dir": self.data_dir,
            "running": self.running,
            "pid": self.pid,
            "version": self.version,
            "url": self.url if self.running else None,
            "changed": self.changed,
        }


def embedded_db(action: str, workdir: Path | None = None) -> EmbeddedDbState:
    """Start, stop or inspect the embedded PostgreSQL (`start` and `url` start it when needed)."""
    from sovrium_tui.execution.connect import embedded_server

    server = embedded_server(workdir)
    was_running = server.running_pid() is not None
    if action in ("start", "url"):
        server.ensure_running()
    elif action == "stop":
        server.stop()
    running = server.running_pid() is not None
    return EmbeddedDbState(
        data_dir=str(server.data_dir),
        running=running,
        pid=server.running_pid(),
        version=server.version(),
        url=server.url(),
        changed=running != was_running,
    )
