"""The `sovrium` command: argument parsing, output (text or --json) and exit codes, over the services layer.

Imports stay lazy: a command loads only what it needs, so the start-up path never pays for the TUI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sovrium_tui import __version__
from sovrium_tui.errors import EXIT_DIFFERENCES, EXIT_FAILED, EXIT_OK, EXIT_USAGE, SovriumError, UsageError
from sovrium_tui.text import plural, terminal_text

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit 2 with one line, the way every other error looks."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _say(text: str) -> None:
    """One line of a command's text output on stdout, made safe for the terminal."""
    sys.stdout.write(terminal_text(text) + "\n")


def _emit_json(document: object) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (from a JSON schema's "\ud800"): written as JSON escapes
            text = json.dumps(document, indent=2, default=str)
    sys.stdout.write(text + "\n")


# --- commands -----------------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    result = services.validate(args.schema)
    if args.json:
        _emit_json(result.to_json())
    else:
        _say(result.describe())
    return EXIT_OK


def _cmd_sql(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    script = services.create_sql(args.schema)
    if args.json:
        _emit_json(script.to_json())
    else:
        sys.stdout.write(terminal_text(script.text()))
    return EXIT_OK


def _cmd_db(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    state = services.embedded_db(args.action)
    if args.json:
        _emit_json(state.to_json())
    elif args.action == "url":
        _say(state.url)
    else:
        _say(state.describe())
    return EXIT_OK


def _run(coroutine: Any) -> Any:
    from sovrium_tui.services import run_async

    return run_async(coroutine)


def _cmd_plan(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    if args.rehash:
        rehashed = services.rehash(args.rehash)
        if args.json:
            _emit_json({"rehashed": args.rehash, "digest": rehashed.digest})
        else:
            _say(f"re-hashed {args.rehash}: {rehashed.digest}")
        return EXIT_OK
    if not args.schema:
        raise UsageError("plan needs a SCHEMA (or --rehash PLAN)")
    if args.offline:  # no database: no event loop either (asyncio alone is 50 ms of imports)
        outcome = services.plan_offline(args.schema, args.plans, name=args.name)
    else:
        outcome = _run(services.plan(args.schema, args.plans, name=args.name, database_url=args.database_url))
    if args.json:
        _emit_json(outcome.to_json())
    else:
        _say(outcome.describe())
    return EXIT_OK if outcome.plan is not None else EXIT_DIFFERENCES


def _cmd_show(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    shown = services.show(args.plan)
    if args.json:
        destructive = [step.id for step in shown.destructive_steps]
        _emit_json({**shown.to_json(), "digest_ok": shown.digest_ok, "destructive_steps": destructive})
    else:
        sys.stdout.write(render_plan(shown, color=_use_color(args)))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    result = services.check(args.schema, args.plans)
    if args.json:
        _emit_json(result.to_json())
    else:
        _say(result.describe())
    if result.problems:
        return EXIT_FAILED
    return EXIT_OK if result.in_sync else EXIT_DIFFERENCES


class _Progress:
    """Prints the executor's events to stderr as they happen: one line per step, with timings. On a terminal a
    step's line shows while it runs; elsewhere (CI logs, pipes) it is written once, whole, when it ends."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.total = 0
        self.live = enabled and sys.stderr.isatty()
        self.held = ""  # the start of a step's line, not yet written

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        from sovrium_tui.execution import events

        match event:
            case events.PlanStarted(version, step_count, operation):
                self.total = step_count
                going = "rolling back to version" if operation == "rollback" else "version"
                self._say(f"{going} {version}: {plural(step_count, 'step')}")
            case events.StepStarted(step_id, summary):
                self._say(f"  [{step_id}/{self.total}] {summary} …", end="")
            case events.StepFinished():
                self._say(f" done ({event.took})")
            case events.StepFailed(_, message):
                self._say(f" FAILED: {message}")
            case events.PlanRolledBack(version, _reason, outcome, operation):
                self._say(_rolled_back_line(version, outcome, operation))
            case events.LockWaiting(holder):
                self._say(f"waiting for the migration lock held by {holder}")
            case events.TableLockWaiting(what, holders, waited_s, limit):
                left = event.seconds_left
                gives_up = f"gives up in {left:.0f} s (lock_timeout {limit})" if left is not None else "no time limit"
                self._say(f"\n  {what}: waiting {waited_s:.0f} s for a lock, {gives_up}; held by {holders}")

    def _say(self, text: str, end: str = "\n") -> None:
        line = self.held + terminal_text(text) + end
        self.held = ""
        if not end and not self.live:
            self.held = line
            return
        sys.stderr.write(line)
        sys.stderr.flush()


def _rolled_back_line(version: int, outcome: str, operation: str) -> str:
    """What a transaction that did not commit left behind, in one line (the error itself follows on stderr)."""
    what = f"version {version} was not applied" if operation == "apply" else f"rollback to version {version} not done"
    if outcome == "dry-run":
        return f"dry run finished: the transaction was rolled back on purpose, nothing was changed (version {version})"
    if outcome == "unknown":
        return f"{what}? the connection was lost while committing: the outcome is unknown (check `sovrium status`)"
    return f"{what}: the transaction was rolled back, nothing was changed"


def _confirm(question: str, args: argparse.Namespace) -> bool:
    """Ask on a terminal; never wait when stdin is not one (scripts and CI), or with --yes."""
    if getattr(args, "yes", False) or getattr(args, "json", False) or not sys.stdin.isatty():
        return True
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _timeouts(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "lock_wait": args.lock_wait,
        "lock_timeout": args.lock_timeout,
        "statement_timeout": args.statement_timeout,
    }


def _cmd_apply(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    if _fleet_requested(args):
        return _fleet_apply(args)
    if not args.dry_run and not _confirm(f"Apply pending plans from {args.target or args.plans}?", args):
        sys.stderr.write("cancelled: nothing was applied\n")
        return EXIT_FAILED
    outcome = _run(
        services.apply(
            args.target,
            plans_dir=args.plans,
            allow_destructive=args.allow_destructive,
            dry_run=args.dry_run,
            database_url=args.database_url,
            reporter=_Progress(not args.json),
            **_timeouts(args),
        )
    )
    if args.json:
        _emit_json(outcome.to_json())
    else:
        _say(outcome.describe())
    return EXIT_OK


def _cmd_migrate(args: argparse.Namespace) -> int:
    from sovrium_tui.startup import migrate_fast

    if _fleet_requested(args):
        return _fleet_migrate(args)
    outcome = migrate_fast(args.schema, database_url=args.database_url)
    if outcome is None:
        from sovrium_tui import services

        outcome = _run(
            services.migrate(
                args.schema,
                allow_destructive=args.allow_destructive,
                database_url=args.database_url,
                reporter=_Progress(not args.json and not args.quiet),
                **_timeouts(args),
            )
        )
    if args.json:
        _emit_json(outcome.to_json())
    elif not args.quiet:
        _say(outcome.describe())
    return EXIT_OK


def _cmd_rollback(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    target = f"version {args.to}" if args.to is not None else "the previous version"
    if not args.dry_run and not _confirm(f"Roll the database back to {target}?", args):
        sys.stderr.write("cancelled: nothing was rolled back\n")
        return EXIT_FAILED
    result = _run(
        services.rollback(
            to_version=args.to,
            force=args.force,
            reason=args.reason,
            dry_run=args.dry_run,
            database_url=args.database_url,
            reporter=_Progress(not args.json),
            **_timeouts(args),
        )
    )
    if args.json:
        _emit_json(result.to_json())
    else:
        verb = "would roll back" if result.status == "dry-run" else "rolled back"
        reverted = result.reverted_versions
        versions = f"version{'s' if len(reverted) > 1 else ''} {', '.join(str(v) for v in reverted)}"
        _say(f"{verb} {versions}: the database is at version {result.to_version}")
        for loss in result.data_loss:
            _say(f"  data destroyed: {loss}")
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    if _fleet_requested(args):
        return _fleet_status(args)
    report = _run(services.status(plans_dir=args.plans, database_url=args.database_url))
    if args.json:
        _emit_json(report.to_json())
    else:
        _say(report.describe())
    return EXIT_OK


def _cmd_history(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    if _fleet_requested(args):
        return _fleet_history(args)
    report = _run(
        services.history(
            since=args.since,
            until=args.until,
            version=args.version,
            limit=args.limit,
            database_url=args.database_url,
        )
    )
    if args.json:
        _emit_json(report.to_json(with_snapshots=args.snapshots))
    else:
        _say(report.describe())
    return EXIT_OK


def _cmd_drift(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    if _fleet_requested(args):
        return _fleet_drift(args)
    if args.revert_plan:
        if args.accept:
            raise UsageError("drift: --revert-plan and --accept are two different answers; give one")
        outcome = _run(
            services.revert_drift_plan(reason=args.reason or "", plans_dir=args.plans, database_url=args.database_url)
        )
        if args.json:
            _emit_json(outcome.to_json())
        else:
            _say(outcome.describe())
            _say("the live schema is now this plan's starting point (DRIFT_ACCEPTED in the log); apply the plan")
        return EXIT_OK
    report = _run(services.drift(accept=args.accept, reason=args.reason, database_url=args.database_url))
    if args.json:
        _emit_json(report.to_json())
    else:
        _say(report.describe())
    return EXIT_DIFFERENCES if report.drifted else EXIT_OK


def _cmd_archive(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    outcome = _run(services.archive(args.plan, database_url=args.database_url))
    if args.json:
        _emit_json(outcome.to_json())
    else:
        _say(outcome.describe())
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    result = _run(services.verify(args.plan, scratch_url=args.scratch_url, database_url=args.database_url))
    if args.json:
        _emit_json(result.to_json())
    else:
        _say(result.describe())
    return EXIT_OK if result.round_trips else EXIT_FAILED


def _cmd_tui(args: argparse.Namespace) -> int:
    from sovrium_tui.tui.app import run_tui

    if args.targets and args.database_url:
        raise UsageError("--targets and --database-url cannot be combined: the targets file names the databases")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):  # nothing waits for input a script cannot give
        raise UsageError(
            "the TUI needs a terminal (stdin and stdout); in scripts use the commands it runs: "
            "validate, plan, show, apply, rollback, status, history, drift"
        )
    return run_tui(args.schema, args.plans, args.database_url, targets=args.targets)


# --- many databases (--targets) -----------------------------------------------------------------------------

_FLEET_ONLY = {
    "only": "--only",
    "shard": "--shard",
    "parallel": "--parallel",
    "canary": "--canary",
    "max_failures": "--max-failures",
}


def _fleet_requested(args: argparse.Namespace) -> bool:
    """Whether the command runs on a targets file; fleet options without one, or with one URL, are usage errors."""
    if args.targets is None:
        given = [flag for name, flag in _FLEET_ONLY.items() if getattr(args, name, None) not in (None, [], 0)]
        if given:
            raise UsageError(f"{', '.join(given)} only work with --targets FILE")
        return False
    if args.database_url:
        raise UsageError("--targets and --database-url cannot be combined: the targets file names the databases")
    return True


def _selection(args: argparse.Namespace) -> Any:
    from sovrium_tui.fleet.selection import select_targets

    return select_targets(args.targets, only=args.only, shard=args.shard)


def _parallel(args: argparse.Namespace) -> int:
    from sovrium_tui.fleet.runner import DEFAULT_PARALLEL

    return int(args.parallel or DEFAULT_PARALLEL)


class _FleetProgress:
    """Prints a rollout's progress to stderr as targets start and finish (stdout keeps the table or JSON)."""

    def __call__(self, event: Any) -> None:
        from sovrium_tui.fleet.rollout import progress_line

        line = progress_line(event)
        if line is not None:
            sys.stderr.write(terminal_text(line) + "\n")
            sys.stderr.flush()


def _rollout_options(args: argparse.Namespace) -> dict[str, Any]:
    from sovrium_tui.fleet.rollout import Timeouts
    from sovrium_tui.fleet.runner import Limits

    return {
        "allow_destructive": args.allow_destructive,
        "timeouts": Timeouts(**_timeouts(args)),
        "limits": Limits(parallel=_parallel(args), canary=args.canary, max_failures=args.max_failures),
        "reporter": _FleetProgress(),
    }


def _report_rollout(report: Any, args: argparse.Namespace) -> int:
    if args.json:
        _emit_json(report.to_json())
    else:
        _say(report.describe())
    if report.ok:
        return EXIT_OK
    counts = report.counts()
    sys.stderr.write(
        f"error: {counts['failed']} of {len(report.targets)} targets failed, {counts['skipped']} skipped "
        "(see the table; re-running continues where this run stopped)\n"
    )
    return EXIT_FAILED


def _fleet_apply(args: argparse.Namespace) -> int:
    from sovrium_tui.fleet import rollout

    if args.dry_run:
        raise UsageError("--dry-run works on one database (--database-url), not with --targets")
    selection = _selection(args)
    plans = args.target or args.plans
    if not _confirm(f"Apply pending plans from {plans} to {selection.describe()}?", args):
        sys.stderr.write("cancelled: nothing was applied\n")
        return EXIT_FAILED
    report = _run(rollout.apply(selection, plans, **_rollout_options(args)))
    return _report_rollout(report, args)


def _fleet_migrate(args: argparse.Namespace) -> int:
    from sovrium_tui.fleet import rollout

    report = _run(rollout.migrate(_selection(args), args.schema, **_rollout_options(args)))
    return _report_rollout(report, args)


def _fleet_status(args: argparse.Namespace) -> int:
    from sovrium_tui.fleet import survey

    report = _run(survey.status(_selection(args), plans_dir=args.plans, parallel=_parallel(args)))
    if args.json:
        _emit_json(report.to_json())
    else:
        _say(report.describe())
    return EXIT_OK if report.ok else _unreadable(report)


def _fleet_drift(args: argparse.Namespace) -> int:
    from sovrium_tui.fleet import survey

    if args.accept or args.revert_plan:
        chosen = "--accept" if args.accept else "--revert-plan"
        raise UsageError(f"drift {chosen} decides for one database: use --database-url, not --targets")
    report = _run(survey.drift(_selection(args), parallel=_parallel(args)))
    if args.json:
        _emit_json(report.to_json())
    else:
        _say(report.describe())
    if not report.ok:
        return _unreadable(report)
    return EXIT_DIFFERENCES if report.drifted else EXIT_OK


def _fleet_history(args: argparse.Namespace) -> int:
    from sovrium_tui.fleet import survey

    report = _run(
        survey.history(
            _selection(args),
            since=args.since,
            until=args.until,
            version=args.version,
            limit=args.limit,
            parallel=_parallel(args),
        )
    )
    if args.json:
        _emit_json(report.to_json(with_snapshots=args.snapshots))
    else:
        _say(report.describe())
    return EXIT_OK if report.ok else _unreadable(report)


def _unreadable(report: Any) -> int:
    failed = [t.target.name for t in report.targets if not t.ok]
    sys.stderr.write(f"error: {len(failed)} of {len(report.targets)} targets could not be read: {', '.join(failed)}\n")
    return EXIT_FAILED


def _date(text: str) -> Any:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)  # 0001-01-01T00:00+14:00 is before the first representable moment
    except ValueError as failure:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD or an ISO timestamp)") from failure
    except OverflowError:
        raise argparse.ArgumentTypeError(f"out of range: {text!r} (years 1 to 9999, in UTC)") from None
    return moment


def _use_color(args: argparse.Namespace) -> bool:
    import os

    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


_HAZARD_COLORS = {"data-loss": "31;1", "narrowing": "31", "fails-on-existing-rows": "33"}


def render_plan(plan: Any, *, color: bool) -> str:
    """A plan as text for review: header, then each step with its hazards, forward and reverse SQL.

    Everything taken from the file is made terminal-safe before it is coloured.
    """
    from sovrium_tui.planning.plan import shown_hazards

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    safe = terminal_text
    origin = f"version {plan.from_version}" if plan.from_version else "an empty database"
    digest = "intact" if plan.digest_ok else paint("EDITED — run `sovrium plan --rehash` after review", "31;1")
    lines = [
        paint(f"Plan {plan.version:04d} for app {safe(repr(plan.app))}: {safe(plan.summary)}", "1"),
        f"  from {origin} to checksum {plan.to_checksum[:12]} · made {safe(plan.created_at)} · digest {digest}",
        f"  {plural(len(plan.steps), 'step')}, {len(plan.destructive_steps)} destructive",
        "",
    ]
    for step in plan.steps:
        badges = " ".join(paint(f"[{h}]", _HAZARD_COLORS.get(h, "36")) for h in shown_hazards(step))
        lines.append(paint(f"{step.id:>3}. {safe(step.summary)}", "1") + (f"  {badges}" if badges else ""))
        for label, code, statements in (("forward", "32", step.forward), ("reverse", "35", step.reverse)):
            lines.append(f"     {paint(label + ':', code)}" + ("" if statements else " (none)"))
            lines.extend(f"       {safe(line)}" for statement in statements for line in f"{statement};".splitlines())
        lines.append("")
    return "\n".join(lines)


# --- parser -------------------------------------------------------------------------------------------


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _add_database_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server in .sovrium/pgdata)",
    )


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds ≥ 0, got {text!r}")
    return value


_MAX_COUNT = 2**31 - 1  # versions are PostgreSQL integers; no count here needs more


def _count(minimum: int) -> Callable[[str], int]:
    """A whole number ≥ `minimum` (and at most 2,147,483,647)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number ≥ {minimum}, got {value}")
        if value > _MAX_COUNT:
            raise argparse.ArgumentTypeError(f"expected a whole number ≤ {_MAX_COUNT:,}, got {text}")
        return value

    return parse


def _add_execution_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock-wait", type=_seconds, default=30.0, metavar="SECONDS", help="wait this long for another runner (30)"
    )
    parser.add_argument(
        "--lock-timeout", default="10s", metavar="DURATION", help="give up on a table lock after this long (10s)"
    )
    parser.add_argument(
        "--statement-timeout", default="0", metavar="DURATION", help="cancel any statement after this long (0: never)"
    )


def _add_fleet_options(parser: argparse.ArgumentParser, *, rollout: bool = False) -> None:
    group = parser.add_argument_group(
        "many databases", "Run on every database of a targets file (YAML: targets: [{name, url | url_env, labels}])."
    )
    group.add_argument("--targets", metavar="FILE", help="the targets file (instead of --database-url)")
    group.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only targets with this label (or name=TARGET); repeat a key for any of its values, keys for all",
    )
    group.add_argument("--shard", metavar="I/N", help="only shard I of N (1..N, dealt in file order) of the selection")
    group.add_argument(
        "--parallel",
        type=_count(1),
        metavar="N",
        help="targets at once (default 4; lowered to the connections a server has free)",
    )
    if rollout:
        group.add_argument(
            "--canary",
            type=_count(0),
            default=0,
            metavar="K",
            help="the first K selected targets first; if any fails, the others are not touched",
        )
        group.add_argument(
            "--max-failures", type=_count(1), metavar="F", help="start no new target after F have failed"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sovrium",
        description="Schema migrations for Sovrium apps on PostgreSQL.",
        epilog=(
            "Exit codes: 0 success, 1 failure (message on stderr), 2 usage error, "
            "3 differences found (where a command says so). --debug shows a traceback for failures."
        ),
    )
    parser.add_argument("--version", action="version", version=f"sovrium {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback when a command fails")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    validate = commands.add_parser(
        "validate",
        help="check a schema file and report every problem with its location",
        description="Load a schema (YAML or JSON) and report every problem, each with its path and line. "
        "Exit 0 when valid, 1 when not.",
    )
    validate.add_argument("schema", metavar="SCHEMA", help="the app schema file (.yaml, .yml or .json)")
    _add_json(validate)
    validate.set_defaults(handler=_cmd_validate)

    sql = commands.add_parser(
        "sql",
        help="print the SQL that creates a schema's tables in an empty database",
        description="Validate and compile a schema, then print the CREATE statements it needs, in "
        "dependency order. Nothing is sent to a database.",
    )
    sql.add_argument("schema", metavar="SCHEMA", help="the app schema file (.yaml, .yml or .json)")
    _add_json(sql)
    sql.set_defaults(handler=_cmd_sql)

    plan = commands.add_parser(
        "plan",
        help="write the next plan file: the steps that take the database to SCHEMA",
        description="Diff SCHEMA against the database (or, with --offline, against the newest plan in "
        "--plans) and write the next plan file, NNNN_slug.yaml, for review. Exit 0 when a plan was written, "
        "3 when there are no schema changes (no file is written), 1 on error. With --rehash PLAN, accept a "
        "reviewed hand edit of PLAN by updating its digest.",
    )
    plan.add_argument("schema", metavar="SCHEMA", nargs="?", help="the app schema file")
    plan.add_argument("--plans", default="plans", metavar="DIR", help="the plans directory (default: plans)")
    plan.add_argument("--offline", action="store_true", help="diff against the newest plan, not a database")
    plan.add_argument("--name", metavar="SLUG", help="name the file NNNN_SLUG.yaml (default: from the summary)")
    plan.add_argument("--rehash", metavar="PLAN", help="re-hash a hand-edited plan file instead of planning")
    _add_database_url(plan)
    _add_json(plan)
    plan.set_defaults(handler=_cmd_plan)

    show = commands.add_parser(
        "show",
        help="render a plan for review: steps, hazards, forward and reverse SQL",
        description="Print a plan file for review. Colours on a terminal (NO_COLOR or --no-color turn them "
        "off). An edited plan is shown with its digest marked, not refused.",
    )
    show.add_argument("plan", metavar="PLAN", help="a plan file")
    show.add_argument("--no-color", action="store_true", help="never colour the output")
    _add_json(show)
    show.set_defaults(handler=_cmd_show)

    check = commands.add_parser(
        "check",
        help="CI check: the plans are an intact chain whose head is SCHEMA",
        description="Check that the plan files in --plans form one chain (versions linked by their from/to "
        "checksums, digests intact) and that the newest one is exactly SCHEMA. Exit 0 in sync, 3 when SCHEMA "
        "has unplanned changes, 1 when the plans are broken.",
    )
    check.add_argument("schema", metavar="SCHEMA", help="the app schema file")
    check.add_argument("--plans", default="plans", metavar="DIR", help="the plans directory (default: plans)")
    _add_json(check)
    check.set_defaults(handler=_cmd_check)

    apply = commands.add_parser(
        "apply",
        help="apply one plan, or every pending plan in a directory, each as one transaction",
        description="Apply PLAN, or every plan of DIR (default: --plans) not yet applied, in order, each in one "
        "transaction: checked against the recorded state (stale plans and drift are refused), destructive steps "
        "refused unless allowed, verified against its target before commit, recorded in the audit trail. "
        "Any failure rolls the plan back completely.",
    )
    apply.add_argument("target", metavar="PLAN|DIR", nargs="?", help="a plan file or a plans directory")
    apply.add_argument("--plans", default="plans", metavar="DIR", help="the plans directory (default: plans)")
    apply.add_argument("--allow-destructive", action="store_true", help="allow steps that destroy data")
    apply.add_argument(
        "--dry-run",
        action="store_true",
        help="run every pending plan, each on top of the ones before it, then roll back on purpose",
    )
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation on a terminal")
    _add_execution_options(apply)
    _add_database_url(apply)
    _add_fleet_options(apply, rollout=True)
    _add_json(apply)
    apply.set_defaults(handler=_cmd_apply)

    migrate = commands.add_parser(
        "migrate",
        help="start-up path: do nothing if SCHEMA is already applied, else plan and apply it now",
        description="For application start-up and scripts: when the recorded checksum equals SCHEMA's, exit 0 at "
        "once (no introspection, no asyncio); otherwise plan in memory against the database and apply it as "
        "one transaction, with the same checks as `apply`.",
    )
    migrate.add_argument("schema", metavar="SCHEMA", help="the app schema file")
    migrate.add_argument("--allow-destructive", action="store_true", help="allow steps that destroy data")
    migrate.add_argument("--quiet", action="store_true", help="print nothing on success")
    _add_execution_options(migrate)
    _add_database_url(migrate)
    _add_fleet_options(migrate, rollout=True)
    _add_json(migrate)
    migrate.set_defaults(handler=_cmd_migrate)

    for name in ("rollback", "migrate:rollback"):
        rollback = commands.add_parser(
            name,
            help="reverse the latest version, or every version above --to"
            if name == "rollback"
            else "alias of rollback",
            description="Reverse the latest applied version, or every applied version above --to N (newest first), "
            "in one transaction, using the reverse steps stored in the database (no plan files needed). Refused "
            "when values would be lost, with counts, unless --force.",
        )
        rollback.add_argument(
            "--to", type=_count(0), metavar="VERSION", help="roll back to this version (0: before the first)"
        )
        rollback.add_argument("--force", action="store_true", help="allow a rollback that destroys data")
        rollback.add_argument("--reason", metavar="TEXT", help="why, recorded in the history and the log")
        rollback.add_argument("--dry-run", action="store_true", help="run everything, then roll back on purpose")
        rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation on a terminal")
        _add_execution_options(rollback)
        _add_database_url(rollback)
        _add_json(rollback)
        rollback.set_defaults(handler=_cmd_rollback)

    status = commands.add_parser(
        "status",
        help="current version, checksum, drift, lock holder and the state of each plan",
        description="Show the database's recorded version and checksum, whether the live schema drifted, who "
        "holds the migration lock, and each plan in --plans: applied, pending, rolled back or edited.",
    )
    status.add_argument("--plans", default="plans", metavar="DIR", help="the plans directory (default: plans)")
    _add_database_url(status)
    _add_fleet_options(status)
    _add_json(status)
    status.set_defaults(handler=_cmd_status)

    history = commands.add_parser(
        "history",
        help="the audit trail: versions, checksums, who, when, rollbacks with reasons",
        description="List applied versions (newest last) and the event log. Dates are ISO (2026-11-24 or "
        "2026-11-24T10:00:00Z); --since is inclusive, --until exclusive.",
    )
    history.add_argument("--since", type=_date, metavar="DATE")
    history.add_argument("--until", type=_date, metavar="DATE")
    history.add_argument("--version", type=_count(1), metavar="N", help="only this version")
    history.add_argument("--limit", type=_count(1), metavar="N", help="at most N rows")
    history.add_argument("--snapshots", action="store_true", help="with --json: include schemas and plans")
    _add_database_url(history)
    _add_fleet_options(history)
    _add_json(history)
    history.set_defaults(handler=_cmd_history)

    drift = commands.add_parser(
        "drift",
        help="compare the live database with the state recorded at the last migration",
        description="Report every difference between the live schema and the one recorded at the last "
        "migration (extra, missing or changed tables, columns, types, defaults, constraints, indexes). Exit 0 "
        "when none, 3 when drifted. --accept --reason TEXT records the live schema as the new baseline (audited).",
    )
    drift.add_argument("--accept", action="store_true", help="accept the live schema as the new baseline")
    drift.add_argument(
        "--revert-plan",
        action="store_true",
        help="write the next plan file, which takes the database back to the recorded schema (accepts the live "
        "schema as its starting point, audited); review and apply it like any plan",
    )
    drift.add_argument("--reason", metavar="TEXT", help="why (required with --accept and --revert-plan)")
    drift.add_argument("--plans", default="plans", metavar="DIR", help="where --revert-plan writes (default: plans)")
    _add_database_url(drift)
    _add_fleet_options(drift)
    _add_json(drift)
    drift.set_defaults(handler=_cmd_drift)

    archive = commands.add_parser(
        "archive",
        help="move a plan this database has not applied (rolled back and superseded) into DIR/archive/",
        description="Move PLAN out of its plans directory into an archive/ folder beside it, so the directory is "
        "one chain again: for a plan that was rolled back and will not be applied again (a new plan supersedes "
        "it). Refused for a plan the database has applied, or one that other plan files build on. The file is "
        "moved, never deleted.",
    )
    archive.add_argument("plan", metavar="PLAN", help="a plan file")
    _add_database_url(archive)
    _add_json(archive)
    archive.set_defaults(handler=_cmd_archive)

    verify = commands.add_parser(
        "verify",
        help="round-trip a plan on a scratch database: forward, compare, reverse, compare",
        description="Create a scratch database (on the embedded server, or the server of --scratch-url), build "
        "the state PLAN starts from with the plans before it, apply PLAN forward and compare with its target, "
        "apply its reverse steps and compare with the start, then drop the scratch database. Exit 0 when it "
        "round-trips, 1 when not.",
    )
    verify.add_argument("plan", metavar="PLAN", help="a plan file (the plans before it must be beside it)")
    verify.add_argument("--scratch-url", metavar="URL", help="a server where a scratch database may be created")
    _add_database_url(verify)
    _add_json(verify)
    verify.set_defaults(handler=_cmd_verify)

    tui = commands.add_parser(
        "tui",
        help="the interactive terminal UI: review, apply and roll back plans",
        description="Open the terminal UI (works over SSH, 80×24 and up, keyboard only). Press ? inside for keys.",
    )
    tui.add_argument("schema", metavar="SCHEMA", nargs="?", help="the app schema file (to make new plans)")
    tui.add_argument("--plans", default="plans", metavar="DIR", help="the plans directory (default: plans)")
    _add_database_url(tui)
    tui.add_argument("--targets", metavar="FILE", help="open on the fleet view of this targets file")
    tui.set_defaults(handler=_cmd_tui)

    db = commands.add_parser(
        "db",
        help="manage the embedded PostgreSQL in .sovrium/pgdata",
        description="The embedded PostgreSQL server kept in .sovrium/pgdata under the working directory: "
        "used when neither --database-url nor DATABASE_URL is given. It is started on first use and left "
        "running for the next command.",
    )
    db.add_argument("action", choices=("start", "stop", "status", "url"))
    _add_json(db)
    db.set_defaults(handler=_cmd_db)
    for command in set(commands.choices.values()):  # `sovrium validate app.yaml --debug` as well as before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except SovriumError as error:
        if args.debug:
            raise
        return report(error, as_json=getattr(args, "json", False))
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as error:  # the edge: an unexpected failure is still one readable line
        if args.debug:
            raise
        sys.stderr.write(f"error: {_unexpected(error)}\n")
        return EXIT_FAILED


def _unexpected(error: Exception) -> str:
    """A failure no command turned into a SovriumError: the database's own words when it came from there (a
    statement_timeout a server or URL sets, a session a plan's step ended), else its type and text."""
    import asyncpg

    from sovrium_tui.execution.failures import postgres_text

    if isinstance(error, asyncpg.PostgresError):
        return terminal_text(f"the database refused: {postgres_text(error)} (SQLSTATE {error.sqlstate})")
    if isinstance(error, asyncpg.InterfaceError | ConnectionError):
        return terminal_text(f"Database connection failed: {error}")
    return terminal_text(f"unexpected {type(error).__name__}: {error} (run with --debug for details)")


def report(error: SovriumError, *, as_json: bool) -> int:
    """Say what went wrong (stderr, and a JSON document on stdout with --json); the exit code."""
    if as_json:
        _emit_json({"ok": False, **error.to_json()})
    sys.stderr.write(_error_text(error.render()))
    return error.exit_code


def _error_text(rendered: str) -> str:
    return "".join(f"error: {terminal_text(line)}\n" for line in rendered.splitlines() or [""])
