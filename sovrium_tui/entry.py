"""The `sovrium` console command: the start-up check first, without argparse or anything else it does not need.

`sovrium migrate SCHEMA [--database-url URL] [--quiet] [--json]` on an unchanged database is an application's
every boot; it answers from `startup.migrate_fast` here. Any other command line, a schema that changed, or an
error goes to `cli.main`, which parses the arguments properly and says what went wrong.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] != ["tui"]:
        _collect_rarely(fleet=any(word == "--targets" or word.startswith("--targets=") for word in arguments))
    quick = _unchanged_start_up(arguments)
    if quick is not None:
        return quick
    from sovrium_tui.cli import main as full

    return full(arguments)


def _collect_rarely(*, fleet: bool) -> None:
    """A one-shot command builds large trees of small objects that live until it exits, and Python's cycle
    collector, run every 700 allocations by default, walks them again and again (a third of a 2,000-table
    plan's time; even every 100,000, each pass over the young objects took 50 ms, 0.1 s of that plan). Nothing
    it makes is a cycle worth collecting before it exits, so the collector is off. A fleet apply, which runs
    connections to many databases for as long as it takes, collects rarely instead; the TUI keeps the default."""
    import gc

    if fleet:
        gc.set_threshold(100_000, 50, 100)
    else:
        gc.disable()


def _unchanged_start_up(arguments: list[str]) -> int | None:
    """Exit code 0 after printing the outcome when the database is at the schema already; None otherwise."""
    options = _migrate_options(arguments)
    if options is None:
        return None
    schema, database_url, quiet, as_json = options
    from sovrium_tui.startup import migrate_fast

    try:
        outcome = migrate_fast(schema, database_url=database_url)
    except Exception as failure:
        from sovrium_tui.errors import SovriumError

        if not isinstance(failure, SovriumError):
            return None  # unexpected: the full command runs it again and says what and how
        from sovrium_tui.cli import report

        return report(failure, as_json=as_json)  # an unreachable server: said once, not tried twice
    if outcome is None:
        return None
    if as_json:
        import json

        sys.stdout.write(json.dumps(outcome.to_json(), indent=2) + "\n")
    elif not quiet:
        sys.stdout.write(outcome.describe() + "\n")
    return 0


def _migrate_options(arguments: list[str]) -> tuple[str, str | None, bool, bool] | None:
    """SCHEMA, URL, --quiet, --json of a plain `migrate` command line; None for anything else."""
    if not arguments or arguments[0] != "migrate":
        return None
    schema: str | None = None
    database_url: str | None = None
    quiet = as_json = False
    rest = iter(arguments[1:])
    for word in rest:
        if word == "--quiet":
            quiet = True
        elif word == "--json":
            as_json = True
        elif word == "--database-url":
            database_url = next(rest, None)
            if database_url is None:
                return None
        elif word.startswith("--database-url="):
            database_url = word.partition("=")[2]
        elif word.startswith("-") or schema is not None:
            return None  # any other option (--allow-destructive, --lock-wait …) or word: the full parser
        else:
            schema = word
    return (schema, database_url, quiet, as_json) if schema else None
