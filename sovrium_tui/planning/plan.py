"""Plan files: a typed Plan, written deterministically as reviewable YAML and read back strictly.

The digest covers everything in the file above it (the schema snapshot below it is bound by `to.checksum`),
so a hand edit is refused until `sovrium plan --rehash` accepts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, cast

from sovrium_tui.errors import PlanEdited, PlanInvalid, Problem
from sovrium_tui.records import record
from sovrium_tui.schema.js_json import read_json

FORMAT_VERSION = 1
PLAN_FILE = re.compile(r"^(\d{4,})_([a-z0-9_]+)\.ya?ml$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHECKSUM = re.compile(r"^[0-9a-f]{64}$")
_TOP_KEYS = (
    "sovrium_plan",
    "version",
    "app",
    "from",
    "to",
    "created_at",
    "summary",
    "steps",
    "digest",
    "schema",
)
_STEP_KEYS = ("id", "op", "target", "summary", "hazards", "forward", "reverse")
_STEP_KEY_SET = frozenset(_STEP_KEYS)
HAND_WRITTEN_OP = "sql"
# Generated steps whose forward may be empty: all their work is in the reverse (a formula column the plan drops is
# computed again when a rollback brings it back).
REVERSE_ONLY_OPS = frozenset({"compute_columns"})
# Every step kind this tool writes (the `op` of each change in `planning.changes`, checked by a test; kept here so
# reading a plan does not import them), and `sql` for a hand-written step: any other `op` is an edit to refuse.
GENERATED_OPS = frozenset(
    {
        "add_column",
        "add_constraint",
        "alter_column_type",
        "attach_sequence",
        "compute_columns",
        "create_auth_users",
        "create_function",
        "create_index",
        "create_policy",
        "create_table",
        "create_trigger",
        "create_view",
        "detach_sequence",
        "drop_auth_users",
        "drop_column",
        "drop_constraint",
        "drop_function",
        "drop_index",
        "drop_not_null",
        "drop_policy",
        "drop_table",
        "drop_trigger",
        "drop_view",
        "refresh_view",
        "rename_column",
        "rename_constraint",
        "rename_function",
        "rename_index",
        "rename_table",
        "rename_trigger",
        "replace_function",
        "set_default",
        "set_not_null",
        "set_row_security",
    }
)


@record
class Step:
    id: int
    op: str
    target: str
    summary: str
    hazards: tuple[str, ...]
    forward: tuple[str, ...]
    reverse: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op": self.op,
            "target": self.target,
            "summary": self.summary,
            "hazards": list(self.hazards),
            "forward": list(self.forward),
            "reverse": list(self.reverse),
        }


@record
class Plan:
    version: int  # the migration version this plan creates
    app: str
    from_version: int  # 0 before the first plan
    from_checksum: str | None
    to_checksum: str
    created_at: str
    summary: str
    steps: tuple[Step, ...]
    schema: str  # canonical JSON of the target app snapshot {"name": …, "tables": […]}
    digest: str = ""

    @property
    def hazards(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for step in self.steps:
            seen.update(dict.fromkeys(step.hazards))
        return tuple(seen)

    @property
    def destructive_steps(self) -> tuple[Step, ...]:
        """Steps whose hazards (as `shown_hazards` gives them) say they lose data."""
        from sovrium_tui.planning.hazards import is_destructive

        return tuple(step for step in self.steps if is_destructive(shown_hazards(step)))

    def header_json(self) -> dict[str, Any]:
        """Everything the digest covers, in file order."""
        return {**self.preamble_json(), "steps": [step.to_json() for step in self.steps]}

    def preamble_json(self) -> dict[str, Any]:
        """The header before its steps."""
        return {
            "sovrium_plan": FORMAT_VERSION,
            "version": self.version,
            "app": self.app,
            "from": {"version": self.from_version, "checksum": self.from_checksum},
            "to": {"checksum": self.to_checksum},
            "created_at": self.created_at,
            "summary": self.summary,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.header_json(), "digest": self.digest, "schema": read_json(self.schema)}

    def with_digest(self) -> Plan:
        return replace(self, digest=compute_digest(self))

    @property
    def digest_ok(self) -> bool:
        return self.digest == compute_digest(self)


def canonical_json(value: object) -> str:
    """Compact JSON with keys sorted at every level: one text for one value (`json.dumps`'s)."""
    written = _by_orjson(value, may_hold_floats=True)
    if written is not None:
        return written.decode("utf-8")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _by_orjson(value: object, *, may_hold_floats: bool) -> bytes | None:
    """`canonical_json(value)` as UTF-8 from orjson, five times faster, where it is provably the same text.

    Else None: a value orjson cannot write (keys that are not text, huge integers, lone surrogates), or one that
    `may_hold_floats` and whose text shows a fraction or an exponent (which the two spell differently) or null
    (orjson's spelling of NaN and infinities too).
    """
    import orjson

    if type(value) is not dict and type(value) is not list:
        return None  # the search below needs every value after a bracket
    try:
        written = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return None if may_hold_floats and _may_not_be_plain(written) else written


# A value starts right after `:`, `,` or `[`: a number with a fraction or an exponent, or null. A match inside a
# text (`"a:null"`) only costs the slower path.
_NOT_PLAIN = re.compile(rb"[:,\[](?:-?[0-9]+[.eE]|null)")


def _may_not_be_plain(written: bytes) -> bool:
    """Whether `_NOT_PLAIN` matches, asked first with substring searches (a plan's schema is megabytes)."""
    from sovrium_tui.schema.js_json import number_clues

    if b"null" not in written and b"0." not in number_clues(written):
        return False
    return _NOT_PLAIN.search(written) is not None


def compute_digest(plan: Plan) -> str:
    """SHA-256 over the canonical JSON of everything above `digest:` in the file (text, whole numbers and null
    only: the plan's fields are typed so)."""
    header = plan.header_json()
    canonical = _by_orjson(header, may_hold_floats=False) or canonical_json(header).encode("utf-8")
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def plan_file_name(version: int, slug: str) -> str:
    return f"{version:04d}_{slug}.yaml"


def slugify(text: str, *, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug[:limit].rstrip("_") or "change"


# --- writing -----------------------------------------------------------------------------------------


def dump_plan(plan: Plan, *, file_name: str | None = None, directory: str = "plans") -> str:
    """The plan as YAML text: same plan, same bytes; SQL with line breaks as literal blocks.

    The header says how to apply and re-hash the file where it is written (`directory`/`file_name`).
    """
    return "".join(plan_chunks(plan, file_name=file_name, directory=directory))


def plan_chunks(plan: Plan, *, file_name: str | None = None, directory: str = "plans") -> Iterator[str]:
    """`dump_plan` in pieces, for writing a big plan without holding all of its text."""
    from sovrium_tui.planning.plan_yaml import document_chunks, snapshot_text, steps_chunks

    name = file_name or plan_file_name(plan.version, slugify(plan.summary))
    where = _shell_word(f"{directory.rstrip('/')}/{name}" if directory not in ("", ".") else name)
    yield (
        f"# Sovrium migration plan {plan.version:04d} for app {plan.app!r}: {_one_line(plan.summary)}\n"
        f"# Review the steps below, then apply with: sovrium apply {where}\n"
        "# Hand edits (e.g. an `op: sql` backfill step) are allowed; re-hash afterwards with\n"
        f"#   sovrium plan --rehash {where}\n"
    )
    yield from document_chunks(plan.preamble_json())
    yield from steps_chunks(plan.steps)
    yield from document_chunks({"digest": plan.digest})
    snapshot = read_json(plan.schema)
    laid_out = snapshot_text(snapshot)
    if laid_out is not None:
        yield f"schema: {laid_out}\n"
    else:
        yield from document_chunks({"schema": snapshot})


def rewrite_digest(path: Path, digest: str) -> None:
    """Replace only the `digest:` line, keeping a reviewer's formatting and comments."""
    text = path.read_text(encoding="utf-8")
    new_text, count = re.subn(r"(?m)^digest:.*$", f"digest: {digest}", text, count=1)
    if count != 1:
        raise PlanInvalid("plan file has no top-level `digest:` line to update", location=str(path))
    path.write_text(new_text, encoding="utf-8")


def write_plan(plan: Plan, directory: Path, slug: str) -> Path:
    path = directory / plan_file_name(plan.version, slug)
    partial = path.with_name(f".{path.name}.partial")  # the plan appears whole or not at all
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as out:
            out.writelines(plan_chunks(plan, file_name=path.name, directory=str(directory)))
        partial.replace(path)
    except OSError as failure:  # a plans directory under a file, no permission, a full disk …
        reason = failure.strerror or str(failure)
        where = failure.filename if isinstance(failure.filename, str) else str(directory)
        raise PlanInvalid(f"cannot write the plan file: {reason}: {where}", location=str(path)) from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return path


def _shell_word(text: str) -> str:
    """A path as it can be pasted into a shell."""
    import shlex

    return shlex.quote(text)


def _one_line(text: str) -> str:
    """Text for a comment line: line breaks and other control characters as spaces."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


# --- reading -----------------------------------------------------------------------------------------


# Which statements a load reads with PostgreSQL's parser: "all", or (the default) "edited": every statement when
# the digest does not match, else only the hand-written steps'. A plan with an intact digest was written or
# re-hashed by this tool, which read every statement then; `apply` reads every forward statement again anyway.
SqlCheck = Literal["all", "edited"]


def load_plan(path: Path, *, check_digest: bool = True, check_sql: SqlCheck = "edited") -> Plan:
    """Read and check a plan file: shape, types, SQL that parses, schema bound to `to`, and the digest."""
    from sovrium_tui.schema.load import read_file

    try:
        raw = read_file(path)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise PlanInvalid("Plan file not found", location=str(path)) from None
    except IsADirectoryError:
        raise PlanInvalid(
            "Is a directory, not a plan file (name a plans folder with --plans)", location=str(path)
        ) from None
    except PermissionError:
        raise PlanInvalid("Permission denied: cannot read the plan file", location=str(path)) from None
    except OSError as failure:
        raise PlanInvalid(f"Cannot read the plan file: {failure.strerror or failure}", location=str(path)) from None
    except ValueError as failure:  # not UTF-8, or a NUL in the name
        reason = "it is not UTF-8 text" if isinstance(failure, UnicodeDecodeError) else "no file can have this name"
        raise PlanInvalid(f"Cannot read the plan file: {reason}", location=str(path)) from None
    return parse_plan(text, source=str(path), check_digest=check_digest, check_sql=check_sql)


def parse_plan(text: str, *, source: str, check_digest: bool = True, check_sql: SqlCheck = "edited") -> Plan:
    """Read a plan; its SQL is parsed with PostgreSQL's parser as `check_sql` says."""
    from sovrium_tui.planning.plan_yaml import load_document

    document = load_document(text, source=source)
    problems: list[Problem] = []
    plan = _read_plan(document, problems)
    intact = plan is not None and not problems and plan.digest_ok
    if plan is not None and not problems:
        problems.extend(_sql_problems(plan, every=check_sql == "all" or not intact))
        problems.extend(_schema_problems(plan, cast(dict[str, Any], document)["schema"]["tables"]))
    if problems or plan is None:
        rendered = "; ".join(p.render() for p in problems) or "not a plan"
        raise PlanInvalid(f"invalid plan file: {rendered}", location=source)
    if check_digest and not intact:
        raise PlanEdited(
            "plan file was edited after it was made (digest mismatch); review the change, then run "
            f"`sovrium plan --rehash {source}` to accept it",
            location=source,
        )
    return plan


def _read_plan(document: object, problems: list[Problem]) -> Plan | None:
    if not isinstance(document, dict):
        problems.append(Problem("a plan file must be a YAML mapping"))
        return None
    _unknown_keys(document, _TOP_KEYS, "", problems)
    fmt = document.get("sovrium_plan")
    if fmt != FORMAT_VERSION:
        problems.append(Problem(f"unsupported plan format {fmt!r} (expected {FORMAT_VERSION})", "sovrium_plan"))
    version = _int(document, "version", problems, minimum=1)
    app = _text(document, "app", problems)
    origin = document.get("from")
    target = document.get("to")
    if not isinstance(origin, dict):
        problems.append(Problem("expected a mapping {version, checksum}", "from"))
        origin = {}
    else:
        _unknown_keys(origin, ("version", "checksum"), "from", problems)
    if not isinstance(target, dict):
        problems.append(Problem("expected a mapping {checksum}", "to"))
        target = {}
    else:
        _unknown_keys(target, ("checksum",), "to", problems)
    from_version = _int(origin, "version", problems, minimum=0, path="from.version")
    from_checksum = origin.get("checksum")
    if from_checksum is not None and not (isinstance(from_checksum, str) and _CHECKSUM.match(from_checksum)):
        problems.append(Problem("expected null or 64 lowercase hex characters", "from.checksum"))
    to_checksum = target.get("checksum")
    if not (isinstance(to_checksum, str) and _CHECKSUM.match(to_checksum)):
        problems.append(Problem("expected 64 lowercase hex characters", "to.checksum"))
    created_at = document.get("created_at")
    if not isinstance(created_at, str):
        created_at = str(created_at) if created_at is not None else ""
        if not created_at:
            problems.append(Problem("expected a timestamp", "created_at"))
    summary = _text(document, "summary", problems)
    digest = document.get("digest")
    if not (isinstance(digest, str) and _DIGEST.match(digest)):
        problems.append(Problem("expected sha256:<64 hex characters>", "digest"))
    schema = document.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("tables"), list):
        problems.append(Problem("expected the app snapshot {name, tables}", "schema"))
        schema = {"tables": []}
    elif app and schema.get("name") != app:
        problems.append(Problem(f"the snapshot's name is not the plan's app ({app!r})", "schema.name"))
    snapshot = _snapshot_json(schema, problems)
    steps = _read_steps(document.get("steps"), problems)
    if problems:
        return None
    return Plan(
        version=version,
        app=app,
        from_version=from_version,
        from_checksum=from_checksum,
        to_checksum=str(to_checksum),
        created_at=created_at,
        summary=summary,
        steps=steps,
        schema=snapshot,
        digest=str(digest),
    )


def _snapshot_json(schema: dict[str, Any], problems: list[Problem]) -> str:
    """The snapshot's canonical JSON; a problem when it is not JSON data (a key that is not text, which the
    JSON writer would silently turn into one, or nesting past what it can write)."""
    written = _by_orjson(schema, may_hold_floats=True)
    if written is not None:  # the usual case, and the one of every plan this tool writes
        return written.decode("utf-8")
    if not _text_keys_only(schema):
        problems.append(Problem("expected JSON data: every key in the snapshot must be text", "schema"))
        return "{}"
    try:
        return canonical_json(schema)
    except (TypeError, ValueError, RecursionError) as failure:
        problems.append(Problem(f"expected JSON data: {failure}", "schema"))
        return "{}"


def _text_keys_only(value: object) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def _read_steps(raw: object, problems: list[Problem]) -> tuple[Step, ...]:
    """The steps; a hand-written one (`op: sql`) needs only `forward` and `reverse` besides its op."""
    from sovrium_tui.planning.hazards import HAZARDS

    if not isinstance(raw, list) or not raw:
        problems.append(Problem("a plan needs at least one step", "steps"))
        return ()
    steps = []
    for position, item in enumerate(raw):
        quick = _well_formed_step(item, position + 1, HAZARDS)
        if quick is not None:
            steps.append(quick)
            continue
        path = f"steps[{position}]"
        if not isinstance(item, dict):
            problems.append(Problem("expected a mapping", path))
            continue
        _unknown_keys(item, _STEP_KEYS, path, problems)
        op = _text(item, "op", problems, path=f"{path}.op")
        if op and op != HAND_WRITTEN_OP and op not in GENERATED_OPS:
            problems.append(
                Problem(f"unknown op {op!r} (a hand-written step is `op: {HAND_WRITTEN_OP}`)", f"{path}.op")
            )
        hand_written = op == HAND_WRITTEN_OP
        step_id = position + 1
        if "id" in item or not hand_written:
            step_id = _int(item, "id", problems, minimum=1, path=f"{path}.id")
            if step_id != position + 1:
                problems.append(Problem(f"step ids must run 1, 2, 3, …; expected {position + 1}", f"{path}.id"))
        hazards: tuple[str, ...] = ()
        if "hazards" in item or not hand_written:
            hazards = _text_list(item, "hazards", problems, path, allow_empty=True)
        for hazard in hazards:
            if hazard not in HAZARDS:
                problems.append(Problem(f"unknown hazard {hazard!r} (one of {', '.join(HAZARDS)})", path))
        forward = _text_list(item, "forward", problems, path, allow_empty=op in REVERSE_ONLY_OPS)
        summary = ""
        if "summary" in item or not hand_written:
            summary = _text(item, "summary", problems, path=f"{path}.summary")
        elif forward:
            summary = "hand-written SQL: " + " ".join(forward[0].split())[:80]
        target = ""
        if "target" in item or not hand_written:
            target = _text(item, "target", problems, path=f"{path}.target", allow_empty=True)
        steps.append(
            Step(
                id=step_id,
                op=op,
                target=target,
                summary=summary,
                hazards=hazards,
                forward=forward,
                reverse=_text_list(item, "reverse", problems, path, allow_empty=True),
            )
        )
    return tuple(steps)


def _well_formed_step(item: object, step_id: int, hazards: Collection[str]) -> Step | None:
    """A generated step as this tool writes it, read without building a path or a problem for each key; None
    for anything else (a hand-written step, an edit), which the careful reading above then goes through.
    Plain comparisons, no generator per list: a 2,000-table plan has 8,000 steps."""
    if type(item) is not dict or item.keys() != _STEP_KEY_SET:
        return None
    number, op, target, summary = item["id"], item["op"], item["target"], item["summary"]
    named, forward, reverse = item["hazards"], item["forward"], item["reverse"]
    if type(number) is not int or number != step_id or type(op) is not str or op not in GENERATED_OPS:
        return None
    if type(target) is not str or type(summary) is not str or not summary:
        return None
    if type(named) is not list or type(forward) is not list or type(reverse) is not list:
        return None
    if not forward and op not in REVERSE_ONLY_OPS:
        return None
    for hazard in named:
        if type(hazard) is not str or hazard not in hazards:
            return None
    for statements in (forward, reverse):
        for statement in statements:
            if type(statement) is not str or not statement or statement.isspace():
                return None
    return Step(step_id, op, target, summary, tuple(named), tuple(forward), tuple(reverse))


def _unknown_keys(mapping: dict[Any, Any], allowed: tuple[str, ...], path: str, problems: list[Problem]) -> None:
    for key in mapping:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            problems.append(Problem(f"unknown key {key!r} (allowed: {', '.join(allowed)})", where))


def _int(mapping: dict[Any, Any], key: str, problems: list[Problem], *, minimum: int, path: str = "") -> int:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(Problem(f"expected a whole number ≥ {minimum}", path or key))
        return minimum
    return value


def _text(
    mapping: dict[Any, Any], key: str, problems: list[Problem], *, path: str = "", allow_empty: bool = False
) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        problems.append(Problem("expected text", path or key))
        return ""
    return value


def _text_list(
    mapping: dict[Any, Any], key: str, problems: list[Problem], path: str, *, allow_empty: bool
) -> tuple[str, ...]:
    value = mapping.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(Problem("expected a list of SQL statements (text)", f"{path}.{key}"))
        return ()
    if not value and not allow_empty:
        problems.append(Problem("expected at least one statement", f"{path}.{key}"))
    return tuple(value)


def shown_hazards(step: Step) -> tuple[str, ...]:
    """A step's hazards for review: as written, plus `data-loss` for a hand-written step whose SQL drops, deletes,
    overwrites or narrows (a `hazards: []` over a `DROP TABLE` does not hide it; `apply` counts the loss from the
    SQL in any case)."""
    if step.op != HAND_WRITTEN_OP or "data-loss" in step.hazards or not _sql_may_destroy(step.forward):
        return step.hazards
    return ("data-loss", *step.hazards)


def _sql_may_destroy(statements: tuple[str, ...]) -> bool:
    """Whether one of the statements drops, deletes, overwrites or narrows (what PostgreSQL's parser shows)."""
    from sovrium_tui.planning.statements import analyse

    return any(analyse(statement).effects for statement in statements)


def _sql_problems(plan: Plan, *, every: bool) -> list[Problem]:
    """Statements that cannot be in a plan: of every step, or of the hand-written ones only."""
    from sovrium_tui.planning.statements import statement_problem

    problems = []
    for step in plan.steps:
        if not every and step.op != HAND_WRITTEN_OP:
            continue
        for direction in ("forward", "reverse"):
            for number, statement in enumerate(getattr(step, direction), start=1):
                reason = statement_problem(statement)
                if reason:
                    problems.append(
                        Problem(
                            f"step {step.id} {direction} statement {number}: {reason}",
                            f"steps[{step.id - 1}]",
                        )
                    )
    return problems


def _schema_problems(plan: Plan, tables: list[object]) -> list[Problem]:
    """The snapshot (`tables` as read, the same data as `plan.schema`) must be the one `to.checksum` names."""
    from sovrium_tui.schema.checksum import checksum_of_tables

    if checksum_of_tables(tables) != plan.to_checksum:
        return [Problem("the schema snapshot does not match to.checksum", "schema")]
    return []
