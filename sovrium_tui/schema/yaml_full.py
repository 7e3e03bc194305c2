"""The careful YAML reader, with PyYAML: YAML 1.2 core scalars, every duplicate key and alias bomb refused with its
line, and the line of every key and item for messages.

`load` asks it only when the fast reader (yaml-rs) is not enough: a text with anchors, tags or number-like
scalars the two could read differently, any error, and the lines of a problem to report. Importing PyYAML costs
20 ms, which the commands that read well-formed files no longer pay.
"""

from __future__ import annotations

import re

import yaml

from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.schema.load import MAX_EXPANDED_NODES, PositionIndex, js_number
from sovrium_tui.text import line_within

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


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


def parse_fully(text: str, source: str) -> tuple[object, PositionIndex]:
    loader = _SchemaLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, PositionIndex()
        if "*" in text:
            _refuse_alias_bombs(root, source)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise SchemaInvalid([_yaml_problem(exc, text)], source=source) from None
    except yaml.YAMLError as exc:
        raise SchemaInvalid([Problem(f"Invalid YAML: {exc}")], source=source) from None
    except RecursionError:
        raise SchemaInvalid([Problem("The document is nested too deeply")], source=source) from None
    finally:
        loader.dispose()
    if loader.duplicate_keys:
        raise SchemaInvalid(_duplicate_problems(loader.duplicate_keys), source=source)
    return data, PositionIndex(root)


def json_duplicate_problems(text: str, duplicates: list[str]) -> list[Problem]:
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


def _yaml_problem(exc: yaml.MarkedYAMLError, document: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    text = exc.problem or exc.context or "cannot be parsed"
    if mark is None:
        return Problem(f"Invalid YAML: {text}")
    line = line_within(document, mark.line)
    if line < mark.line + 1:  # past the last line break: the file ended too early
        return Problem(f"Invalid YAML: {text} (at the end of the file)", line=line)
    return Problem(f"Invalid YAML: {text} (column {mark.column + 1})", line=line)


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


def compose_quietly(text: str | None) -> yaml.Node | None:
    if text is None:
        return None
    loader = _SchemaLoader(text)
    try:
        return loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def node_lines(root: yaml.Node) -> dict[str, int]:
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
