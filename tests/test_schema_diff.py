"""Two app snapshots compared as tables and fields (the compare screen), matched by id so renames are renames;
and the words the logs and rollback previews use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sovrium_tui import services
from sovrium_tui.execution.audit import AUTOMATIC_ROLLBACK
from sovrium_tui.execution.store import HistoryEntry, LogEntry
from tests.acceptance_support import app_schema, field, table

TITLE = field(1, "title")
NOTE = field(2, "note")
COUNT = field(3, "count", "integer")
ITEMS = table(1, "items", TITLE, NOTE, COUNT)


def rows(older: dict[str, Any], newer: dict[str, Any]) -> list[tuple[str, str, str | None, str, tuple[str, ...]]]:
    return [
        (c.kind, c.table, c.field, c.detail, tuple(step.op for step in c.changes))
        for c in services.compare_snapshots(older, newer)
    ]


@pytest.mark.parametrize(
    ("name", "newer", "expected"),
    [
        (
            "a field renamed keeps its values",
            table(1, "items", TITLE, field(2, "remark"), COUNT),
            [("rename", "items", "remark", "renamed from note (values kept)", ("rename_column",))],
        ),
        (
            "a field dropped takes its values",
            table(1, "items", TITLE, COUNT),
            [("drop", "items", "note", "field dropped with its values (single-line-text)", ("drop_column",))],
        ),
        (
            "a changed field says what changed",
            table(1, "items", TITLE, NOTE, field(3, "count", "decimal")),
            [("change", "items", "count", "type integer → decimal", ("alter_column_type",))],
        ),
        (
            "a table renamed keeps its rows",
            table(1, "things", TITLE, NOTE, COUNT),
            [
                (
                    "rename",
                    "things",
                    None,
                    "renamed from items (rows kept)",
                    (
                        "rename_table",
                        *("rename_function",) * 3,
                        "rename_constraint",
                        "rename_index",
                        *("rename_trigger",) * 3,
                    ),
                )
            ],
        ),
    ],
)
def test_fields_and_tables_are_compared_by_id(
    name: str, newer: dict[str, Any], expected: list[tuple[str, str, str | None, str, tuple[str, ...]]]
) -> None:
    found = rows(app_schema(ITEMS), app_schema(newer))
    assert [row for row in found if row[4]] == expected, name


def test_a_new_table_carries_its_trigger_functions() -> None:
    found = rows(app_schema(ITEMS), app_schema(ITEMS, table(2, "orders", field(1, "reference"))))
    assert found[0][:4] == ("add", "orders", None, "new table (1 field)")
    assert "create_table" in found[0][4] and "create_function" in found[0][4]
    assert len(found) == 1, "every database change belongs to the new table"


def test_a_dropped_field_carries_its_constraint_and_hazard() -> None:
    bounded = table(1, "items", TITLE, NOTE, field(3, "count", "integer", min=0))
    (dropped,) = services.compare_snapshots(app_schema(bounded), app_schema(table(1, "items", TITLE, NOTE)))
    assert (dropped.kind, dropped.field) == ("drop", "count")
    assert [change.op for change in dropped.changes] == ["drop_constraint", "drop_column"]
    assert dropped.hazards == ("data-loss",)
    assert dropped.forward[-1] == "ALTER TABLE public.items DROP COLUMN count"


def _log(operation: str, status: str, start: int, end: int, reason: str) -> LogEntry:
    return LogEntry(1, operation, status, start, end, reason, "dev@host", datetime(2026, 1, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (_log("MIGRATE", "FAILED", 3, 4, "boom"), ("MIGRATE", "FAILED", "3→4", "boom")),
        (
            _log("ROLLBACK", "COMPLETED", 3, 4, AUTOMATIC_ROLLBACK + "boom"),
            ("AUTO-ROLLBACK", "COMPLETED", "stays 3", "undid the failed migration 3→4: boom"),
        ),
        (_log("ROLLBACK", "COMPLETED", 4, 3, "bad release"), ("ROLLBACK", "COMPLETED", "4→3", "bad release")),
        (_log("DRIFT_ACCEPTED", "COMPLETED", 3, 3, "hotfix"), ("DRIFT_ACCEPTED", "COMPLETED", "stays 3", "hotfix")),
    ],
)
def test_log_rows_read_unambiguously(entry: LogEntry, expected: tuple[str, str, str, str]) -> None:
    line = services.log_line(entry)
    assert (line.event, line.status, line.versions, line.reason) == expected


def _version(number: int, *steps: dict[str, Any]) -> HistoryEntry:
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    return HistoryEntry(number, number, "0" * 64, {}, {"steps": list(steps)}, "", moment, "dev", None, None, None)


def test_a_rollback_says_which_values_do_not_come_back() -> None:
    drop = {"id": 2, "summary": "drop column items.note and its values", "hazards": ["data-loss"]}
    check = {"id": 3, "summary": "add constraint items.positive", "hazards": ["narrowing"]}
    entries = (_version(1), _version(2, drop, check))
    assert services.values_not_restored(entries, current=2, target=1) == (
        "version 2 step 2 (drop column items.note and its values): undone, its structure comes back without the values",
    )
    assert services.values_not_restored(entries, current=1, target=0) == ()
