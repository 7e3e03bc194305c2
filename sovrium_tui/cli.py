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

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit 2 with one line, the way every other error looks."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _emit_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


# --- commands -----------------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    result = services.validate(args.schema)
    if args.json:
        _emit_json(result.to_json())
    else:
        print(result.describe())
    return EXIT_OK


def _cmd_sql(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    script = services.create_sql(args.schema)
    if args.json:
        _emit_json(script.to_json())
    else:
        sys.stdout.write(script.text())
    return EXIT_OK


def _cmd_db(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    state = services.embedded_db(args.action)
    if args.json:
        _emit_json(state.to_json())
    elif args.action == "url":
        print(state.url)
    else:
        print(state.describe())
    return EXIT_OK


def _run(coroutine: Any) -> Any:
    import asyncio

    return asyncio.run(coroutine)


def _cmd_plan(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    if args.rehash:
        rehashed = services.rehash(args.rehash)
        if args.json:
            _emit_json({"rehashed": args.rehash, "digest": rehashed.digest})
        else:
            print(f"re-hashed {args.rehash}: {rehashed.digest}")
        return EXIT_OK
    if not args.schema:
        raise UsageError("plan needs a SCHEMA (or --rehash PLAN)")
    outcome = _run(
        services.plan(
            args.schema,
            args.plans,
            offline=args.offline,
            name=args.name,
            database_url=args.database_url,
        )
    )
    if args.json:
        _emit_json(outcome.to_json())
    else:
        print(outcome.describe())
    return EXIT_OK if outcome.plan is not None else EXIT_DIFFERENCES


def _cmd_show(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    shown = services.show(args.plan)
    if args.json:
        _emit_json({**shown.to_json(), "digest_ok": shown.digest_ok})
    else:
        sys.stdout.write(render_plan(shown, color=_use_color(args)))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from sovrium_tui import services

    result = services.check(args.schema, args.plans)
    if args.json:
        _emit_json(result.to_json())
    else:
        print(result.describe())
    if result.problems:
        return EXIT_FAILED
    return EXIT_OK if result.in_sync else EXIT_DIFFERENCES


def _use_color(args: argparse.Namespace) -> bool:
    import os

    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


_HAZARD_COLORS = {"data-loss": "31;1", "narrowing": "31", "fails-on-existing-rows": "33"}


def render_plan(plan: Any, *, color: bool) -> str:
    """A plan as text for review: header, then each step with its hazards, forward and reverse SQL."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    origin = f"version {plan.from_version}" if plan.from_version else "an empty database"
    digest = "intact" if plan.digest_ok else paint("EDITED — run `sovrium plan --rehash` after review", "31;1")
    lines = [
        paint(f"Plan {plan.version:04d} for app {plan.app!r}: {plan.summary}", "1"),
        f"  from {origin} to checksum {plan.to_checksum[:12]} · made {plan.created_at} · digest {digest}",
        f"  {len(plan.steps)} steps, {len(plan.destructive_steps)} destructive",
        "",
    ]
    for step in plan.steps:
        badges = " ".join(paint(f"[{h}]", _HAZARD_COLORS.get(h, "36")) for h in step.hazards)
        lines.append(paint(f"{step.id:>3}. {step.summary}", "1") + (f"  {badges}" if badges else ""))
        for label, code, statements in (("forward", "32", step.forward), ("reverse", "35", step.reverse)):
            lines.append(f"     {paint(label + ':', code)}" + ("" if statements else " (none)"))
            lines.extend(f"       {line}" for statement in statements for line in f"{statement};".splitlines())
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
        if getattr(args, "json", False):
            _emit_json({"ok": False, **error.to_json()})
        sys.stderr.write(_error_text(error.render()))
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as error:  # the edge: an unexpected failure is still one readable line
        if args.debug:
            raise
        sys.stderr.write(f"error: unexpected {type(error).__name__}: {error} (run with --debug for details)\n")
        return EXIT_FAILED


def _error_text(rendered: str) -> str:
    return "".join(f"error: {line}\n" for line in rendered.splitlines() or [""])
