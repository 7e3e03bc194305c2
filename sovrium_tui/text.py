"""Text from files and databases made safe to show on a terminal: control characters become visible escapes.

A schema value, a plan's SQL or a database error can hold escape sequences (`\\x1b[2J` clears the screen) or
bidirectional overrides that make text read differently from what it is; printed raw they act on the
reader's terminal. Line breaks and tabs are kept.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def terminal_text(text: str) -> str:
    """`text` with every control character (except line break and tab) written as a visible escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plural(count: int, noun: str) -> str:
    """`1 step`, `2 steps`: a count with its noun."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def line_within(text: str, line_index: int) -> int:
    """The 1-based line of a parser's 0-based `line_index` in `text`, at most its last line: a parser that reads
    past the last line break (a file that ends too early) points at a line the file does not have."""
    return min(line_index + 1, max(len(text.splitlines()), 1))
