"""Reading schema files: YAML and JSON, line numbers, and every way a file can be unreadable."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.schema import load_app, parse_app
from sovrium_tui.schema.load import parse_document, read_document

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

APP_YAML = textwrap.dedent("""\
    name: app
    tables:
      - name: users
        fields:
          - name: email
            type: email
          - name: joined
            type: date
            default: 2024-01-31
      - name: posts
        fields:
          - name: title
            type: single-line-text
    """)


def problems_of_file(path: Path) -> list[Problem]:
    with pytest.raises(SchemaInvalid) as caught:
        load_app(path)
    assert caught.value.source == str(path)
    return list(caught.value.problems)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_positions_map_paths_to_lines() -> None:
    loaded = parse_document(APP_YAML, source="app.yaml")
    assert {path: loaded.positions[path] for path in ("name", "tables[0]", "tables[0].fields[1].default")} == {
        "name": 1,
        "tables[0]": 3,
        "tables[0].fields[1].default": 9,
    }
    assert loaded.positions["tables[1].fields[0].type"] == 13


def test_problems_in_a_file_carry_its_name_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", APP_YAML.replace("type: email", "type: emial"))
    (problem,) = problems_of_file(path)
    assert (problem.path, problem.line) == ("tables[0].fields[0].type", 6)
    assert SchemaInvalid([problem], source=str(path)).render() == (
        f"{path}:6: tables[0].fields[0].type: Unknown field type: emial (did you mean 'email'?)"
    )


def test_several_problems_in_one_file_are_all_reported(tmp_path: Path) -> None:
    broken = (
        APP_YAML.replace("name: app", "name: app\ncolour: blue")
        .replace("type: email", "type: email\n        required: 'no'")
        .replace("default: 2024-01-31", "default: 2024-01-31\n        unique: 1")
        .replace("type: single-line-text", "type: lookupp")
    )
    path = write(tmp_path, "app.yaml", broken)
    problems = problems_of_file(path)
    assert [(p.path, p.line) for p in problems] == [
        ("colour", 2),
        ("tables[0].fields[0].required", 8),
        ("tables[0].fields[1].unique", 12),
        ("tables[1].fields[0].type", 16),
    ]


def test_missing_keys_point_at_their_parent(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", APP_YAML.replace("      - name: title\n", "      - title: x\n"))
    problems = problems_of_file(path)
    assert ("tables[1].fields[0].name", 12, "Missing required key 'name'") in {
        (p.path, p.line, p.message) for p in problems
    }


def test_unquoted_dates_stay_text() -> None:
    loaded = parse_document("name: app\nwhen: 2024-01-31\nat: !!timestamp 2024-01-31 10:00:00\n", source="a.yaml")
    assert loaded.data == {"name": "app", "when": "2024-01-31", "at": "2024-01-31 10:00:00"}
    assert parse_app(APP_YAML).tables[0].fields[1].default == "2024-01-31"


def test_duplicate_keys_are_refused_with_their_lines() -> None:
    text = "name: app\ntables:\n  - name: a\n    name: b\n    fields: []\nname: again\n"
    with pytest.raises(SchemaInvalid) as caught:
        parse_document(text, source="app.yaml")
    assert caught.value.problems == (Problem("Duplicate key 'name'", line=4), Problem("Duplicate key 'name'", line=6))


def test_merge_keys_are_not_duplicates() -> None:
    text = textwrap.dedent("""\
        name: app
        theme: &base {type: integer, required: true}
        tables:
          - name: t
            fields:
              - {<<: *base, name: a, required: false}
        """)
    (table,) = parse_app(text).tables
    assert (table.fields[0].type, table.fields[0].required) == ("integer", False)


@pytest.mark.parametrize(
    ("text", "line", "pattern"),
    [
        ("name: app\ntables:\n  - name: a\n   fields: []\n", 4, r"^Invalid YAML: .+ \(column \d+\)$"),
        # a file ending too early: its last line, not one after it
        ("name: app\ntables: [a, b\n", 2, r"^Invalid YAML: .+ \(at the end of the file\)$"),
        ('name: "app\n', 1, r"^Invalid YAML: .+ \(at the end of the file\)$"),
        ("name: app\nx: !!python/object:os.system {}\n", 2, r"^Invalid YAML: could not determine a constructor"),
        ("name: app\nx: \t- a\n", 2, r"^Invalid YAML: "),
    ],
)
def test_malformed_yaml_reports_line_and_yaml_problem(text: str, line: int, pattern: str) -> None:
    with pytest.raises(SchemaInvalid) as caught:
        parse_document(text, source="app.yaml")
    (problem,) = caught.value.problems
    assert problem.line == line
    assert re.search(pattern, problem.message), problem.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_json_files_get_json_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "app.json", '{\n  "name": "app",\n  "tables": [\n}\n')
    (problem,) = problems_of_file(path)
    assert (problem.line, problem.message) == (4, "Invalid JSON: Expecting value (column 1)")


def test_json_duplicate_keys_are_refused_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "app.json", '{\n  "name": "app",\n  "tables": [],\n  "name": "again"\n}\n')
    assert problems_of_file(path) == [Problem("Duplicate key 'name'", line=4)]


def test_json_lines_are_found_for_validation_problems(tmp_path: Path) -> None:
    document: Any = parse_document(APP_YAML, source="app.yaml").data
    document["tables"][1]["fields"][0]["type"] = "nope"
    path = write(tmp_path, "app.json", json.dumps(document, indent=2))
    (problem,) = problems_of_file(path)
    assert problem.path == "tables[1].fields[0].type"
    assert problem.line is not None
    assert path.read_text().splitlines()[problem.line - 1].strip() == '"type": "nope"'


def test_json_content_in_a_yaml_file_is_read() -> None:
    assert parse_app('{"name": "app", "tables": []}', source="app.yaml").name == "app"


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "app.json", b'\xef\xbb\xbf{"name": "app"}')
    assert load_app(path).name == "app"


@pytest.mark.parametrize(
    ("name", "content", "message", "line"),
    [
        ("app.yaml", b"", "The schema file is empty", None),
        ("app.yaml", b"  \n\n", "The schema file is empty", None),
        ("app.yaml", b"# nothing yet\n", "The schema file is empty", None),
        ("app.json", b"", "The schema file is empty", None),
        ("app.yaml", b"name: caf\xe9\n", "The schema file is not UTF-8 text (byte 0xe9 at offset 9)", 1),
        (
            "app.yaml",
            b"name: app\ntables:\n  - \xff\n",
            "The schema file is not UTF-8 text (byte 0xff at offset 22)",
            3,
        ),
        ("app.yaml", b"- name: app\n", "The top level must be a mapping with 'name' and 'tables', got list", 1),
        ("app.yaml", b"just text\n", "The top level must be a mapping with 'name' and 'tables', got string", 1),
        ("app.json", b"[1]", "The top level must be a mapping with 'name' and 'tables', got list", 1),
    ],
)
def test_unusable_files_are_refused_clearly(
    tmp_path: Path, name: str, content: bytes, message: str, line: int | None
) -> None:
    path = write(tmp_path, name, content)
    assert problems_of_file(path) == [Problem(message, line=line)]


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    assert problems_of_file(tmp_path / "nope.yaml") == [Problem("Schema file not found")]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert problems_of_file(tmp_path) == [Problem("Is a directory, not a schema file")]


def test_an_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "app.yaml", APP_YAML)

    def refuse(name: str, flags: int) -> int:  # root reads any file: the refusal is the operating system's
        raise PermissionError(13, "Permission denied", str(name))

    monkeypatch.setattr("sovrium_tui.schema.load.os.open", refuse)
    assert problems_of_file(path) == [Problem("Permission denied: cannot read the schema file")]


def test_self_referencing_aliases_are_refused() -> None:
    with pytest.raises(SchemaInvalid) as caught:
        parse_document("name: app\nloop: &a [*a]\n", source="app.yaml")
    assert caught.value.problems == (Problem("An alias refers to a value that contains it", line=2),)


def test_alias_bombs_are_refused() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(7)]
    with pytest.raises(SchemaInvalid) as caught:
        parse_document("\n".join(levels) + "\n", source="app.yaml")
    assert caught.value.problems[0].message == "Aliases expand the document to too many values"


def test_deeply_nested_documents_are_refused() -> None:
    with pytest.raises(SchemaInvalid) as caught:
        parse_document('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}", source="app.json")
    assert caught.value.problems == (Problem("The document is nested too deeply"),)


def test_read_document_returns_data_and_source(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", APP_YAML)
    loaded = read_document(path)
    assert (loaded.source, loaded.data["name"]) == (str(path), "app")


def test_the_crm_example_is_valid() -> None:
    app = load_app(EXAMPLES / "crm.yaml")
    names = [table.name for table in app.tables]
    assert names == ["companies", "contacts", "deals", "activities", "tags", "contact_profiles"]
    relation_types = {f.relation_type for table in app.tables for f in table.fields if f.type == "relationship"}
    assert relation_types == {"many-to-one", "one-to-one", "one-to-many", "many-to-many"}
    computed = {f.type for table in app.tables for f in table.fields} & {"formula", "lookup", "rollup", "count"}
    assert computed == {"formula", "lookup", "rollup", "count"}


def test_the_crm_example_reads_the_same_as_json(tmp_path: Path) -> None:
    from_yaml = load_app(EXAMPLES / "crm.yaml")
    path = write(tmp_path, "crm.json", json.dumps(yaml.safe_load((EXAMPLES / "crm.yaml").read_text())))
    from_json = load_app(path)
    assert from_json == from_yaml
    assert from_json.document == from_yaml.document
