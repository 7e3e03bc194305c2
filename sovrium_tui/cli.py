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
from sovrium_tui.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SovriumError

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


# --- parser -------------------------------------------------------------------------------------------


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


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
