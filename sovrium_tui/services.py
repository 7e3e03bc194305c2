"""Use cases shared by the CLI and the TUI; each returns a typed result and never prints."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sovrium_tui.records import record
from sovrium_tui.schema.js_json import read_json
from sovrium_tui.startup import MigrateOutcome
from sovrium_tui.text import plural

if TYPE_CHECKING:
    from datetime import datetime

    import asyncpg

    from sovrium_tui import forked
    from sovrium_tui.catalog.model import Catalog
    from sovrium_tui.execution.events import Reporter
    from sovrium_tui.execution.executor import ApplyResult, RollbackResult
    from sovrium_tui.execution.store import HistoryEntry, LogEntry, RecordedState
    from sovrium_tui.execution.verify import VerifyResult
    from sovrium_tui.planning.changes import Change
    from sovrium_tui.planning.directory import PlanDirectory, PlanFile
    from sovrium_tui.planning.drift import Difference
    from sovrium_tui.planning.plan import Plan
    from sovrium_tui.planning.planner import Origin
    from sovrium_tui.planning.schema_diff import SchemaChange
    from sovrium_tui.schema.model import App

_T = TypeVar("_T")


def run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run(coroutine)` for a one-shot command, its value kept out of the main task.

    Python 3.11's runner formats its main task, result and all, when it puts the Ctrl-C handler back (the old
    handler's repr goes into an exception it catches), so a big result was turned into text twice for nothing:
    0.3 s for the outcome of a 2,000-table plan.
    """
    import asyncio

    kept: list[_T] = []

    async def main() -> None:
        kept.append(await coroutine)

    asyncio.run(main())
    return kept[0]


@record
class ValidationResult:
    source: str
    app_name: str
    table_count: int
    field_count: int
    checksum: str

    def describe(self) -> str:
        return (
            f"{self.source}: valid — app {self.app_name!r}, {plural(self.table_count, 'table')}, "
            f"{plural(self.field_count, 'field')}, checksum {self.checksum[:12]}"
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
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.errors import SchemaInvalid
    from sovrium_tui.schema import app_checksum, compose_file, validate_composed

    composed = compose_file(Path(schema_path))
    app = validate_composed(composed)
    try:
        compile_app(app)  # some problems (names colliding after truncation) only show when compiling
    except SchemaInvalid as invalid:
        raise composed.relocate(invalid) from None
    return ValidationResult(
        source=str(schema_path),
        app_name=app.name,
        table_count=len(app.tables),
        field_count=sum(len(t.fields) for t in app.tables),
        checksum=app_checksum(app),
    )


@record
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


@record
class EmbeddedDbState:
    data_dir: str
    cluster_dir: str  # where the files are: data_dir, or (as root, behind a private directory) /var/lib/sovrium/…
    running: bool
    pid: int | None
    version: str
    url: str
    changed: bool  # whether this call started or stopped it

    def describe(self) -> str:
        where = self.data_dir if self.cluster_dir == self.data_dir else f"{self.data_dir} (→ {self.cluster_dir})"
        if not self.running:
            suffix = " (stopped now)" if self.changed else ""
            return f"embedded PostgreSQL in {where}: stopped{suffix}"
        verb = "started now" if self.changed else "running"
        return f"embedded PostgreSQL {self.version} in {where}: {verb} (pid {self.pid})\n{self.url}"

    def to_json(self) -> dict[str, object]:
        return {
            "data_dir": self.data_dir,
            "cluster_dir": self.cluster_dir,
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
        cluster_dir=str(server.cluster_dir),
        running=running,
        pid=server.running_pid(),
        version=server.version(),
        url=server.url(),
        changed=running != was_running,
    )


# --- plans ----------------------------------------------------------------------------------------------


@record
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
            f"{plural(len(self.plan.steps), 'step')}{warning} — {self.plan.summary}"
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


def _offline_head(plans_dir: Path) -> tuple[int, tuple[str, App] | None]:
    """The head plan's version, and the checksum and app of the state it leaves (None before the first plan).

    Run on the other core while the schema is read and compiled: the app travels back and is compiled here, as a
    compiled catalog is three times an app to send (2,000 tables: 0.25 s against 0.08 s, there and back).
    """
    from sovrium_tui.planning.directory import read_plan_directory
    from sovrium_tui.schema import app_from_document

    directory = read_plan_directory(plans_dir)
    directory.require_sound()
    head = directory.head
    if head is None:
        return 0, None
    app = app_from_document(read_json(head.plan.schema), source=str(head.path))
    return head.plan.version, (head.plan.to_checksum, app)


def _origin_of(version: int, head: tuple[str, App] | None) -> Origin:
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.catalog.model import Catalog
    from sovrium_tui.planning.planner import Origin

    if head is None:
        return Origin(version=0, checksum=None, app=None, catalog=Catalog())
    checksum, app = head
    return Origin(version=version, checksum=checksum, app=app, catalog=compile_app(app, recorded=True))


async def _origin_from_database(url: str, directory: PlanDirectory) -> tuple[Origin, int]:
    """Where the database stands, and the highest version it ever recorded (the next plan comes after it)."""
    from sovrium_tui.catalog.introspect import fingerprint, introspect
    from sovrium_tui.errors import DriftDetected, PlanStale
    from sovrium_tui.execution import store
    from sovrium_tui.execution.connect import connect
    from sovrium_tui.planning.planner import Origin

    connection = await connect(url)
    try:
        state = await store.read_state(connection)
        catalog = await introspect(connection)
        highest = await store.highest_version(connection)
        recorded = await _recorded_catalog_if_drift_accepted(connection, state)
    finally:
        await connection.close()
    version = state.version if state else 0
    pending = [f for f in directory.chain if f.plan.version > version]
    if pending:
        rolled_back = pending[0].plan.version <= highest
        way_out = (
            "apply it again (`sovrium apply`), or, if it is superseded, archive it "
            f"(`sovrium archive {pending[0].path}`)"
            if rolled_back
            else "apply it first (`sovrium apply`), or plan against the plan files with --offline"
        )
        was = "was rolled back on" if rolled_back else "is not applied to"
        raise PlanStale(f"{pending[0].path} {was} this database (it is at version {version}): {way_out}")
    if state is not None and state.fingerprint and fingerprint(catalog) != state.fingerprint:
        raise DriftDetected(
            f"the database has drifted from what version {version} recorded; see `sovrium drift`, then accept "
            "it (`sovrium drift --accept --reason …`), plan its undoing (`sovrium drift --revert-plan --reason …`) "
            "or undo it by hand before planning"
        )
    from sovrium_tui.schema import recorded_app

    app = recorded_app(state.schema) if state else None
    checksum = state.checksum if state else None
    return Origin(version=version, checksum=checksum, app=app, catalog=catalog, recorded_catalog=recorded), highest


async def plan(
    schema_path: str | Path,
    plans_dir: str | Path = "plans",
    *,
    offline: bool = False,
    name: str | None = None,
    database_url: str | None = None,
) -> PlanOutcome:
    """Diff the schema against the database (or the head plan, offline) and write the next plan file."""
    if offline:
        return plan_offline(schema_path, plans_dir, name=name)
    from sovrium_tui.execution.connect import resolve_database
    from sovrium_tui.planning.directory import read_plan_directory
    from sovrium_tui.schema import load_app

    target = load_app(Path(schema_path))
    directory = read_plan_directory(Path(plans_dir))
    directory.require_sound()
    head_version = directory.head.plan.version if directory.head else 0
    origin, highest = await _origin_from_database(resolve_database(database_url).url, directory)
    next_version = max(origin.version, highest, head_version) + 1
    return _write_next_plan(target, origin, next_version, plans_dir, name=name, mode="online")


def plan_offline(schema_path: str | Path, plans_dir: str | Path = "plans", *, name: str | None = None) -> PlanOutcome:
    """Diff the schema against the head plan's schema and write the next plan file (no database, no event loop)."""
    from sovrium_tui import forked
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.schema import load_app

    # The head plan's app (read and validated) and this schema are independent: the other core reads the
    # first while this one reads and compiles the second.
    with forked.started(functools.partial(_offline_head, Path(plans_dir))) as reading:
        target = load_app(Path(schema_path))
        target_catalog = compile_app(target)
        head_version, head = reading.result()
    origin = _origin_of(head_version, head)
    next_version = max(origin.version, head_version) + 1
    return _write_next_plan(
        target, origin, next_version, plans_dir, name=name, mode="offline", target_catalog=target_catalog
    )


def _write_next_plan(
    target: App,
    origin: Origin,
    next_version: int,
    plans_dir: str | Path,
    *,
    name: str | None,
    mode: str,
    target_catalog: Catalog | None = None,
) -> PlanOutcome:
    from sovrium_tui.planning.plan import slugify, write_plan
    from sovrium_tui.planning.planner import make_plan

    made = make_plan(target, origin, next_version=next_version, target_catalog=target_catalog)
    if made is None:
        return PlanOutcome(None, None, mode)
    slug = slugify(name) if name else slugify(made.summary)
    return PlanOutcome(made, write_plan(made, Path(plans_dir), slug), mode)


def rehash(plan_path: str | Path) -> Plan:
    """Accept a reviewed hand edit: check the plan, then rewrite only its digest line."""
    from sovrium_tui.planning.plan import load_plan, rewrite_digest

    path = Path(plan_path)
    edited = load_plan(path, check_digest=False, check_sql="all")
    rewrite_digest(path, edited.with_digest().digest)
    return load_plan(path)


def show(plan_path: str | Path) -> Plan:
    """Read a plan for review (digest state included: an edited plan is shown, not refused)."""
    from sovrium_tui.planning.plan import load_plan

    return load_plan(Path(plan_path), check_digest=False)


@record
class CheckResult:
    schema_checksum: str
    head_version: int | None
    head_checksum: str | None
    plan_count: int
    problems: tuple[str, ...]
    off_chain: tuple[str, ...]
    settings_only: bool = False  # the schema differs from the head only where the database never looks
    base: int = 0  # the version the chain starts from (not 0: reached without plan files)

    @property
    def in_sync(self) -> bool:
        return not self.problems and (self.head_checksum == self.schema_checksum or self.settings_only)

    def describe(self) -> str:
        lines = [f"problem: {p}" for p in self.problems]
        lines += [f"note: {name} is not on the head's chain and will not be applied" for name in self.off_chain]
        if self.base and not self.problems:
            lines.append(
                f"note: the chain starts at version {self.base}, reached without a plan file (`sovrium migrate`, "
                f"Sovrium): a database applies it from exactly there (a new one cannot be built from these plans)"
            )
        if self.problems:
            lines.append(f"plans are broken ({plural(len(self.problems), 'problem')})")
        elif self.in_sync:
            how = "needs no database change beyond" if self.settings_only else "matches"
            plans = plural(self.plan_count, "plan")
            lines.append(f"in sync: {plans}, the schema {how} head version {self.head_version}")
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
            "settings_only": self.settings_only,
            "starts_at_version": self.base,
        }


def check(schema_path: str | Path, plans_dir: str | Path = "plans") -> CheckResult:
    """CI check: the plans form one intact chain, and its head is exactly this schema."""
    from sovrium_tui import forked
    from sovrium_tui.schema import app_checksum, load_app

    # Reading the plan files and validating the schema are independent: the plans are read on the other core.
    with forked.started(functools.partial(_chain_summary, Path(plans_dir))) as reading:
        app = load_app(Path(schema_path))
        checksum = app_checksum(app)
        chain = reading.result()
    settings_only = False
    if chain.head_schema is not None and not chain.problems and chain.head_checksum != checksum:
        from sovrium_tui.catalog import compile_app
        from sovrium_tui.planning.diff import diff

        settings_only = not diff(catalog_for_snapshot(read_json(chain.head_schema)), compile_app(app))
    return CheckResult(
        schema_checksum=checksum,
        head_version=chain.head_version,
        head_checksum=chain.head_checksum,
        plan_count=chain.plan_count,
        problems=chain.problems,
        off_chain=chain.off_chain,
        settings_only=settings_only,
        base=chain.base,
    )


@record
class _ChainSummary:
    """What `check` needs of a plans directory (small, so a child process can send it back cheaply)."""

    head_version: int | None
    head_checksum: str | None
    head_schema: str | None
    plan_count: int
    problems: tuple[str, ...]
    off_chain: tuple[str, ...]
    base: int


def _chain_summary(plans_dir: Path) -> _ChainSummary:
    from sovrium_tui.planning.directory import read_plan_directory

    directory = read_plan_directory(plans_dir)
    head = directory.head
    return _ChainSummary(
        head_version=head.plan.version if head else None,
        head_checksum=head.plan.to_checksum if head else None,
        head_schema=head.plan.schema if head else None,
        plan_count=len(directory.files),
        problems=directory.problems,
        off_chain=tuple(f.path.name for f in directory.off_chain),
        base=directory.base,
    )


# --- database use cases (apply, migrate, rollback, status, history, drift, verify) -----------------------

DEFAULT_LOCK_WAIT = 30.0


def catalog_for_snapshot(snapshot: Mapping[str, Any]) -> Catalog:
    """The catalog an app snapshot {name, tables} compiles to (an empty one for no tables)."""
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.schema import recorded_app

    return compile_app(recorded_app(snapshot), recorded=True)


def changes_between(older: Mapping[str, Any], newer: Mapping[str, Any]) -> tuple[Change, ...]:
    """The changes a plan would make from one recorded app snapshot to another (renames known by id)."""
    from sovrium_tui.catalog import compile_app
    from sovrium_tui.planning.diff import diff
    from sovrium_tui.planning.renames import renames_between
    from sovrium_tui.schema import recorded_app

    before = recorded_app(older)
    after = recorded_app(newer)
    return tuple(
        diff(compile_app(before, recorded=True), compile_app(after, recorded=True), renames_between(before, after))
    )


@record
class PlanRun:
    path: str
    version: int
    status: str  # "applied", "already-applied", "dry-run", "skipped: …"
    steps: int
    elapsed_ms: int

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "version": self.version,
            "status": self.status,
            "steps": self.steps,
            "elapsed_ms": self.elapsed_ms,
        }


@record
class ApplyOutcome:
    database: str
    runs: tuple[PlanRun, ...]
    notes: tuple[str, ...]  # e.g. plan files edited after they were applied
    from_version: int | None = None  # the recorded version before this run
    to_version: int | None = None  # the version the runs left the database at (from_version when none applied)

    @property
    def applied(self) -> tuple[PlanRun, ...]:
        return tuple(r for r in self.runs if r.status == "applied")

    def describe(self) -> str:
        lines = [f"note: {note}" for note in self.notes]
        for run in self.runs:
            lines.append(
                f"version {run.version} ({run.path}): {run.status}, {plural(run.steps, 'step')}, {run.elapsed_ms} ms"
            )
        if not self.runs:
            lines.append("nothing pending: the database is up to date with the plans")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {"database": self.database, "runs": [r.to_json() for r in self.runs], "notes": list(self.notes)}


@record
class PlanSource:
    """The plans a file or directory offers to apply, in order, and notes about the ones it leaves out."""

    files: tuple[PlanFile, ...]
    notes: tuple[str, ...]


def read_plan_source(target: Path) -> PlanSource:
    """Read and check the plans of a file or directory once (a fleet applies the same ones to every database).

    A missing file or directory is an error: a CI job pointed at the wrong path must not pass.
    """
    from sovrium_tui.errors import PlanInvalid
    from sovrium_tui.planning.directory import PlanFile, read_plan_directory
    from sovrium_tui.planning.plan import load_plan

    if not target.exists():
        raise PlanInvalid(f"no plan file or plans directory at {target} (make plans with `sovrium plan`)")
    if target.is_dir():
        directory = read_plan_directory(target)
        directory.require_sound()
        notes = tuple(f"{f.path} is not on the newest plan's chain; it is not applied" for f in directory.off_chain)
        return PlanSource(directory.chain, notes)
    return PlanSource((PlanFile(target, load_plan(target)),), ())


async def pending_plans(
    connection: asyncpg.Connection, target: Path, source: PlanSource | None = None
) -> tuple[list[PlanFile], list[str]]:
    """The plans of a file or directory not yet applied to this database, in order, and notes about the rest.

    A plan whose version this database reached by another path (another checksum) is an error: it can never
    apply here. `source` is the file or directory already read, when the caller read it once for many databases.
    """
    from sovrium_tui.errors import PlanStale
    from sovrium_tui.execution import store

    source = source or read_plan_source(target)
    candidates, notes = list(source.files), list(source.notes)
    applied = {entry.version: entry for entry in await store.history(connection) if entry.rolled_back_at is None}
    pending = []
    for file in candidates:
        entry = applied.get(file.plan.version)
        if entry is None:
            pending.append(file)
        elif entry.checksum != file.plan.to_checksum:
            raise PlanStale(
                f"{file.path} makes version {file.plan.version} with checksum {file.plan.to_checksum[:12]}, but "
                f"this database's version {file.plan.version} has checksum {entry.checksum[:12]} (reached another "
                "way, e.g. by `sovrium migrate` or another plan): this plan can never apply here; make a new plan "
                "from the database with `sovrium plan`"
            )
        elif _changed_since_applied(entry, file.plan):
            notes.append(f"{file.path} was changed after version {file.plan.version} was applied")
    return pending, notes


def _changed_since_applied(entry: HistoryEntry, plan: Plan) -> bool:
    """Whether a plan differs from what made its version in this database: another digest and other steps. The
    same steps made at another time (`sovrium migrate` at start-up, while the plan files are committed) are the
    same change."""
    if entry.plan.get("digest") in (None, plan.digest):
        return False
    return entry.plan.get("steps") != [step.to_json() for step in plan.steps]


async def apply(
    target: str | Path | None = None,
    *,
    plans_dir: str | Path = "plans",
    allow_destructive: bool = False,
    dry_run: bool = False,
    database_url: str | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    lock_timeout: str = "10s",
    statement_timeout: str = "0",
    reporter: Reporter | None = None,
    source: PlanSource | None = None,
) -> ApplyOutcome:
    """Apply one plan file, or every pending plan of a directory in order, each as one transaction.

    A dry run runs every pending plan, each on top of the ones before it, in one transaction that is then
    rolled back: a later plan's checks, counts and verification see the earlier plans applied. `source` is the
    plans already read by `read_plan_source` (a fleet reads them once for every database).
    """
    from sovrium_tui.execution import store
    from sovrium_tui.execution.connect import connect, resolve_database

    database = resolve_database(database_url)
    report = reporter or _ignore
    connection = await connect(database.url, lock_timeout=lock_timeout)
    try:
        state = await store.read_state(connection)
        pending, notes = await pending_plans(connection, Path(target or plans_dir), source)
        runs = []
        async with _rolled_back_if(connection, dry_run):
            for file in pending:
                result = await _apply_file(
                    connection,
                    file,
                    url=database.url,
                    allow_destructive=allow_destructive,
                    lock_wait=lock_wait,
                    lock_timeout=lock_timeout,
                    statement_timeout=statement_timeout,
                    reporter=report,
                )
                status = "dry-run" if dry_run and result.status == "applied" else result.status
                runs.append(PlanRun(str(file.path), result.version, status, len(result.steps), result.elapsed_ms))
    finally:
        await connection.close()
    if dry_run and runs:
        from sovrium_tui.execution.events import PlanRolledBack

        report(PlanRolledBack(runs[-1].version, "dry run: every check and step succeeded", "dry-run"))
        losing = any(file.plan.destructive_steps for file in pending)  # else no count to go stale
        notes += [f"a dry run does not check {limit}" for limit in (DRY_RUN_LIMITS if losing else DRY_RUN_LIMITS[1:])]
    from_version = state.version if state else 0
    to_version = max([from_version] + [r.version for r in runs if r.status in ("applied", "already-applied")])
    return ApplyOutcome(database.display_url, tuple(runs), tuple(notes), from_version, to_version)


async def _apply_file(
    connection: asyncpg.Connection,
    file: PlanFile,
    *,
    url: str,
    allow_destructive: bool,
    lock_wait: float,
    lock_timeout: str,
    statement_timeout: str,
    reporter: Reporter,
) -> ApplyResult:
    from sovrium_tui import forked
    from sovrium_tui.execution import executor

    # The plan's target is only needed after its last step: it is compiled on the other core while the server
    # runs the steps (a 500-table plan: 0.2 s of 4).
    schema = file.plan.schema
    aside = (
        contextlib.nullcontext(None)
        if schema in _COMPILED
        else forked.started(functools.partial(_compiled_once, schema))
    )
    with aside as compiling:
        return await executor.apply_plan(
            connection,
            file.plan,
            target_catalog_for=_TargetCatalog(schema, compiling),
            allow_destructive=allow_destructive,
            applied_by=executor.applied_by(),
            lock_wait=lock_wait,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
            reporter=reporter,
            recorded_catalog_for=catalog_for_snapshot,
            opener=_opener(url),
        )


class _TargetCatalog:
    """A plan's target catalog: the one compiled aside for its snapshot (`schema`, canonical JSON), else compiled
    here (a plan made again under the lock by `migrate` has another)."""

    def __init__(self, schema: str, compiling: forked.Pending[Catalog] | None) -> None:
        self._schema, self._compiling = schema, compiling

    def __call__(self, snapshot: Mapping[str, Any]) -> Catalog:
        from sovrium_tui.planning.plan import canonical_json

        schema = canonical_json(snapshot)
        if schema != self._schema:
            return _compiled_once(schema)
        if self._schema not in _COMPILED and self._compiling is not None:
            _remember(self._schema, self._compiling.result())
        return _compiled_once(self._schema)


# Target catalogs by canonical snapshot: a fleet applies one plan to many databases, compiled once.
_COMPILED: dict[str, Catalog] = {}


def _compiled_once(schema: str) -> Catalog:
    """`catalog_for_snapshot` of a canonical JSON snapshot, compiled once per process."""
    if schema not in _COMPILED:
        _remember(schema, catalog_for_snapshot(read_json(schema)))
    return _COMPILED[schema]


def _remember(schema: str, catalog: Catalog) -> None:
    if len(_COMPILED) >= 16:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[schema] = catalog


@contextlib.asynccontextmanager
async def _rolled_back_if(connection: asyncpg.Connection, dry_run: bool) -> AsyncIterator[None]:
    """For a dry run, one transaction around every plan's (then nested) transaction, always rolled back."""
    if not dry_run:
        yield
        return
    import asyncpg

    outer = connection.transaction(isolation="read_committed")
    await outer.start()
    try:
        yield
    finally:
        if not connection.is_closed():
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await outer.rollback()


async def migrate(
    schema_path: str | Path,
    *,
    allow_destructive: bool = False,
    database_url: str | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    lock_timeout: str = "10s",
    statement_timeout: str = "0",
    reporter: Reporter | None = None,
) -> MigrateOutcome:
    """The start-up path: nothing when the recorded checksum equals the schema's; else plan in memory and apply.

    The plan is made again under the migration lock when another runner moved the database on in the meantime,
    so two application instances starting with different schema versions both end up applied in turn.
    """
    from sovrium_tui.execution import executor, store
    from sovrium_tui.execution.connect import connect, resolve_database
    from sovrium_tui.schema import app_checksum, load_app

    app = load_app(Path(schema_path))
    checksum = app_checksum(app)
    url = resolve_database(database_url).url
    connection = await connect(url, lock_timeout=lock_timeout)
    try:
        state = await store.read_state(connection)
        from_version = state.version if state else 0
        if state is not None and state.checksum == checksum:
            return MigrateOutcome("up-to-date", state.version, checksum, 0, 0, from_version=from_version)

        async def plan_from(conn: asyncpg.Connection, recorded: store.RecordedState | None) -> Plan | None:
            if recorded is not None and recorded.checksum == checksum:
                return None
            return await _plan_in_memory(conn, app, recorded)

        made = await plan_from(connection, state)
        assert made is not None
        result = await executor.apply_plan(
            connection,
            made,
            target_catalog=catalog_for_snapshot(read_json(made.schema)),
            allow_destructive=allow_destructive,
            applied_by=executor.applied_by(),
            lock_wait=lock_wait,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
            reporter=reporter or _ignore,
            recorded_catalog_for=catalog_for_snapshot,
            replan=plan_from,
            opener=_opener(url),
        )
    finally:
        await connection.close()
    status = "up-to-date" if result.status == "already-applied" else "migrated"
    return MigrateOutcome(
        status, result.version, checksum, len(result.steps), result.elapsed_ms, from_version=from_version
    )


async def _recorded_catalog_if_drift_accepted(
    connection: asyncpg.Connection, state: RecordedState | None
) -> Catalog | None:
    """The catalog the recorded schema compiles to, when this database ever accepted drift (a plan from its live
    catalog then keeps that drift: see `planning.accepted`); None otherwise, with nothing compiled."""
    from sovrium_tui.execution import store

    if state is None or not await store.drift_acceptances(connection):
        return None
    return catalog_for_snapshot(state.schema)


async def _plan_in_memory(connection: asyncpg.Connection, app: App, state: RecordedState | None) -> Plan:
    """The plan from the database's recorded state and live catalog to `app`, with a version number after
    every version the database ever recorded; a change the database never sees still records its checksum."""
    from sovrium_tui.catalog.introspect import introspect
    from sovrium_tui.execution import store
    from sovrium_tui.planning.planner import Origin, make_plan
    from sovrium_tui.schema import recorded_app

    origin = Origin(
        version=state.version if state else 0,
        checksum=state.checksum if state else None,
        app=recorded_app(state.schema) if state else None,
        catalog=await introspect(connection),
        recorded_catalog=await _recorded_catalog_if_drift_accepted(connection, state),
    )
    # Applied at once, so its forward SQL is what must parse now; the reverse SQL comes from the same renderer
    # whose output every plan file check parses (and the test suite checks for every field type).
    made = make_plan(app, origin, next_version=await store.highest_version(connection) + 1, allow_empty=True)
    assert made is not None
    return made


async def rollback(
    *,
    to_version: int | None = None,
    force: bool = False,
    reason: str | None = None,
    dry_run: bool = False,
    database_url: str | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    lock_timeout: str = "10s",
    statement_timeout: str = "0",
    reporter: Reporter | None = None,
) -> RollbackResult:
    """Reverse the latest version, or every version above `to_version`, in one transaction."""
    from sovrium_tui.execution import executor
    from sovrium_tui.execution.connect import connect, resolve_database

    url = resolve_database(database_url).url
    connection = await connect(url, lock_timeout=lock_timeout)
    try:
        return await executor.rollback(
            connection,
            to_version=to_version,
            force=force,
            reason=reason or "no reason given",
            applied_by=executor.applied_by(),
            lock_wait=lock_wait,
            reporter=reporter or _ignore,
            dry_run=dry_run,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
            target_catalog_for=catalog_for_snapshot,
            opener=_opener(url),
        )
    finally:
        await connection.close()


@record
class PlanState:
    path: str
    version: int
    summary: str
    # "applied", "pending", "edited" (not re-hashed yet), "rolled back", "edited after apply", "other plan applied"
    # (this version was made here by a different plan), "cannot apply" (it follows one), "off chain"
    state: str
    applied_at: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "version": self.version,
            "summary": self.summary,
            "state": self.state,
            "applied_at": self.applied_at,
        }


@record
class StatusReport:
    database: str
    server_version: str
    version: int
    checksum: str | None
    updated_at: str | None
    drift: bool | None  # None: nothing recorded yet to compare with
    lock_holder: str | None
    plans: tuple[PlanState, ...]
    plan_problems: tuple[str, ...]
    recent_log: tuple[LogEntry, ...]

    @property
    def pending(self) -> tuple[PlanState, ...]:
        """What `apply` would run: pending plans, and rolled-back ones above the current version (a rolled-back
        version may be applied again)."""
        return tuple(
            p for p in self.plans if p.state == "pending" or (p.state == "rolled back" and p.version > self.version)
        )

    def describe(self) -> str:
        drift = {None: "nothing recorded yet", True: "DRIFTED (see `sovrium drift`)", False: "none"}[self.drift]
        lines = [
            f"database:  {self.database} (PostgreSQL {self.server_version})",
            f"version:   {self.version}"
            + (f" (checksum {self.checksum[:12]}, {self.updated_at})" if self.checksum else ""),
            f"drift:     {drift}",
            f"lock:      {self.lock_holder or 'free'}",
            f"plans:     {len(self.plans)} ({len(self.pending)} pending)",
        ]
        lines += [f"  {p.version:>4}  {p.state:<18} {p.summary}" for p in self.plans]
        lines += [f"problem: {problem}" for problem in self.plan_problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "database": self.database,
            "server_version": self.server_version,
            "version": self.version,
            "checksum": self.checksum,
            "updated_at": self.updated_at,
            "drift": self.drift,
            "lock_holder": self.lock_holder,
            "plans": [p.to_json() for p in self.plans],
            "pending": [p.version for p in self.pending],
            "plan_problems": list(self.plan_problems),
            "recent_log": [entry.to_json() for entry in self.recent_log],
        }


async def status(
    *, plans_dir: str | Path = "plans", database_url: str | None = None, directory: PlanDirectory | None = None
) -> StatusReport:
    """Where the database stands: version, checksum, drift, lock holder, and each plan's state.

    `directory` is the plans directory already read (a fleet reads it once for every database).
    """
    from sovrium_tui.catalog.introspect import fingerprint, introspect
    from sovrium_tui.execution import executor, store
    from sovrium_tui.execution.connect import connect, resolve_database
    from sovrium_tui.planning.directory import read_plan_directory

    database = resolve_database(database_url)
    connection = await connect(database.url)
    try:
        state = await store.read_state(connection)
        drift = None
        if state is not None and state.fingerprint:
            drift = fingerprint(await introspect(connection)) != state.fingerprint
        entries = await store.history(connection)
        holder = await executor.lock_holder(connection)
        log = await store.log_entries(connection, limit=10)
        server_version = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    directory = directory or read_plan_directory(Path(plans_dir), list_edited=True)
    return StatusReport(
        database=database.display_url,
        server_version=server_version,
        version=state.version if state else 0,
        checksum=state.checksum if state else None,
        updated_at=state.updated_at.isoformat(timespec="seconds") if state else None,
        drift=drift,
        lock_holder=holder,
        plans=_plan_states(directory, entries),
        plan_problems=directory.problems,
        recent_log=tuple(log),
    )


def _plan_states(directory: PlanDirectory, entries: list[HistoryEntry]) -> tuple[PlanState, ...]:
    off_chain = {f.plan.version for f in directory.off_chain}
    latest: dict[int, HistoryEntry] = {}
    for row in entries:
        latest[row.version] = row  # oldest first: the last row per version wins
    states = []
    blocked: set[int] = set()  # versions this database made another way, and the plans that follow them
    for file in sorted(directory.files, key=lambda f: f.plan.version):
        entry = latest.get(file.plan.version)
        applied_at = entry.applied_at.isoformat(timespec="seconds") if entry else None
        start = latest.get(file.plan.from_version)
        if file.plan.version in off_chain:
            state = "off chain"
        elif entry is None and (
            file.plan.from_version in blocked
            or (start is not None and start.rolled_back_at is None and start.checksum != file.plan.from_checksum)
        ):
            state = "cannot apply"  # it starts from a state this database does not have: `apply` refuses it
            blocked.add(file.plan.version)
        elif entry is None:
            state = "pending" if file.plan.digest_ok else "edited"
        elif entry.rolled_back_at is not None:
            state = "rolled back"
        elif file.plan.digest_ok and entry.checksum != file.plan.to_checksum:
            state = "other plan applied"  # this version was made here by another plan (a branch's, `migrate`)
            blocked.add(file.plan.version)
        elif not file.plan.digest_ok or _changed_since_applied(entry, file.plan):
            state = "edited after apply"
        else:
            state = "applied"
        states.append(PlanState(str(file.path), file.plan.version, file.plan.summary, state, applied_at))
    return tuple(states)


@record
class HistoryReport:
    entries: tuple[HistoryEntry, ...]
    log: tuple[LogEntry, ...]

    def describe(self) -> str:
        if not self.entries and not self.log:
            return "no migrations recorded"
        lines = ["version  applied at                 by                          state        checksum      summary"]
        for e in self.entries:
            state = "rolled back" if e.rolled_back_at else "applied"
            lines.append(
                f"{e.version:>7}  {e.applied_at.isoformat(timespec='seconds'):<25}  {e.applied_by[:26]:<26}  "
                f"{state:<11}  {e.checksum[:12]}  {e.plan.get('summary', '')}"
            )
            if e.rolled_back_at:
                lines.append(
                    f"{'':>9}rolled back {e.rolled_back_at.isoformat(timespec='seconds')}: {e.rollback_reason}"
                )
        lines.append("")
        lines.append("log:")
        for entry in self.log:
            line = log_line(entry)
            reason = f": {line.reason}" if line.reason else ""
            lines.append(
                f"  {entry.created_at.isoformat(timespec='seconds')}  {line.event:<14} {line.status:<9} "
                f"{line.versions}{reason}"
            )
        return "\n".join(lines)

    def to_json(self, *, with_snapshots: bool = False) -> dict[str, object]:
        return {
            "history": [e.to_json(with_snapshot=with_snapshots) for e in self.entries],
            "log": [entry.to_json() for entry in self.log],
        }


async def history(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
    limit: int | None = None,
    database_url: str | None = None,
) -> HistoryReport:
    """The audit trail: applied versions (with snapshots) and the event log, filtered."""
    from sovrium_tui.execution import store
    from sovrium_tui.execution.connect import connect, resolve_database

    connection = await connect(resolve_database(database_url).url)
    try:
        entries = await store.history(connection, since=since, until=until, version=version, limit=limit)
        log = await store.log_entries(connection, limit=limit)
    finally:
        await connection.close()
    if since or until or version is not None:
        log = [
            e
            for e in log
            if (since is None or e.created_at >= since)
            and (until is None or e.created_at < until)
            and (version is None or version in (e.from_version, e.to_version))
        ]
    return HistoryReport(tuple(entries), tuple(log))


@record
class DriftReport:
    version: int
    drifted: bool
    differences: tuple[Difference, ...]
    accepted: bool = False
    recorded: bool = True  # False: never migrated, so there is no baseline to compare with

    def describe(self) -> str:
        if not self.recorded and self.version:
            return (
                f"no baseline yet: version {self.version} was recorded without a catalog fingerprint (by Sovrium "
                "itself); the next migration by this tool records one"
            )
        if not self.recorded:
            return (
                "nothing recorded yet: this database was never migrated by sovrium, so it has no baseline to drift from"
            )
        count, noun = len(self.differences), "difference" if len(self.differences) == 1 else "differences"
        if self.accepted:
            return f"accepted the live schema as the baseline of version {self.version} ({count} {noun})"
        if not self.drifted:
            extra = f" ({count} accepted {noun})" if self.differences else ""
            return f"no drift: the database matches what version {self.version} recorded{extra}"
        lines = [f"Schema drift detected since version {self.version}:"]
        by_table: dict[str, list[Difference]] = {}
        for difference in self.differences:
            by_table.setdefault(difference.table or "(database)", []).append(difference)
        for table, differences in sorted(by_table.items()):
            lines.append(f"  {table}")
            lines.extend(f"    {d.kind:<8} {d.detail}" for d in differences)
        if not self.differences:
            lines.append("  the catalog fingerprint differs (no difference the differ can name)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "drift": self.drifted,
            "accepted": self.accepted,
            "differences": [d.to_json() for d in self.differences],
            "recorded": self.recorded,
        }


async def drift(
    *, accept: bool = False, reason: str | None = None, database_url: str | None = None, lock_wait: float = 10.0
) -> DriftReport:
    """Compare the live database with the state recorded at the last migration; optionally accept it."""
    from sovrium_tui.catalog.introspect import fingerprint, introspect
    from sovrium_tui.errors import SovriumError, UsageError
    from sovrium_tui.execution import executor, store
    from sovrium_tui.execution.connect import connect, resolve_database
    from sovrium_tui.planning.drift import find_drift

    if accept and not reason:
        raise UsageError("drift --accept needs --reason TEXT (it is recorded in the audit log)")
    connection = await connect(resolve_database(database_url).url)
    try:
        async with connection.transaction():
            if accept:
                await executor.acquire_migration_lock(connection, lock_wait=lock_wait, reporter=_ignore)
            state = await store.read_state(connection)
            if state is None:
                if accept:
                    raise SovriumError("nothing recorded yet: this database was never migrated; there is no baseline")
                return DriftReport(version=0, drifted=False, differences=(), recorded=False)
            live = await introspect(connection)
            if state.fingerprint is None and not accept:  # Sovrium's bookkeeping: nothing to compare with yet
                return DriftReport(version=state.version, drifted=False, differences=(), recorded=False)
            differences = find_drift(catalog_for_snapshot(state.schema), live)
            drifted = bool(state.fingerprint) and fingerprint(live) != state.fingerprint
            if accept and drifted:
                await _accept_live(connection, state, fingerprint(live), reason=reason or "", differences=differences)
    finally:
        await connection.close()
    return DriftReport(state.version, drifted and not accept, differences, accepted=accept and drifted)


def _ignore(event: object) -> None:
    del event


def _opener(url: str) -> Callable[[], Awaitable[asyncpg.Connection]]:
    """Opens a second connection to `url`, to ask who holds a lock the migration's connection waits for."""

    async def open_connection() -> asyncpg.Connection:
        from sovrium_tui.execution.connect import connect

        return await connect(url)

    return open_connection


async def verify(
    plan_path: str | Path, *, scratch_url: str | None = None, database_url: str | None = None
) -> VerifyResult:
    """Round-trip a plan on a scratch database (created and dropped on the embedded server or --scratch-url)."""
    from urllib.parse import urlsplit, urlunsplit

    from sovrium_tui.errors import PlanInvalid
    from sovrium_tui.execution.connect import resolve_database
    from sovrium_tui.execution.verify import verify_plan
    from sovrium_tui.planning.directory import read_plan_directory
    from sovrium_tui.planning.plan import load_plan

    path = Path(plan_path)
    plan = load_plan(path)
    directory = read_plan_directory(path.parent)
    by_version = {f.plan.version: f.plan for f in directory.files}
    ancestors: list[Plan] = []
    version, checksum = plan.from_version, plan.from_checksum
    while version:
        parent = by_version.get(version)
        if parent is None or parent.to_checksum != checksum:
            raise PlanInvalid(
                f"verify needs the plans this one builds on: version {version} is not in {path.parent}",
                location=str(path),
            )
        ancestors.insert(0, parent)
        version, checksum = parent.from_version, parent.from_checksum
    server_url = scratch_url or resolve_database(database_url).url

    def url_for(database: str) -> str:
        parts = urlsplit(server_url)
        return urlunsplit(parts._replace(path="/" + database))

    return await verify_plan(
        plan,
        ancestors,
        server_url=server_url,
        target_catalog=catalog_for_snapshot(read_json(plan.schema)),
        url_for=url_for,
    )


# --- pre-flight: a dry run of every pending plan before anyone confirms ---------------------------------------

# What a dry run cannot tell, said next to its result so nobody reads more into it than it checked.
DRY_RUN_LIMITS = (
    "values written after this count (they are lost with the rest once the loss is allowed)",
    "locks other sessions hold when the apply runs (it waits up to lock_timeout for them)",
)


@record
class PlanCheck:
    """What the dry run found for one pending plan, run on top of the pending plans before it."""

    path: str
    version: int
    summary: str
    outcome: str  # "passes", "destroys" (passes once data loss is allowed), "fails", "not checked"
    losses: tuple[str, ...] = ()  # "step 3 drops column companies.employee_count (40 non-null values)"
    problem: str | None = None  # why it fails, or why it was not checked
    failed_step: int | None = None

    @property
    def runs(self) -> bool:
        return self.outcome in ("passes", "destroys")

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "version": self.version,
            "summary": self.summary,
            "outcome": self.outcome,
            "losses": list(self.losses),
            "problem": self.problem,
            "failed_step": self.failed_step,
        }


@record
class Preflight:
    """The dry run of every pending plan in order: what each would destroy, or where it would fail."""

    database: str
    checks: tuple[PlanCheck, ...]
    notes: tuple[str, ...]

    @property
    def limits(self) -> tuple[str, ...]:
        """What the dry run could not check (the counts' limit only matters when something would be lost)."""
        return DRY_RUN_LIMITS if self.losses else DRY_RUN_LIMITS[1:]

    @property
    def runnable(self) -> bool:
        """Every pending plan passes (perhaps destroying data, which the confirmation must then allow)."""
        return bool(self.checks) and all(check.runs for check in self.checks)

    @property
    def losses(self) -> tuple[str, ...]:
        """Every loss, each naming its version when more than one plan is pending."""
        several = len(self.checks) > 1
        return tuple(
            f"version {check.version}: {loss}" if several else loss for check in self.checks for loss in check.losses
        )

    @property
    def failure(self) -> PlanCheck | None:
        return next((check for check in self.checks if check.outcome == "fails"), None)

    def describe(self) -> str:
        if not self.checks:
            return "nothing pending: the database is up to date with the plans"
        lines = [f"note: {note}" for note in self.notes]
        for check in self.checks:
            lines.append(f"version {check.version} ({check.path}): {check.outcome}")
            lines += [f"  would destroy: {loss}" for loss in check.losses]
            if check.problem:
                lines.append(f"  {check.problem}")
        lines += [f"not checked: {limit}" for limit in self.limits]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "database": self.database,
            "runnable": self.runnable,
            "plans": [check.to_json() for check in self.checks],
            "notes": list(self.notes),
            "not_checked": list(self.limits),
        }


async def preflight(
    target: str | Path | None = None,
    *,
    plans_dir: str | Path = "plans",
    until_version: int | None = None,
    database_url: str | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    lock_timeout: str = "10s",
    statement_timeout: str = "0",
    reporter: Reporter | None = None,
) -> Preflight:
    """Dry-run every pending plan (up to `until_version`) in one transaction that is rolled back.

    Each plan runs on top of the ones before it, so a later plan's counts, failures and verification are the
    ones it would meet. A plan that would destroy data is run again with the loss allowed, so the plans after
    it are checked too; a plan that fails stops the run (the plans after it are "not checked").
    """
    from sovrium_tui.errors import DestructiveRefused, SovriumError, StepFailed
    from sovrium_tui.execution.connect import connect, resolve_database

    database = resolve_database(database_url)
    report = reporter or _ignore

    async def dry_run(file: PlanFile, *, allow_destructive: bool) -> None:
        await _apply_file(
            connection,
            file,
            url=database.url,
            allow_destructive=allow_destructive,
            lock_wait=lock_wait,
            lock_timeout=lock_timeout,
            statement_timeout=statement_timeout,
            reporter=report,
        )

    connection = await connect(database.url, lock_timeout=lock_timeout)
    checks: list[PlanCheck] = []
    try:
        pending, notes = await pending_plans(connection, Path(target or plans_dir))
        if until_version is not None:
            pending = [file for file in pending if file.plan.version <= until_version]
        async with _rolled_back_if(connection, True):
            for file in pending:
                plan = file.plan
                losses: tuple[str, ...] = ()
                try:
                    try:
                        await dry_run(file, allow_destructive=False)
                    except DestructiveRefused as refusal:
                        losses = refusal.losses
                        await dry_run(file, allow_destructive=True)
                except SovriumError as error:
                    step = error.step if isinstance(error, StepFailed) else None
                    checks.append(
                        PlanCheck(str(file.path), plan.version, plan.summary, "fails", losses, error.render(), step)
                    )
                    break
                outcome = "destroys" if losses else "passes"
                checks.append(PlanCheck(str(file.path), plan.version, plan.summary, outcome, losses))
        failed = checks[-1].version if checks and checks[-1].outcome == "fails" else None
        checks += [
            PlanCheck(
                str(file.path),
                file.plan.version,
                file.plan.summary,
                "not checked",
                problem=f"not checked: version {failed} before it fails",
            )
            for file in pending[len(checks) :]
        ]
    finally:
        await connection.close()
    if checks:
        from sovrium_tui.execution.events import PlanRolledBack

        report(PlanRolledBack(checks[-1].version, "dry run finished", "dry-run"))
    return Preflight(database.display_url, tuple(checks), tuple(notes))


# --- the audit log, read unambiguously --------------------------------------------------------------------


@record
class LogLine:
    """One log row as every display shows it: a failed migration's automatic rollback is not a `rollback`."""

    event: str  # "MIGRATE", "ROLLBACK", "AUTO-ROLLBACK", "DRIFT_ACCEPTED", …
    status: str
    versions: str  # "3→4", or "stays 3" for what did not change the version
    reason: str


def log_line(entry: LogEntry) -> LogLine:
    """The words for a log row (the `ROLLBACK` row written after a failed migration says what it undid)."""
    from sovrium_tui.execution.audit import AUTOMATIC_ROLLBACK

    reason = " ".join((entry.reason or "").split())
    start = entry.from_version if entry.from_version is not None else 0
    end = entry.to_version or 0
    if entry.operation == "ROLLBACK" and reason.startswith(AUTOMATIC_ROLLBACK.strip()):
        error = reason.removeprefix(AUTOMATIC_ROLLBACK.strip()).strip()
        return LogLine(
            "AUTO-ROLLBACK", entry.status, f"stays {start}", f"undid the failed migration {start}→{end}: {error}"
        )
    if start == end and entry.operation != "MIGRATE":
        return LogLine(entry.operation, entry.status, f"stays {start}", reason)
    return LogLine(entry.operation, entry.status, f"{start}→{end}", reason)


# --- finishing flows: archive a superseded plan, plan to revert drift, unplanned changes ---------------------


@record
class ArchiveOutcome:
    source: Path
    destination: Path
    version: int

    def describe(self) -> str:
        return f"archived version {self.version}: moved {self.source} to {self.destination}"

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "source": str(self.source), "destination": str(self.destination)}


ARCHIVE_DIR = "archive"


async def archive(plan_path: str | Path, *, database_url: str | None = None) -> ArchiveOutcome:
    """Move a plan this database has not applied (rolled back and superseded, say) into `archive/` beside it.

    Refused for a plan the database has applied, and for a plan other plan files build on (archive those first),
    so the directory is left a sound chain. The file is moved, never deleted.
    """
    from sovrium_tui.errors import SovriumError
    from sovrium_tui.execution import store
    from sovrium_tui.execution.connect import connect, resolve_database
    from sovrium_tui.planning.directory import read_plan_directory

    source = Path(plan_path)
    plan = show(source)
    directory = read_plan_directory(source.parent, list_edited=True)
    builds_on = [
        f.path.name
        for f in directory.files
        if f.path != source and f.plan.from_version == plan.version and f.plan.from_checksum == plan.to_checksum
    ]
    connection = await connect(resolve_database(database_url).url)
    try:
        entries = await store.history(connection, version=plan.version)
    finally:
        await connection.close()
    if any(e.rolled_back_at is None and e.checksum == plan.to_checksum for e in entries):  # said first: it decides
        raise SovriumError(
            f"cannot archive {source}: version {plan.version} is applied to this database; roll it back first"
        )
    if builds_on:
        raise SovriumError(
            f"cannot archive {source}: {', '.join(builds_on)} build(s) on it; archive those first", location=None
        )
    folder = source.parent / ARCHIVE_DIR
    folder.mkdir(exist_ok=True)
    destination = folder / source.name
    copy = 1
    while destination.exists():
        copy += 1
        destination = folder / f"{source.stem}.{copy}{source.suffix}"
    source.rename(destination)
    return ArchiveOutcome(source, destination, plan.version)


async def revert_drift_plan(
    *, reason: str, plans_dir: str | Path = "plans", database_url: str | None = None, lock_wait: float = 10.0
) -> PlanOutcome:
    """Write the plan that takes the drifted database back to the schema its current version recorded.

    The plan is the next version, from the current version and checksum to the same checksum (the schema does
    not change), so `check` sees an unchanged head and `status` a pending plan. Apply refuses a drifted
    database, so the live schema is accepted as the baseline (audited, naming the plan and the reason) in the
    same transaction that reads it: the plan then applies through the usual checks, and its data-loss steps
    (dropping a column added by hand) through the usual confirmation.
    """
    from sovrium_tui.catalog.introspect import fingerprint, introspect
    from sovrium_tui.errors import PlanStale, SovriumError, UsageError
    from sovrium_tui.execution import executor, store
    from sovrium_tui.execution.connect import connect, resolve_database
    from sovrium_tui.planning.directory import read_plan_directory
    from sovrium_tui.planning.drift import find_drift
    from sovrium_tui.planning.plan import write_plan
    from sovrium_tui.planning.planner import Origin, make_plan
    from sovrium_tui.schema import recorded_app

    if not reason.strip():
        raise UsageError("a plan to revert drift needs a reason (it is recorded in the audit log)")
    directory = read_plan_directory(Path(plans_dir))
    directory.require_sound()
    connection = await connect(resolve_database(database_url).url)
    try:
        async with connection.transaction():
            await executor.acquire_migration_lock(connection, lock_wait=lock_wait, reporter=_ignore)
            state = await store.read_state(connection)
            if state is None or not state.fingerprint:
                raise SovriumError("no baseline recorded by this tool yet: there is no drift to revert")
            pending = [f for f in directory.chain if f.plan.version > state.version]
            if pending:
                raise PlanStale(
                    f"{pending[0].path} is not applied to this database (it is at version {state.version}): a plan "
                    "to revert drift starts from the database's version; apply or archive the plans above it first"
                )
            live = await introspect(connection)
            if fingerprint(live) == state.fingerprint:
                raise SovriumError(f"no drift: the database matches what version {state.version} recorded")
            recorded = recorded_app(state.schema)
            highest = await store.highest_version(connection)
            head = directory.head.plan.version if directory.head else 0
            differences = find_drift(catalog_for_snapshot(state.schema), live)
            made = make_plan(
                recorded,
                Origin(version=state.version, checksum=state.checksum, app=recorded, catalog=live),
                next_version=max(state.version, highest, head) + 1,
                summary=f"revert drift since version {state.version} ({len(differences)} difference"
                + ("s)" if len(differences) != 1 else ")"),
                keep_row_security=False,
            )
            if made is None:
                raise SovriumError("the drift cannot be expressed as schema changes: nothing to revert")
            path = write_plan(made, Path(plans_dir), "revert_drift")
            try:
                await _accept_live(
                    connection,
                    state,
                    fingerprint(live),
                    reason=f"to be reverted by {path}: {reason.strip()}",
                    differences=differences,
                )
            except BaseException:
                path.unlink(missing_ok=True)
                raise
    finally:
        await connection.close()
    return PlanOutcome(made, path, "revert drift")


async def _accept_live(
    connection: asyncpg.Connection,
    state: RecordedState,
    live_fingerprint: str,
    *,
    reason: str,
    differences: tuple[Difference, ...],
) -> None:
    """Record the live schema's fingerprint as the baseline of the current version, with a DRIFT_ACCEPTED row."""
    from sovrium_tui.execution import executor, store

    await store.write_state(
        connection,
        version=state.version,
        checksum=state.checksum,
        schema=json.dumps(state.schema, sort_keys=True, ensure_ascii=False),
        fingerprint=live_fingerprint,
    )
    await store.append_log(
        connection,
        operation="DRIFT_ACCEPTED",
        status="COMPLETED",
        from_version=state.version,
        to_version=state.version,
        reason=f"{reason} ({plural(len(differences), 'difference')}: "
        + "; ".join(d.detail for d in differences)[:2000]
        + ")",
        actor=executor.applied_by(),
    )


@record
class Unplanned:
    """What the schema file changes that no plan file covers yet (compared with the newest plan)."""

    schema: str
    head_version: int | None
    changes: tuple[str, ...]  # one summary per change a plan would make
    problem: str | None = None  # the schema or the plans cannot be read: nothing can be compared

    def describe(self) -> str:
        if self.problem:
            return self.problem
        if not self.changes:
            return f"{self.schema} has no unplanned changes"
        return f"{self.schema} has {len(self.changes)} unplanned change(s): " + "; ".join(self.changes)


def unplanned(schema_path: str | Path, plans_dir: str | Path = "plans") -> Unplanned:
    """The changes the schema file makes beyond the newest plan file (offline: no database is read)."""
    from sovrium_tui.errors import SovriumError
    from sovrium_tui.planning.directory import read_plan_directory
    from sovrium_tui.schema import app_checksum, app_snapshot, load_app

    name = Path(schema_path).name
    try:
        app = load_app(Path(schema_path))
        directory = read_plan_directory(Path(plans_dir))
    except SovriumError as failure:
        return Unplanned(name, None, (), f"{name} cannot be read: {failure.render()}")
    head = directory.head
    if directory.problems:
        return Unplanned(name, None, (), f"the plans in {plans_dir} are broken: nothing to compare {name} with")
    if head is not None and head.plan.to_checksum == app_checksum(app):
        return Unplanned(name, head.plan.version, ())
    before = read_json(head.plan.schema) if head else {"name": app.name, "tables": []}
    changes = changes_between(before, app_snapshot(app))
    return Unplanned(name, head.plan.version if head else None, tuple(change.summary() for change in changes))


def compare_snapshots(older: Mapping[str, Any], newer: Mapping[str, Any]) -> tuple[SchemaChange, ...]:
    """Two recorded app snapshots as table and field differences, each with the database changes it takes."""
    from sovrium_tui.planning.schema_diff import schema_changes

    return schema_changes(older, newer, changes_between(older, newer))


def values_not_restored(entries: Sequence[HistoryEntry], *, current: int, target: int) -> tuple[str, ...]:
    """What a rollback from `current` to `target` cannot bring back: values the undone versions destroyed.

    Undoing a dropped column or table re-creates it empty, and undoing a type change that cut values widens it
    again without them: the rollback restores the structure only.
    """
    notes = []
    undone = sorted(
        (e for e in entries if e.rolled_back_at is None and target < e.version <= current),
        key=lambda e: e.version,
        reverse=True,
    )
    for entry in undone:
        steps = entry.plan.get("steps", [])
        for step in steps if isinstance(steps, list) else []:
            if "data-loss" in (step.get("hazards") or []):
                notes.append(
                    f"version {entry.version} step {step.get('id', '?')} ({step.get('summary', '')}): undone, its "
                    "structure comes back without the values"
                )
    return tuple(notes)
