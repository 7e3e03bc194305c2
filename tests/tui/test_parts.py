"""The TUI's pure pieces: history filters, refusal parsing, formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sovrium_tui.errors import DestructiveRefused, ServerError, SovriumError
from sovrium_tui.tui.apply import losses_in
from sovrium_tui.tui.fmt import error_text, error_title, hazard_text, plural, short, when
from sovrium_tui.tui.history import HistoryFilter, parse_filters


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
