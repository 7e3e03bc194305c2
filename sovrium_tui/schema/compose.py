"""A schema composed of several files with `$ref`, resolved as Sovrium resolves it (ref-resolver.ts).

A mapping whose only key is `$ref` (a string) is replaced by the content of that file, anywhere in the document;
the path is relative to the folder of the file that holds the reference, and `.yaml`/`.yml`/`.json` pick the
parser. Every file read is recorded (the start-up cache keys on all of them), and every part of the result
remembers the file it came from, so a problem found later is reported in the file and line where it was written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.records import record
from sovrium_tui.schema.load import (
    MAX_EXPANDED_NODES,
    PositionIndex,
    decode_text,
    parse_document,
    parse_value,
    read_file,
    read_source,
)

REF_KEY = "$ref"
REF_FORMATS = (".yaml", ".yml", ".json")
MAX_REFERENCE_DEPTH = 64  # a chain of files each referring to the next
MAX_REFERENCES = 10_000  # Sovrium's own templates use a few dozen


@record
class SourceFile:
    """One file read while composing the schema."""

    path: str  # absolute and normalised: how references and cycles are compared
    display: str  # how messages name it: relative to the top-level file's folder as the user gave that file
    content: bytes


@record
class _Part:
    """The content of one file, placed at `mount` in the composed document."""

    mount: str  # a document path: "" for the top level, "tables[2]" for a table file
    file: SourceFile
    positions: PositionIndex


@record
class ComposedDocument:
    """The document with every reference replaced, the files it was read from, and where each part came from."""

    data: object
    files: tuple[SourceFile, ...]  # every file read, in the order first read; the top-level file first
    parts: tuple[_Part, ...] = field(repr=False)

    @property
    def source(self) -> str:
        return self.files[0].display

    def locate(self, problem: Problem) -> Problem:
        """The problem at the file, line and path (within that file) where the value it is about was written."""
        if problem.source is not None:
            return problem
        part = next(p for p in reversed(self.parts) if _within(problem.path, p.mount))  # the deepest
        local = _relative(problem.path, part.mount)
        # A problem about the whole schema (two names colliding, say) has no one line to point at.
        keep = not problem.path or (problem.line is not None and part is self.parts[0])
        line = problem.line if keep else part.positions.line_of(local)
        source = None if part.file is self.files[0] else part.file.display
        return Problem(problem.message, local, line, source)

    def relocate(self, error: SchemaInvalid) -> SchemaInvalid:
        """A SchemaInvalid about the composed document, its problems moved to the files they are in."""
        return SchemaInvalid(_in_file_order([self.locate(p) for p in error.problems], self.files), source=self.source)


def compose_file(path: str | os.PathLike[str]) -> ComposedDocument:
    """Read a schema file and every file it refers to; SchemaInvalid names each broken reference."""
    source = os.fspath(path)
    raw = read_source(Path(source), source)
    return _compose(SourceFile(os.path.abspath(source), source, raw), decode_text(raw, source))


def compose_text(text: str, *, source: str) -> ComposedDocument:
    """Schema text whose references are relative to the folder `source` names (the working folder for `<string>`)."""
    return _compose(SourceFile(os.path.abspath(source), source, text.encode("utf-8", "surrogatepass")), text)


def _compose(root: SourceFile, text: str) -> ComposedDocument:
    loaded = parse_document(text, source=root.display)
    composer = _Composer(root, loaded.positions)
    # Nothing can be a reference without the text `$ref`, or an escape that spells it: skip the walk.
    data: object = loaded.data
    if REF_KEY in text or "\\" in text:
        try:
            data = composer.resolve(loaded.data, composer.parts[0], "", (root.path,))
        except RecursionError:
            raise SchemaInvalid([Problem("The document is nested too deeply")], source=root.display) from None
    files = tuple(composer.files.values())
    if composer.problems:
        raise SchemaInvalid(_in_file_order(composer.problems, files), source=root.display)
    return ComposedDocument(data, files, tuple(composer.parts))


def _in_file_order(problems: list[Problem], files: tuple[SourceFile, ...]) -> list[Problem]:
    """Problems by file (the top-level one first, then as read) and line; the order of finding breaks ties."""
    order = {file.display: number for number, file in enumerate(files)}
    return sorted(problems, key=lambda p: (order.get(p.source or "", 0), p.line is None, p.line or 0))


@dataclass(slots=True)
class _Loaded:
    """A referenced file as parsed once, however often it is referred to."""

    file: SourceFile
    value: object
    positions: PositionIndex
    size: int | None = None  # values in it, once known to hold no reference (it is then shared as it is)


class _Composer:
    def __init__(self, root: SourceFile, positions: PositionIndex) -> None:
        self.root_folder = os.path.dirname(root.path)
        self.display_folder = os.path.dirname(root.display)
        self.files: dict[str, SourceFile] = {root.path: root}
        self.parts: list[_Part] = [_Part("", root, positions)]
        self.loaded: dict[str, _Loaded | str] = {}  # a parsed file, or why it cannot be used
        self.problems: list[Problem] = []
        self.references = 0
        self.expanded = 0

    def resolve(self, value: object, part: _Part, local: str, chain: tuple[str, ...]) -> object:
        """`value` (at `local` in `part`'s file) with its references replaced; the same object when it has none."""
        if isinstance(value, dict):
            if len(value) == 1 and isinstance(value.get(REF_KEY), str):
                return self.follow(value[REF_KEY], part, local, chain)
            self.count(len(value))
            resolved_dict: dict[object, object] | None = None
            for key, item in value.items():
                if isinstance(item, dict | list):
                    resolved = self.resolve(item, part, _child(local, str(key)), chain)
                    if resolved is not item:
                        resolved_dict = resolved_dict if resolved_dict is not None else dict(value)
                        resolved_dict[key] = resolved
            return value if resolved_dict is None else resolved_dict
        if isinstance(value, list):
            self.count(len(value))
            resolved_list: list[object] | None = None
            for index, item in enumerate(value):
                if isinstance(item, dict | list):
                    resolved = self.resolve(item, part, f"{local}[{index}]", chain)
                    if resolved is not item:
                        resolved_list = resolved_list if resolved_list is not None else list(value)
                        resolved_list[index] = resolved
            return value if resolved_list is None else resolved_list
        return value

    def follow(self, reference: str, part: _Part, local: str, chain: tuple[str, ...]) -> object:
        """The content of the file `reference` names, itself resolved; None (and a problem) when it cannot be."""
        at = _child(local, REF_KEY)
        target = os.path.normpath(os.path.join(os.path.dirname(part.file.path), reference))
        display = self.display(target)
        self.references += 1
        failure = None
        if target in chain:
            loop = " -> ".join(self.display(path) for path in (*chain, target))
            failure = f"Circular $ref detected: {display} ({loop})"
        elif len(chain) > MAX_REFERENCE_DEPTH:
            failure = f"$ref chain deeper than {MAX_REFERENCE_DEPTH} files at {display}"
        elif self.references > MAX_REFERENCES:
            failure = f"More than {MAX_REFERENCES} $ref references"
        elif not target.lower().endswith(REF_FORMATS):
            failure = f"Unsupported file format for $ref: {display} (use .yaml, .yml or .json)"
        loaded = self.load(target, display) if failure is None else failure
        if isinstance(loaded, str):
            self.problem(part, at, loaded)
            return None
        mounted = _Part(_child_path(part.mount, local), loaded.file, loaded.positions)
        self.parts.append(mounted)
        if loaded.size is not None:
            self.count(loaded.size)
            return loaded.value
        before, problems = self.expanded, len(self.problems)
        resolved = self.resolve(loaded.value, mounted, "", (*chain, target))
        if resolved is loaded.value and len(self.problems) == problems:
            loaded.size = self.expanded - before
        return resolved

    def load(self, target: str, display: str) -> _Loaded | str:
        """The parsed file, read once; or the message saying why it cannot be used."""
        known = self.loaded.get(target)
        if known is None:
            known = self.loaded[target] = self.read(target, display)
        return known

    def read(self, target: str, display: str) -> _Loaded | str:
        try:
            raw = read_file(target)
        except (FileNotFoundError, NotADirectoryError):
            return f"Referenced file not found: {display}"
        except IsADirectoryError:
            return f"Referenced file not found: {display} (it is a directory)"
        except OSError as error:
            return f"Cannot read referenced file {display}: {error.strerror or error}"
        except ValueError:  # a NUL, or a lone surrogate, in the reference
            return f"Referenced file not found: {display} (no file can have this name)"
        file = self.files.setdefault(target, SourceFile(target, display, raw))
        try:
            value, positions = parse_value(decode_text(raw, display), source=display)
        except SchemaInvalid as invalid:
            reasons = "; ".join(f"line {p.line}: {p.message}" if p.line else p.message for p in invalid.problems)
            return f"Failed to parse referenced file {display}: {reasons}"
        return _Loaded(file, value, positions)

    def display(self, path: str) -> str:
        """A file as messages name it: beside the top-level file, the way the user named that one."""
        return os.path.normpath(os.path.join(self.display_folder, os.path.relpath(path, self.root_folder)))

    def problem(self, part: _Part, local: str, message: str) -> None:
        source = None if part is self.parts[0] else part.file.display
        self.problems.append(Problem(message, local, part.positions.line_of(local), source))

    def count(self, values: int) -> None:
        self.expanded += values
        if self.expanded > MAX_EXPANDED_NODES:
            message = "$ref references expand the document to too many values"
            raise SchemaInvalid([Problem(message)], source=self.parts[0].file.display)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _child_path(mount: str, local: str) -> str:
    """A path inside a part, as a path of the composed document."""
    if not mount:
        return local
    if not local:
        return mount
    return f"{mount}{local}" if local.startswith("[") else f"{mount}.{local}"


def _within(path: str, mount: str) -> bool:
    if not mount or path == mount:
        return True
    return path.startswith(mount) and path[len(mount)] in ".["


def _relative(path: str, mount: str) -> str:
    rest = path[len(mount) :]
    return rest[1:] if rest.startswith(".") else rest
