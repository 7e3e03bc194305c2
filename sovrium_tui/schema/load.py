"""Reading a schema file into plain data, plus the source line of every key and item for error messages.

Well-formed text is read by yaml-rs (Rust); the careful reader with PyYAML (`yaml_full`: YAML 1.2 core scalars,
duplicate keys, alias bombs, lines) is imported only for what yaml-rs cannot settle, and the line index is built
only when a problem has to be reported.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.records import record

if TYPE_CHECKING:
    import yaml

# A document whose aliases expand to more nodes than this is refused (the "billion laughs" shape): the
# validator and the checksum walk the expanded data.
MAX_EXPANDED_NODES = 2_000_000


def js_number(value: float) -> int | float:
    """A decoded number as JavaScript holds it: one kind of number, so a whole float is an int (`1e3` is 1000)."""
    if value.is_integer():
        return int(value)
    return value


class PositionIndex(Mapping[str, int]):
    """Path (`tables[1].fields[0].type`) → 1-based line, built from the YAML node tree on first lookup."""

    def __init__(self, root: yaml.Node | None = None, *, text: str | None = None) -> None:
        self._root = root
        self._text = text
        self._lines: dict[str, int] | None = None

    def __getitem__(self, path: str) -> int:
        return self._index()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())

    def line_of(self, path: str) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one (a missing key points at its parent)."""
        lines = self._index()
        while path:
            line = lines.get(path)
            if line is not None:
                return line
            path = parent_path(path)
        return lines.get("")

    def _index(self) -> dict[str, int]:
        if self._lines is None:
            from sovrium_tui.schema.yaml_full import compose_quietly, node_lines

            root = self._root if self._root is not None else compose_quietly(self._text)
            self._lines = node_lines(root) if root is not None else {}
            self._root = None
        return self._lines


def parent_path(path: str) -> str:
    """`tables[1].fields` → `tables[1]` → `tables` → ``."""
    if path.endswith("]"):
        return path[: path.rfind("[")]
    return path[: max(path.rfind("."), 0)]


@record
class LoadedDocument:
    """The decoded document, where each part of it came from, and the name to report it under."""

    data: dict[str, object]
    positions: PositionIndex
    source: str


def read_document(path: str | os.PathLike[str]) -> LoadedDocument:
    """Read and parse a schema file; anything unreadable becomes SchemaInvalid with a clear message."""
    source = os.fspath(path)
    return parse_document(decode_text(read_source(Path(source), source), source), source=source)


def decode_text(raw: bytes, source: str) -> str:
    """A file's bytes as text: UTF-8 with an optional byte order mark, else SchemaInvalid naming the byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"The schema file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        raise SchemaInvalid([Problem(message, line=line)], source=source) from None


def parse_document(text: str, *, source: str) -> LoadedDocument:
    """Parse schema text: JSON with JSON's own errors when the source ends in .json, YAML otherwise."""
    if not text.strip():
        raise SchemaInvalid([Problem("The schema file is empty")], source=source)
    data, positions = parse_value(text, source=source)
    if data is None:
        raise SchemaInvalid([Problem("The schema file is empty")], source=source)
    if not isinstance(data, dict):
        message = f"The top level must be a mapping with 'name' and 'tables', got {value_kind(data)}"
        raise SchemaInvalid([Problem(message, line=positions.get(""))], source=source)
    return LoadedDocument(data=data, positions=positions, source=source)


def parse_value(text: str, *, source: str) -> tuple[object, PositionIndex]:
    """Any value a YAML or JSON file holds (a referenced file may hold one table, or a list), with its lines."""
    if source.lower().endswith(".json"):
        return _parse_json(text, source)
    if not text.strip():
        return None, PositionIndex()
    return _parse_yaml(text, source)


class NotAFile(OSError):
    """A path that names a device or a socket: read, `/dev/zero` would never end."""


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a file or a pipe (`<(…)` in a shell); NotAFile for a device or a socket, ValueError for a
    name no file can have."""
    import stat

    # Opened without waiting: a named pipe nobody writes to reads as empty instead of blocking the open.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", os.fspath(path))
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise NotAFile(0, "not a file (a device or a socket)", os.fspath(path))
        os.set_blocking(descriptor, True)
        return handle.read()


def read_source(path: Path, source: str) -> bytes:
    """The bytes of a schema file, or SchemaInvalid saying why it cannot be read."""
    try:
        return read_file(path)
    except FileNotFoundError:
        message = "Schema file not found"
    except IsADirectoryError:
        message = "Is a directory, not a schema file"
    except PermissionError:
        message = "Permission denied: cannot read the schema file"
    except OSError as exc:
        message = f"Cannot read the schema file: {exc.strerror or exc}"
    except ValueError:  # a NUL, or a lone surrogate, in the name
        message = "Cannot read the schema file: no file can have this name"
    raise SchemaInvalid([Problem(message)], source=source)


# yaml-rs (Rust) reads a 1.8 MB schema in about 0.3 s where libyaml through PyYAML needs 2 s or more. It is used
# when the text holds nothing on which it and YAML 1.2's core schema (which Sovrium follows, and which the PyYAML
# path below implements) could disagree: no anchors or aliases (yaml-rs reads a self-referencing alias as null),
# no tags or merge keys, no second document, and no
# plain scalar yaml-rs would read as a number where the core schema reads text (`1_000`, `_1`, `0b11`, `+0x1F`,
# `0X1F`; found by comparing both readers on 200,000 random number-like scalars).
# Nor `?` straight after `[`, `{` or `,` (`[?x]`: a text to yaml-rs, a key to PyYAML), a tag with nothing after
# its `!` (`! 0`: text to yaml-rs, 0 to PyYAML), a block scalar with no content at the end of the text (`|`:
# "\n" to yaml-rs, "" to PyYAML), or one of `_ODD_CHARACTERS` (all found by a fuzzer comparing the two).
# Anything else, and every error, takes the PyYAML path, which says what is wrong and where.
_NEEDS_PYYAML = re.compile(
    r"(?:^|[\s\[{,])(?:[*&][^\s\]},]|!(?!=))|<<|\n(?:---|\.\.\.)"  # an anchor, alias or tag where a node starts
    r"|[\[{,][ \t]*[?>|%@`]"  # a key indicator without its blank, or an indicator no plain text starts with
    r"|(?::|^) *[>|][-+0-9]*[^-+0-9 \t\n#]"  # a block scalar header with something after it that no header holds
    # a plain scalar's first characters, where one can start (after `: `, `- `, `? `, `[`, `{`, `,`, a line start)
    r"|(?:[:?-] +|[\[{,] *|^ *)(?:[-+]?\.?[0-9][0-9a-fA-F._xXoObBeE+-]*_|[-+]?[._]*_[._]*[0-9]|[-+]?0[bBXO]|[-+]0[ox])",
    re.MULTILINE,
)


# The same question, asked quickly. Every part of the pattern above but `\n---`/`\n...` stays on one line, so only
# the lines holding one of these hints are asked it: substring searches run at memory speed, where the pattern
# over a 1.8 MB schema takes a quarter of a second. Any underscore is a hint (`0xa_b` is 171 to yaml-rs).
_HINTS = ("*", "&", "!", "<", "_", "?", ">", "|", "%", "@", "`", "0b", "0B", "0X", "0O", "-0o", "-0x", "+0o", "+0x")
# Characters the two readers treat differently: control characters and DEL (refused by PyYAML, text to
# yaml-rs), tabs (separation to yaml-rs, an error in places to PyYAML), a byte order mark after the start, NEL
# and the other C1 controls, U+2028 and U+2029 (line breaks or refused in YAML 1.1, text to yaml-rs).
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\n\r"
_ODD_CHARACTERS = re.compile("[\x00-\x08\t\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_EMPTY_BLOCK_AT_END = re.compile(r"(?:^|[ \t])[|>][-+0-9]*[ \t]*(?:#[^\n]*)?\Z", re.MULTILINE)


def needs_pyyaml(text: str) -> bool:
    """Whether `_NEEDS_PYYAML` finds anything in the text, asked of the lines that may hold it only."""
    if "\n---" in text or "\n..." in text:
        return True
    if text.isascii():  # the bytes outside printable ASCII and line breaks, in C: a quarter of the pattern's time
        if text.encode("ascii").translate(None, _PLAIN_ASCII):
            return True
    elif _ODD_CHARACTERS.search(text) is not None:
        return True
    tail = text.rstrip()
    if tail[-1:] in ("|", ">", "-", "+") or "#" in tail[-200:] or tail[-1:].isdigit():
        last_line = tail[tail.rfind("\n") + 1 :]
        if _EMPTY_BLOCK_AT_END.search(last_line) is not None:
            return True
    asked: set[int] = set()  # the starts of the lines already asked
    for hint in _HINTS:
        at = text.find(hint)
        while at != -1:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end == -1 else end
            if start not in asked:
                if _NEEDS_PYYAML.search(text, start, end) is not None:
                    return True
                asked.add(start)
            at = text.find(hint, end)
    return False


def _parse_yaml(text: str, source: str) -> tuple[object, PositionIndex]:
    if not needs_pyyaml(text):
        data = _parse_yaml_fast(text)
        if data is not _UNREAD:
            return data, PositionIndex(text=text)
    return _parse_yaml_fully(text, source)


_UNREAD = object()


def _parse_yaml_fast(text: str) -> object:
    """The document as yaml-rs reads it, numbers as JavaScript holds them; _UNREAD when it refuses the text."""
    import yaml_rs

    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # the PyYAML path reports it, with its line
        return _UNREAD
    if _has_text_keys_and_no_floats(data):
        return data  # nothing to convert: the walk below is not needed
    stack: list[object] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return _UNREAD  # odd keys (`? [a]`, `[: x]`): the full path says what is wrong, or reads them
            for key, value in item.items():
                if isinstance(value, float) and value.is_integer():
                    item[key] = int(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            for position, value in enumerate(item):
                if isinstance(value, float) and value.is_integer():
                    item[position] = int(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
    if isinstance(data, float) and data.is_integer():
        return int(data)
    return data


def _has_text_keys_and_no_floats(data: object) -> bool:
    """Whether every key is text and no number is a float, asked of orjson's text (Rust, a hundredth of the time
    of walking the document here). False alarms (such text inside a string, huge integers) cost the walk only."""
    import orjson

    if type(data) is not dict and type(data) is not list:
        return False
    from sovrium_tui.schema.js_json import may_hold_fraction

    try:
        written = orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return not may_hold_fraction(written)


def _parse_yaml_fully(text: str, source: str) -> tuple[object, PositionIndex]:
    from sovrium_tui.schema.yaml_full import parse_fully

    return parse_fully(text, source)


def _parse_json(text: str, source: str) -> tuple[object, PositionIndex]:
    duplicates: list[str] = []

    def pairs_to_dict(pairs: list[tuple[str, object]]) -> dict[str, object]:
        result = dict(pairs)
        if len(result) < len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    duplicates.append(key)
                seen.add(key)
        return result

    try:
        data = json.loads(text, object_pairs_hook=pairs_to_dict, parse_float=_json_number)
    except json.JSONDecodeError as exc:
        problem = Problem(f"Invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        raise SchemaInvalid([problem], source=source) from None
    except RecursionError:
        raise SchemaInvalid([Problem("The document is nested too deeply")], source=source) from None
    if duplicates:
        from sovrium_tui.schema.yaml_full import json_duplicate_problems

        raise SchemaInvalid(json_duplicate_problems(text, duplicates), source=source)
    return data, PositionIndex(text=text)


def _json_number(text: str) -> int | float:
    return js_number(float(text))


def value_kind(value: object) -> str:
    """How a decoded value is named in messages ("Expected a boolean, got string")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__
