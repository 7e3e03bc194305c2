"""The TUI's pure pieces: history filters, refusal parsing, formatting, showing data safely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sovrium_tui.errors import DestructiveRefused, ServerError, SovriumError
from sovrium_tui.execution.events import LockWaiting, StepStarted, TableLockWaiting
from sovrium_tui.text import plural
from sovrium_tui.tui.apply import losses_in
from sovrium_tui.tui.base import small_terminal_notice
from sovrium_tui.tui.fmt import (
    cell,
    error_text,
    error_title,
    hazard_text,
    loss_total,
    markup,
    plain,
    safe,
    short,
    step_tally,
    when,
)
from sovrium_tui.tui.history import HistoryFilter, parse_filters
from sovrium_tui.tui.widgets import lock_wait_text


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("", "", ""), (None, None, None)),
        (("3", "", ""), (3, None, None)),
        (
            ("", "2026-01-31", "2026-02-01"),
            (None, datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)),  # until includes the day
        ),
        (("", "2026-01-31T12:30", ""), (None, datetime(2026, 1, 31, 12, 30, tzinfo=UTC), None)),
    ],
)
def test_history_filters(fields: tuple[str, str, str], expected: tuple[object, object, object]) -> None:
    assert parse_filters(*fields) == expected


@pytest.mark.parametrize(("fields", "problem"), [(("x", "", ""), "version"), (("", "yesterday", ""), "since")])
def test_history_filters_refuse_nonsense(fields: tuple[str, str, str], problem: str) -> None:
    with pytest.raises(HistoryFilter, match=problem):
        parse_filters(*fields)


def test_losses_are_read_from_the_refusal() -> None:
    refusal = DestructiveRefused(
        "Destructive operation detected: plan 3 would destroy data: step 1 drops column users.nick (2 non-null "
        "values); step 2 drops table tags (5 rows). Nothing was changed. To proceed with data loss, re-run with "
        "--allow-destructive.",
        losses=("step 1 drops column users.nick (2 non-null values)", "step 2 drops table tags (5 rows)"),
    )
    assert losses_in(refusal) == (
        "step 1 drops column users.nick (2 non-null values)",
        "step 2 drops table tags (5 rows)",
    )
    assert losses_in(DestructiveRefused("something else")) == ("something else",)


def test_formatting() -> None:
    later = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert when(later) == "2026-01-02 03:04:05"
    assert when("2026-01-02T03:04:05+00:00") == "2026-01-02 03:04:05"
    assert when(None) == ""
    assert short("0123456789abcdef") == "0123456789ab"
    assert short(None) == "—"
    assert (plural(1, "step"), plural(2, "step")) == ("1 step", "2 steps")
    assert hazard_text(("data-loss", "table-rewrite")).plain == " data-loss   table-rewrite "


def test_error_words() -> None:
    assert error_title(ServerError("x")) == "Embedded PostgreSQL"
    assert error_title(SovriumError("x")) == "Error"
    assert error_text(SovriumError("plain words", location="plans/0001.yaml")) == "plans/0001.yaml: plain words"
    assert error_title(KeyError("k")) == "Unexpected error"
    assert error_text(KeyError("k")).startswith("KeyError: 'k'")


def test_data_is_shown_safely() -> None:
    assert safe("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert markup("[b]$name[/b]", name="[red]x[/red]\x07").plain == "[red]x[/red]\\x07"
    assert plain("[i]not italic[/i]").plain == "[i]not italic[/i]"
    assert cell("\u202eevil").plain == "\\u202eevil"


def test_review_tallies_steps_like_a_terraform_plan() -> None:
    steps = [
        ("rename_column", ()),
        ("drop_constraint", ()),
        ("drop_column", ("data-loss",)),
        ("create_function", ()),
        ("create_table", ()),
        ("alter_column_type", ("narrowing", "table-rewrite")),
        ("set_default", ()),
    ]
    assert step_tally(steps) == "2 create, 1 rename, 1 change, 1 drop, 2 destroy"
    losses = ["step 3 drops column t.a (40 non-null values)", "step 4 drops table u (1 row)", "step 5 runs DO"]
    assert loss_total(losses) == "40 values, 1 row"


def test_lock_waits_say_how_long_is_left() -> None:
    waiting = TableLockWaiting("step 2", "pid 7 (user app, …)", 3.4, "10s")
    assert waiting.seconds_left == pytest.approx(6.6)
    said = lock_wait_text(waiting)
    assert said is not None and "gives up in 7 s (lock_timeout 10s)" in said.plain
    assert TableLockWaiting("step 2", "pid 7", 3.0, "0").seconds_left is None


def test_the_migration_lock_wait_names_its_holder_and_other_events_say_nothing() -> None:
    said = lock_wait_text(LockWaiting("pid 42 (ci@runner)"))
    assert said is not None and said.plain == "Waiting for the migration lock, held by pid 42 (ci@runner)"
    assert lock_wait_text(StepStarted(1, "step 1: create table t")) is None


def test_the_title_says_when_the_terminal_is_too_small() -> None:
    assert small_terminal_notice(80, 24) == ""
    assert small_terminal_notice(60, 15) == "60×15 < 80×24"
