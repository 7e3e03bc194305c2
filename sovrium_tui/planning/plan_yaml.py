"""Plan files as YAML: written by a small emitter of our own, read with a fast YAML 1.2 parser.

A plan is JSON-shaped data (mappings, lists, text, numbers, booleans, null). Writing it needs no general
YAML library: every scalar is either plain (when it can only be read back as the same text, by YAML 1.1 and
1.2 readers alike), a literal block (SQL with line breaks, as a reviewer wants to read it), or a JSON string
(valid YAML). Same data, same bytes. Measured on a 2,000-table plan (9.4 MB): PyYAML's C dumper 3.5 s, this
emitter about 0.3 s; PyYAML's C loader 5.0 s, yaml-rs (Rust) 0.55 s. yaml-rs is only used to read: its own
writer leaves text such as `0o17` unquoted, which it then reads back as a number.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from sovrium_tui.errors import PlanInvalid

# Text written without quotes: starts with a letter (not `_`: yaml-rs reads `_1` as a number), printable, no
# `: ` or ` #` inside, no `:` or blank at the end. Anything else is quoted.
_PLAIN = re.compile(
    "[A-Za-z](?:[^\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff: #]|:(?=[^ ])| (?=[^ #])|#)*(?<![ :])"
)
_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # _NOT_PRINTABLE for ASCII text, several times faster
_NOT_PRINTABLE = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")


def dump_document(document: dict[str, Any]) -> str:
    """The YAML text of a mapping, top-level keys at column 0, sequences written as PyYAML writes them."""
    return "".join(document_chunks(document))


# A long sequence is written a few hundred items at a time and the text handed on: a 2,000-table plan (9 MB) is
# written without ever being whole in memory.
_CHUNK_ITEMS = 256


def document_chunks(document: dict[str, Any]) -> Iterator[str]:
    """The text of `dump_document` in pieces, each ending with a line break."""
    lines: list[str] = []
    yield from _mapping_chunks(document, 0, lines)
    if lines:
        yield "\n".join(lines) + "\n"


def _mapping_chunks(mapping: dict[str, Any], indent: int, lines: list[str]) -> Iterator[str]:
    pad = " " * indent
    for key, value in mapping.items():
        head = f"{pad}{_text(str(key))}:"
        if type(value) is dict and value:
            lines.append(head)
            yield from _mapping_chunks(value, indent + 2, lines)
        elif type(value) is list and len(value) > _CHUNK_ITEMS:
            lines.append(head)
            for start in range(0, len(value), _CHUNK_ITEMS):
                _sequence(value[start : start + _CHUNK_ITEMS], indent, lines)
                yield "\n".join(lines) + "\n"
                lines.clear()
        else:
            _value(value, head, indent, lines)


class StepLike(Protocol):
    """What `steps_chunks` reads of a plan step (`plan.Step`)."""

    @property
    def id(self) -> int: ...
    @property
    def op(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def hazards(self) -> Sequence[str]: ...
    @property
    def forward(self) -> Sequence[str]: ...
    @property
    def reverse(self) -> Sequence[str]: ...


def steps_chunks(steps: Sequence[StepLike]) -> Iterator[str]:
    """`steps:` and its items, the text `document_chunks` writes for `{"steps": [step.to_json() …]}`, said
    directly: the keys are known, so the 8,000 steps of a 2,000-table plan are written without a dict each or a
    look at every key (0.19 s -> 0.10 s here)."""
    if not steps:
        yield "steps: []\n"
        return
    lines = ["steps:"]
    for start in range(0, len(steps), _CHUNK_ITEMS):
        for step in steps[start : start + _CHUNK_ITEMS]:
            lines.append(f"- id: {step.id}")
            _step_text("  op:", step.op, lines)
            _step_text("  target:", step.target, lines)
            _step_text("  summary:", step.summary, lines)
            _step_list("  hazards:", step.hazards, lines)
            _step_list("  forward:", step.forward, lines)
            _step_list("  reverse:", step.reverse, lines)
        yield "\n".join(lines) + "\n"
        lines.clear()


def _step_text(head: str, value: str, lines: list[str]) -> None:
    if "\n" in value:
        _value(value, head, 2, lines)
    else:
        lines.append(f"{head} {_text(value)}")


def _step_list(head: str, items: Sequence[str], lines: list[str]) -> None:
    if not items:
        lines.append(f"{head} []")
        return
    lines.append(head)
    for item in items:
        if "\n" not in item:
            lines.append(f"  - {_text(item)}")
        elif _literal(item):
            _block(item, "  -", 4, lines)
        else:
            lines.append(f"  - {_scalar(item)}")


def load_document(text: str, *, source: str) -> object:
    """Parse YAML 1.2 text; a syntax error or repeated key is refused with its line."""
    import yaml_rs

    split = _with_snapshot(text)
    if split is not None:
        return split
    try:
        return yaml_rs.loads(text, parse_datetime=False)
    except (yaml_rs.YAMLDecodeError, ValueError, OverflowError) as failure:
        message, line = _located(text, failure)
        where = f"{source}:{line}" if line else source
        raise PlanInvalid(f"not valid YAML: {message}", location=where) from failure


# --- the app snapshot -------------------------------------------------------------------------------------
#
# A plan's last key, `schema:`, holds the whole app (2.2 MB of a 2,000-table plan's 9.4 MB, and most of its
# small nodes). It is written as JSON laid out for review: the app, its tables list, each table and each of a
# table's lists one entry per line; deeper values (a field, an index) compact on one line, so a changed field
# is one changed line in a diff. JSON is YAML, and this layout is valid YAML 1.2 flow (every line inside is
# indented), so any YAML reader reads the file. This module reads the layout with orjson, and only when the
# text is exactly what `snapshot_text` writes for the value it holds (so a hand edit or a duplicate key goes to
# the YAML reader like any other text). For 2,000 tables: read in about 75 ms (yaml-rs: 165 ms), written in
# about 50 ms (the block emitter: 170 ms).

_SNAPSHOT_LEAD = "\nschema: {"
_EXPANDED_DEPTH = 3  # the app (0), its tables (1), a table (2), a table's lists and mappings (3)


def snapshot_text(snapshot: object) -> str | None:
    """`snapshot` (a mapping) as the laid-out JSON above, or None when it holds anything this layout does not
    write exactly: a number that is not a whole number of 64 bits, a character YAML does not allow unescaped;
    the block YAML form is written then. (A key over 1,024 characters is no YAML key in either form.)"""
    import orjson

    if type(snapshot) is not dict:
        return None
    from sovrium_tui.schema.js_json import may_hold_fraction

    try:
        compact = orjson.dumps(snapshot)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if may_hold_fraction(compact) or not _printable(compact):
        return None
    return _laid_out(snapshot, 0, orjson.dumps)


def _printable(compact: bytes) -> bool:
    """Whether orjson's text holds only characters YAML allows unescaped (orjson escapes control characters but
    DEL, and writes the rest of Unicode as it is)."""
    if compact.isascii():
        return b"\x7f" not in compact
    return _NOT_PRINTABLE.search(compact.decode()) is None


def _laid_out(value: Any, depth: int, dumps: Callable[[Any], bytes]) -> str:
    kind = type(value)
    if depth > _EXPANDED_DEPTH or not value or (kind is not dict and kind is not list):
        return str(dumps(value), "utf-8")
    inner = "\n" + "  " * (depth + 2)
    if depth == _EXPANDED_DEPTH:  # every entry on one line (most of the snapshot: the fields), said directly
        if kind is dict:
            entries = [f"{str(dumps(key), 'utf-8')}: {str(dumps(item), 'utf-8')}" for key, item in value.items()]
            opening, closing = "{", "}"
        else:
            entries = [str(dumps(item), "utf-8") for item in value]
            opening, closing = "[", "]"
    elif kind is dict:
        entries = [f"{str(dumps(key), 'utf-8')}: {_laid_out(item, depth + 1, dumps)}" for key, item in value.items()]
        opening, closing = "{", "}"
    else:
        entries = [_laid_out(item, depth + 1, dumps) for item in value]
        opening, closing = "[", "]"
    return opening + inner + ("," + inner).join(entries) + "\n" + "  " * (depth + 1) + closing


def _with_snapshot(text: str) -> dict[str, Any] | None:
    """The document of a plan whose `schema:` is the laid-out JSON, read in two parts; None for any other text
    (which the YAML reader then reads whole, and reports on)."""
    import orjson
    import yaml_rs

    at = text.rfind(_SNAPSHOT_LEAD)
    if at == -1 or not text.endswith("}\n"):
        return None
    head, body = text[: at + 1], text[at + len(_SNAPSHOT_LEAD) - 1 : -1]
    if "\n---" in head or "\n..." in head:
        return None  # a second document: for the YAML reader to say what it makes of it
    try:
        snapshot = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if snapshot_text(snapshot) != body:
        return None
    try:
        document = yaml_rs.loads(head, parse_datetime=False)
    except Exception:  # the YAML reader reads the whole text again, and says where it is wrong
        return None
    if type(document) is not dict or "schema" in document:
        return None
    document["schema"] = snapshot
    return document


_POSITION = re.compile(r"at line (\d+), column (\d+)")


def _located(text: str, failure: Exception) -> tuple[str, int | None]:
    """yaml-rs's message in one line, and its line (a repeated key's is found by reading the text with PyYAML)."""
    parts = [part.strip() for part in str(failure).splitlines() if part.strip()]
    position = _POSITION.search(parts[0]) if parts else None
    if position is not None:
        return f"{parts[-1]} (column {position.group(2)})", int(position.group(1))
    message = " ".join(parts) or type(failure).__name__
    return message, _first_duplicate_key_line(text) if "duplicate" in message else None


def _first_duplicate_key_line(text: str) -> int | None:
    import yaml

    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        return int(key.start_mark.line) + 1
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


# --- the emitter -------------------------------------------------------------------------------------------


def _mapping(mapping: dict[str, Any], indent: int, lines: list[str], *, first_prefix: str | None = None) -> None:
    pad = " " * indent
    for number, (key, value) in enumerate(mapping.items()):
        lead = first_prefix if number == 0 and first_prefix is not None else pad
        head = f"{lead}{_text(str(key))}:"
        kind = type(value)
        if kind is str and "\n" not in value:  # most values, written here without a call each
            lines.append(f"{head} {_text(value)}")
        elif kind is int:  # not a bool (`type`, not isinstance)
            lines.append(f"{head} {value}")
        else:
            _value(value, head, indent, lines)


def _value(value: Any, head: str, indent: int, lines: list[str]) -> None:
    kind = type(value)
    if kind is str:  # most values: asked first
        if "\n" in value and _literal(value):
            _block(value, head, indent + 2, lines)
        else:
            lines.append(f"{head} {_text(value)}")
    elif kind is dict or (kind is not list and isinstance(value, dict)):
        if not value:
            lines.append(f"{head} {{}}")
            return
        lines.append(head)
        _mapping(value, indent + 2, lines)
    elif kind is list or isinstance(value, list):
        if not value:
            lines.append(f"{head} []")
            return
        lines.append(head)
        _sequence(value, indent, lines)
    elif _literal(value):
        _block(value, head, indent + 2, lines)
    else:
        lines.append(f"{head} {_scalar(value)}")


def _sequence(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        kind = type(item)
        if kind is str and "\n" not in item:
            lines.append(f"{pad}- {_text(item)}")
        elif isinstance(item, dict) and item:
            _mapping(item, indent + 2, lines, first_prefix=f"{pad}- ")
        elif isinstance(item, list) and item:
            lines.append(f"{pad}-")
            _sequence(item, indent + 2, lines)
        elif isinstance(item, dict | list):
            lines.append(f"{pad}- {'{}' if isinstance(item, dict) else '[]'}")
        elif _literal(item):
            _block(item, f"{pad}-", indent + 2, lines)
        else:
            lines.append(f"{pad}- {_scalar(item)}")


def _literal(value: object) -> bool:
    """Text written as a literal block: several lines with something to read, nothing a block cannot hold."""
    return (
        isinstance(value, str)
        and "\n" in value
        and value.strip() != ""
        and "\r" not in value
        and (_ASCII_CONTROL.search(value) if value.isascii() else _NOT_PRINTABLE.search(value)) is None
    )


def _block(text: str, head: str, indent: int, lines: list[str]) -> None:
    """A literal block scalar: the text exactly, line by line, `indent` columns in (two past its parent)."""
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    indicator = "2" if body[:1] in (" ", "\n") else ""  # content that starts blank says where its indent is
    lines.append(f"{head} |{indicator}{chomp}")
    pad = " " * indent
    lines.extend(f"{pad}{line}" if line else "" for line in body.split("\n"))
    lines.extend("" for _ in range(trailing - 1))


def _text(text: str) -> str:
    """Text on one line, as written: plain when it can be, else quoted."""
    if len(text) <= 48:
        return _short_text(text)
    return text if _plain(text) else _scalar(text)


@functools.lru_cache(maxsize=8192)  # keys, type names, table and field names repeat all through a plan
def _short_text(text: str) -> str:
    return _scalar(text)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    text = str(value)
    if _plain(text):
        return text
    quoted = json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
    return _NOT_PRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)


def _plain(text: str) -> bool:
    """Whether `text` reads back as itself written without quotes, by YAML 1.1 and 1.2 readers alike."""
    if text.isascii():  # `_PLAIN` said with string methods (a plan's one-line SQL: 4 µs -> 0.3 µs each)
        fits = (
            text[:1].isalpha()
            and text.isprintable()
            and ": " not in text
            and " #" not in text
            and "  " not in text
            and text[-1] not in " :"
        )
    else:
        fits = _PLAIN.fullmatch(text) is not None
    return fits and (len(text) > 5 or text.lower() not in _WORDS)


def _float(value: float) -> str:
    """A float both YAML 1.1 and 1.2 read as a float: always a dot, a signed exponent."""
    text = repr(value)
    if text in ("inf", "-inf", "nan"):
        return {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text]
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if not exponent:
        return mantissa
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-')}"
