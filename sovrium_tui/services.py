"""Use cases shared by the CLI and the TUI; each returns a typed result and never prints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sovrium_tui.planning.directory import PlanDirectory
    from sovrium_tui.planning.plan import Plan
    from sovrium_tui.planning.planner import Origin


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
            suffix = " (stopped now)" if self.changed else ""
            return f"embedded PostgreSQL in {self.data_dir}: stopped{suffix}"
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


# --- plans ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """A plan made from a schema: written to `path`, or None when there was nothing to change."""

    plan: Plan | None
    path: Path | None
    mode: str  # "online" or "offline"

    def describe(self) -> str:
        if self.plan is None:
            return "no schema changes: nothing to plan"
        destructive = len(self.plan.destructive_steps)
        warning = f", {destructive} destructive" if destructive else ""
        return (
            f"wrote {self.path} ({self.mode}): version {self.plan.version}, "
            f"{len(self.plan.steps)} steps{warning} — {self.plan.summary}"
        )

    def to_json(self) -> dict[str, object]:
        if self.plan is None:
            return {"changes": False, "path": None, "mode": self.mode}
        return {
            "changes": True,
            "path": str(self.path),
            "mode": self.mode,
            "version": self.plan.version,
            "summary": self.plan.summary,
            "steps": len(self.plan.steps),
            "hazards": list(self.plan.hazards),
            "destructive_steps": [step.id for step in self.plan.destructive_steps],
            "digest": self.plan.digest,
        }


def _origin_from_plans(directory: PlanDirectory) -> Origin:
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.catalog.model import Catalog
    from sovrium_tui.planning.planner import Origin
    from sovrium_tui.schema import app_from_document

    head = directory.head
    if head is None:
        return Origin(version=0, checksum=None, app=None, catalog=Catalog())
    app = app_from_document(json.loads(head.plan.schema), source=str(head.path))
    return Origin(version=head.plan.version, checksum=head.plan.to_checksum, app=app, catalog=compile_app(app))


async def _origin_from_database(url: str, directory: PlanDirectory) -> Origin:
    from sovrium_tui.catalog.introspect import fingerprint, introspect
    from sovrium_tui.errors import DriftDetected, PlanStale
    from sovrium_tui.execution import store
    from sovrium_tui.execution.connect import connect
    from sovrium_tui.planning.planner import Origin
    from sovrium_tui.schema import app_from_document

    connection = await connect(url)
    try:
        state = await store.read_state(connection)
        catalog = await introspect(connection)
    finally:
        await connection.close()
    version = state.version if state else 0
    pending = [f for f in directory.chain if f.plan.version > version]
    if pending:
        raise PlanStale(
            f"{pending[0].path} is not applied to this database yet (it is at version {version}): "
            "apply it first (`sovrium apply`), or plan against the plan files with --offline"
        )
    if state is not None and state.fingerprint and fingerprint(catalog) != state.fingerprint:
        raise DriftDetected(
            f"the database has drifted from what version {version} recorded; "
            "see `sovrium drift`, then accept or undo the difference before planning"
        )
    app = app_from_document(state.schema, source="database snapshot") if state else None
    return Origin(version=version, checksum=state.checksum if state else None, app=app, catalog=catalog)


async def plan(
    schema_path: str | Path,
    plans_dir: str | Path = "plans",
    *,
    offline: bool = False,
    name: str | None = None,
    database_url: str | None = None,
) -> PlanOutcome:
    """Diff the schema against the database (or the head plan, offline) and write the next plan file."""
    from sovrium_tui.planning.directory import read_plan_directory
    from sovrium_tui.planning.plan import slugify, write_plan
    from sovrium_tui.planning.planner import make_plan
    from sovrium_tui.schema import load_app

    target = load_app(Path(schema_path))
    directory = read_plan_directory(Path(plans_dir))
    directory.require_sound()
    if offline:
        origin = _origin_from_plans(directory)
    else:
        from sovrium_tui.execution.connect import resolve_database

        origin = await _origin_from_database(resolve_database(database_url).url, directory)
    next_version = max(origin.version, directory.head.plan.version if directory.head else 0) + 1
    made = make_plan(target, origin, next_version=next_version)
    mode = "offline" if offline else "online"
    if made is None:
        return PlanOutcome(None, None, mode)
    slug = slugify(name) if name else slugify(made.summary)
    return PlanOutcome(made, write_plan(made, Path(plans_dir), slug), mode)


def rehash(plan_path: str | Path) -> Plan:
    """Accept a reviewed hand edit: check the plan, then rewrite only its digest line."""
    from sovrium_tui.planning.plan import load_plan, rewrite_digest

    path = Path(plan_path)
    edited = load_plan(path, check_digest=False)
    rewrite_digest(path, edited.with_digest().digest)
    return load_plan(path)


def show(plan_path: str | Path) -> Plan:
    """Read a plan for review (digest state included: an edited plan is shown, not refused)."""
    from sovrium_tui.planning.plan import load_plan

    return load_plan(Path(plan_path), check_digest=False)


@dataclass(frozen=True, slots=True)
class CheckResult:
    schema_checksum: str
    head_version: int | None
    head_checksum: str | None
    plan_count: int
    problems: tuple[str, ...]
    off_chain: tuple[str, ...]

    @property
    def in_sync(self) -> bool:
        return not self.problems and self.head_checksum == self.schema_checksum

    def describe(self) -> str:
        lines = [f"problem: {p}" for p in self.problems]
        lines += [f"note: {name} is not on the head's chain and will not be applied" for name in self.off_chain]
        if self.problems:
            lines.append(f"plans are broken ({len(self.problems)} problems)")
        elif self.in_sync:
            lines.append(f"in sync: {self.plan_count} plans, head version {self.head_version} matches the schema")
        else:
            head = f"head version {self.head_version}" if self.head_version else "no plans yet"
            lines.append(f"the schema has unplanned changes ({head}); run `sovrium plan` to plan them")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "in_sync": self.in_sync,
            "schema_checksum": self.schema_checksum,
            "head_version": self.head_version,
            "head_checksum": self.head_checksum,
            "plans": self.plan_count,
            "problems": list(self.problems),
            "off_chain": list(self.off_chain),
        }


def check(schema_path: str | Path, plans_dir: str | Path = "plans") -> CheckResult:
    """CI check: the plans form one intact chain, and its head is exactly this schema."""
    from sovrium_tui.planning.directory import read_plan_directory
    from sovrium_tui.schema import app_checksum, load_app

    checksum = app_checksum(load_app(Path(schema_path)))
    directory = read_plan_directory(Path(plans_dir))
    head = directory.head
    return CheckResult(
        schema_checksum=checksum,
        head_version=head.plan.version if head else None,
        head_checksum=head.plan.to_checksum if head else None,
        plan_count=len(directory.files),
        problems=directory.problems,
        off_chain=tuple(f.path.name for f in directory.off_chain),
    )
