"""Reading a schema file into plain data, plus the source line of every key and item for error messages.

This runs on the start-up path of `sovrium migrate`, so it imports only yaml and json, uses libyaml when it is
available, and builds the line index only when a problem has to be reported.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from sovrium_tui.errors import Problem, SchemaInvalid

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# A document whose aliases expand to more nodes than this is refused (the "billion laughs" shape): the
# validator and the checksum walk the expanded data.
MAX_EXPANDED_NODES = 2_000_000


class _SchemaLoader(_SafeLoader):
    """Safe YAML that keeps dates as text and notes every duplicate mapping key with its line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[str, int]] = []
        self._checked_mappings: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Called on every mapping before merge keys are folded in, so only the keys written here are compared.
        if id(node) not in self._checked_mappings:
            self._checked_mappings.add(id(node))
            self._note_duplicate_keys(node)
        super().flatten_mapping(node)

    def _note_duplicate_keys(self, node: yaml.MappingNode) -> None:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            identity = (key_node.tag, key_node.value)
            if identity in seen:
                self.duplicate_keys.append((key_node.value, key_node.start_mark.line + 1))
            seen.add(identity)


def _timestamp_as_text(loader: _SchemaLoader, node: yaml.Node) -> str:
    """An explicit `!!timestamp` stays the text it was written as, like an unquoted date."""
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


# YAML 1.2 core schema (yaml.org/spec/1.2.2 §10.3), which Sovrium's parser follows: `yes`, `no`, `on`, `off`,
# `y`, `n` are text, and so are dates, `0b1`, `1_000` and `1:30`; octal is `0o17`, not `017`.
_CORE_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_CORE_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_CORE_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_CORE_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"

_SchemaLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    (_NULL_TAG, _CORE_NULL, ["~", "n", "N", ""]),
    (_BOOL_TAG, _CORE_BOOL, list("tTfF")),
    (_INT_TAG, _CORE_INT, list("-+0123456789")),  # before float: "12" is both, and is an int
    (_FLOAT_TAG, _CORE_FLOAT, list("-+.0123456789")),
    (_MERGE_TAG, re.compile(r"^(?:<<)$"), ["<"]),
):
    _SchemaLoader.add_implicit_resolver(_tag, _pattern, _first)


def js_number(value: float) -> int | float:
    """A decoded number as JavaScript holds it: one kind of number, so a whole float is an int (`1e3` is 1000)."""
    if value.is_integer():
        return int(value)
    return value


def _core_text(loader: _SchemaLoader, node: yaml.Node, pattern: re.Pattern[str], kind: str) -> str:
    """The scalar's text, refused unless the core schema gives it this tag (explicit `!!bool yes` is an error)."""
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if not pattern.match(text):
        raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not {kind} in YAML 1.2", node.start_mark)
    return text


def _core_null(loader: _SchemaLoader, node: yaml.Node) -> None:
    _core_text(loader, node, _CORE_NULL, "null")


def _core_bool(loader: _SchemaLoader, node: yaml.Node) -> bool:
    return _core_text(loader, node, _CORE_BOOL, "a boolean").lower() == "true"


def _core_int(loader: _SchemaLoader, node: yaml.Node) -> int:
    text = _core_text(loader, node, _CORE_INT, "an integer")
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _core_float(loader: _SchemaLoader, node: yaml.Node) -> int | float:
    text = _core_text(loader, node, _CORE_FLOAT, "a number")
    special = text.lstrip("+-").lower()
    if special == ".inf":
        return float("-inf") if text.startswith("-") else float("inf")
    if special == ".nan":
        return float("nan")
    return js_number(float(text))


_SchemaLoader.add_constructor(_TIMESTAMP_TAG, _timestamp_as_text)
_SchemaLoader.add_constructor(_NULL_TAG, _core_null)
_SchemaLoader.add_constructor(_BOOL_TAG, _core_bool)
_SchemaLoader.add_constructor(_INT_TAG, _core_int)
_SchemaLoader.add_constructor(_FLOAT_TAG, _core_float)


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
            root = self._root if self._root is not None else _compose_quietly(self._text)
            self._lines = _node_lines(root) if root is not None else {}
            self._root = None
        return self._lines


def parent_path(path: str) -> str:
    """`tables[1].fields` → `tables[1]` → `tables` → ``."""
    if path.endswith("]"):
        return path[: path.rfind("[")]
    return path[: max(path.rfind("."), 0)]


@dataclass(frozen=True, slots=True)
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


def read_source(path: Path, source: str) -> bytes:
    """The bytes of a schema file, or SchemaInvalid saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        message = "Schema file not found"
    except IsADirectoryError:
        message = "Is a directory, not a schema file"
    except PermissionError:
        message = "Permission denied: cannot read the schema file"
    except OSError as exc:
        message = f"Cannot read the schema file: {exc.strerror or exc}"
    raise SchemaInvalid([Problem(message)], source=source)


# yaml-rs (Rust) reads a 1.8 MB schema in about 0.3 s where libyaml through PyYAML needs 2 s or more. It is used
# when the text holds nothing on which it and YAML 1.2's core schema (which Sovrium follows, and which the PyYAML
# path below implements) could disagree: no anchors or aliases (yaml-rs reads a self-referencing alias as null),
# no tags or merge keys, no second document, and no
# plain scalar yaml-rs would read as a number where the core schema reads text (`1_000`, `_1`, `0b11`, `+0x1F`,
# `0X1F`; found by comparing both readers on 200,000 random number-like scalars).
# Anything else, and every error, takes the PyYAML path, which says what is wrong and where.
_NEEDS_PYYAML = re.compile(
    r"(?:^|[\s\[{,])(?:[*&]|!(?!=))[^\s\]},]|<<|\n(?:---|\.\.\.)"  # an anchor, alias or tag where a node starts
    # a plain scalar's first characters, where one can start (after `: `, `- `, `? `, `[`, `{`, `,`, a line start)
    r"|(?:[:?-] +|[\[{,] *|^ *)(?:[-+]?\.?[0-9][0-9a-fA-F._xXoObBeE+-]*_|[-+]?[._]*_[._]*[0-9]|[-+]?0[bBXO]|[-+]0[ox])",
    re.MULTILINE,
)


# The same question, asked quickly. Every part of the pattern above but `\n---`/`\n...` stays on one line, so only
# the lines holding one of these hints are asked it: substring searches run at memory speed, where the pattern
# over a 1.8 MB schema takes a quarter of a second. Any underscore is a hint (`0xa_b` is 171 to yaml-rs).
_HINTS = ("*", "&", "!", "<", "_", "0b", "0B", "0X", "0O", "-0o", "-0x", "+0o", "+0x")


def needs_pyyaml(text: str) -> bool:
    """Whether `_NEEDS_PYYAML` finds anything in the text, asked of the lines that may hold it only."""
    if "\n---" in text or "\n..." in text:
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


_FLOAT_TOKEN = re.compile(rb"[:,\[]-?[0-9]+[.eE]")


def _has_text_keys_and_no_floats(data: object) -> bool:
    """Whether every key is text and no number is a float, asked of orjson's text (Rust, a hundredth of the time
    of walking the document here). False alarms (such text inside a string, huge integers) cost the walk only."""
    import orjson

    if type(data) is not dict and type(data) is not list:
        return False
    try:
        written = orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return _FLOAT_TOKEN.search(written) is None


def _parse_yaml_fully(text: str, source: str) -> tuple[object, PositionIndex]:
    loader = _SchemaLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, PositionIndex()
        if "*" in text:
            _refuse_alias_bombs(root, source)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise SchemaInvalid([_yaml_problem(exc)], source=source) from None
    except yaml.YAMLError as exc:
        raise SchemaInvalid([Problem(f"Invalid YAML: {exc}")], source=source) from None
    except RecursionError:
        raise SchemaInvalid([Problem("The document is nested too deeply")], source=source) from None
    finally:
        loader.dispose()
    if loader.duplicate_keys:
        raise SchemaInvalid(_duplicate_problems(loader.duplicate_keys), source=source)
    return data, PositionIndex(root)


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
        raise SchemaInvalid(_json_duplicate_problems(text, duplicates), source=source)
    return data, PositionIndex(text=text)


def _json_number(text: str) -> int | float:
    return js_number(float(text))


def _json_duplicate_problems(text: str, duplicates: list[str]) -> list[Problem]:
    """Duplicate JSON keys, with lines found by reading the same text as YAML (JSON is YAML-compatible)."""
    loader = _SchemaLoader(text)
    try:
        loader.get_single_data()
    except (yaml.YAMLError, RecursionError):
        return [Problem(f"Duplicate key '{key}'") for key in duplicates]
    finally:
        loader.dispose()
    return _duplicate_problems(loader.duplicate_keys) or [Problem(f"Duplicate key '{k}'") for k in duplicates]


def _duplicate_problems(duplicates: list[tuple[str, int]]) -> list[Problem]:
    return [Problem(f"Duplicate key '{key}'", line=line) for key, line in sorted(duplicates, key=lambda d: d[1])]


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    text = exc.problem or exc.context or "cannot be parsed"
    if mark is None:
        return Problem(f"Invalid YAML: {text}")
    return Problem(f"Invalid YAML: {text} (column {mark.column + 1})", line=mark.line + 1)


def _refuse_alias_bombs(root: yaml.Node, source: str) -> None:
    """Refuse aliases that refer to themselves or expand the document beyond MAX_EXPANDED_NODES."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            in_progress.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_EXPANDED_NODES:
                message = "Aliases expand the document to too many values"
                raise SchemaInvalid([Problem(message, line=node.start_mark.line + 1)], source=source)
            continue
        if key in sizes:
            continue
        if key in in_progress:
            message = "An alias refers to a value that contains it"
            raise SchemaInvalid([Problem(message, line=node.start_mark.line + 1)], source=source)
        in_progress.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _compose_quietly(text: str | None) -> yaml.Node | None:
    if text is None:
        return None
    loader = _SchemaLoader(text)
    try:
        return loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def _node_lines(root: yaml.Node) -> dict[str, int]:
    """Walk the node tree once (each aliased node only at its first place) recording each path's line."""
    lines = {"": root.start_mark.line + 1}
    walked: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                    child = f"{path}.{key_node.value}" if path else str(key_node.value)
                    lines[child] = key_node.start_mark.line + 1
                    stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                lines[child] = item.start_mark.line + 1
                stack.append((item, child))
    return lines


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
