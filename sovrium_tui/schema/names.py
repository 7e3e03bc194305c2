"""Sovrium's rules for table and field names (src/domain/validators/database-identifier.ts), word for word.

Exactly these 75 words are refused; every other name that fits the pattern is allowed, including words
PostgreSQL reserves (`values`, `position`, `time`, `json`, …), which the SQL we write always quotes.
"""

from __future__ import annotations

import json
import re

from sovrium_tui.schema.model import physical_table_name

RESERVED_WORDS = frozenset(
    """
    select insert update delete from where join inner outer left right full cross on as table create alter drop
    truncate add column constraint primary foreign key references unique index view database schema grant revoke
    transaction commit rollback union intersect except group having order limit offset distinct all any some
    exists in between like ilike and or not null is true false case when then else end cast default check user
    current_user session_user current_date current_time current_timestamp
    """.split()
)

MAX_NAME_LENGTH = 63

# JavaScript's `\s` (and what its String.prototype.trim removes): Unicode spaces and line terminators.
_JS_SPACES = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_TABLE_NAME = re.compile(f"[a-zA-Z][a-zA-Z0-9_{re.escape(_JS_SPACES)}-]*")
_DIGIT = re.compile("[0-9]")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")

_REQUIRED = "This field is required"
_TOO_LONG = f"Maximum length is {MAX_NAME_LENGTH} characters"
_RESERVED_ADVICE = (
    "Reserved keywords like SELECT, INSERT, UPDATE, DELETE, etc. are restricted to prevent SQL syntax conflicts."
)


def table_name_problem(name: str) -> str | None:
    """Why Sovrium refuses this table name, in its words; None when it is accepted."""
    shown = _printable(name)
    if not name:
        return _REQUIRED
    if len(name) > MAX_NAME_LENGTH:
        return _TOO_LONG
    trimmed = name.strip(_JS_SPACES)
    if _DIGIT.match(trimmed):
        return f"Invalid table name '{shown}': name must start with a letter"
    if not _TABLE_NAME.fullmatch(trimmed):
        return (
            f"Invalid table name '{shown}': name must start with a letter and contain only letters, numbers, "
            "underscores, hyphens, or spaces"
        )
    sanitized = physical_table_name(name)
    if sanitized in RESERVED_WORDS:
        return (
            f"Table name '{shown}' resolves to reserved SQL keyword '{sanitized}'. {_RESERVED_ADVICE} "
            "Choose a different name."
        )
    return None


def field_name_problem(name: str) -> str | None:
    """Why Sovrium refuses this field name, in its words; None when it is accepted."""
    shown = _printable(name)
    if not name:
        return _REQUIRED
    if len(name) > MAX_NAME_LENGTH:
        return _TOO_LONG
    if not _FIELD_NAME.fullmatch(name):
        return (
            "Invalid field name pattern. Must follow database naming conventions: start with a letter, contain "
            "only lowercase letters, numbers, and underscores, maximum 63 characters (PostgreSQL limit). This "
            "name is used in SQL queries, API endpoints, and code generation. Choose descriptive names that "
            'clearly indicate the purpose (e.g., "email_address" not "ea").'
        )
    if name.lower() in RESERVED_WORDS:
        return (
            f"Cannot use reserved SQL keyword '{shown}' as field name. {_RESERVED_ADVICE} Choose a descriptive "
            "alternative name (e.g., 'user_record' instead of 'user', 'selection' instead of 'select')."
        )
    return None


def _printable(name: str) -> str:
    """The name as written, with control and other unprintable characters escaped as in JSON."""
    return name if name.isprintable() else json.dumps(name)[1:-1]
