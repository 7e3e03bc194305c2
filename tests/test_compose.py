"""Schemas composed of several files with `$ref` (interop §1): resolved everywhere, every broken reference named."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from sovrium_tui import services
from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.schema import app_checksum, app_snapshot, compose_file, load_app, parse_app
from sovrium_tui.schema import compose as compose_module
from sovrium_tui.startup import _cache_entry, _cache_line, _cached_schema, _validate_and_cache

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def write(root: Path, files: dict[str, str]) -> Path:
    """Write each file (dedented) under `root`; return the path of `app.yaml`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return root / "app.yaml"


SHOP = {
    "app.yaml": """\
        name: shop
        tables:
          - $ref: ./config/tables/items.yaml
          - $ref: config/tables/orders.json
        theme:
          $ref: ./config/theme.yaml
        """,
    "config/tables/items.yaml": """\
        id: 1
        name: items
        fields:
          - name: title
            type: single-line-text
          - $ref: ../fields/price.yaml
        """,
    "config/fields/price.yaml": """\
        name: price
        type: currency
        currency: EUR
        precision: 2
        """,
    "config/tables/orders.json": """\
        {"id": 2, "name": "orders",
         "fields": [{"name": "item", "type": "relationship", "relatedTable": "items"}]}
        """,
    "config/theme.yaml": "colors: {primary: '#000000'}\n",
}

INLINE = """\
    name: shop
    tables:
      - id: 1
        name: items
        fields:
          - {name: title, type: single-line-text}
          - {name: price, type: currency, currency: EUR, precision: 2}
      - id: 2
        name: orders
        fields:
          - {name: item, type: relationship, relatedTable: items}
    theme: {colors: {primary: '#000000'}}
    """


def problems(path: Path) -> list[str]:
    with pytest.raises(SchemaInvalid) as caught:
        load_app(path)
    assert caught.value.exit_code == 1
    return caught.value.render().splitlines()


def test_a_composed_app_is_the_app_written_in_one_file(tmp_path: Path) -> None:
    composed = load_app(write(tmp_path, SHOP))
    inline = parse_app(textwrap.dedent(INLINE))
    assert composed == inline
    assert composed.document == inline.document
    assert app_checksum(composed) == app_checksum(inline)
    assert "$ref" not in json.dumps(app_snapshot(composed)), "snapshots hold the resolved tables"


def test_every_file_read_is_recorded_once_in_reading_order(tmp_path: Path) -> None:
    files = dict(SHOP)
    files["app.yaml"] = textwrap.dedent(files["app.yaml"]) + "pages:\n  - $ref: ./config/theme.yaml\n"  # read twice
    composed = compose_file(write(tmp_path, files))
    assert [file.display for file in composed.files] == [
        str(tmp_path / "app.yaml"),
        str(tmp_path / "config/tables/items.yaml"),
        str(tmp_path / "config/fields/price.yaml"),
        str(tmp_path / "config/tables/orders.json"),
        str(tmp_path / "config/theme.yaml"),
    ]
    assert composed.files[2].content == (tmp_path / "config/fields/price.yaml").read_bytes()


def test_paths_are_relative_to_the_file_holding_the_reference(tmp_path: Path) -> None:
    files = {
        "app.yaml": "name: app\ntables:\n  - $ref: a/t.yaml\n",
        "a/t.yaml": "name: t\nfields:\n  - $ref: ../b/f.yaml\n",
        "b/f.yaml": "$ref: ./g.json\n",
        "b/g.json": '{"name": "g", "type": "integer"}',
    }
    assert load_app(write(tmp_path, files)).tables[0].fields[0].name == "g"


def test_absolute_references_and_a_whole_document_reference(tmp_path: Path) -> None:
    write(tmp_path, {"real.yaml": "name: app\ntables: [{$ref: " + str(tmp_path / "t.json") + "}]\n"})
    (tmp_path / "t.json").write_text('{"name": "t", "fields": [{"name": "a", "type": "integer"}]}')
    (tmp_path / "app.yaml").write_text("$ref: ./real.yaml\n")
    assert load_app(tmp_path / "app.yaml").tables[0].name == "t"


def test_text_is_composed_relative_to_the_folder_its_source_names(tmp_path: Path) -> None:
    write(tmp_path, SHOP)
    text = (tmp_path / "app.yaml").read_text()
    assert parse_app(text, source=str(tmp_path / "app.yaml")) == load_app(tmp_path / "app.yaml")


def test_only_a_mapping_with_the_one_key_is_a_reference(tmp_path: Path) -> None:
    files = {
        "app.yaml": "name: app\ntables:\n  - {$ref: ./t.yaml, id: 3}\n",
        "t.yaml": "name: t\nfields: [{name: a, type: integer}]\n",
    }
    assert "app.yaml:3: tables[0].$ref: Unknown key '$ref'" in "\n".join(problems(write(tmp_path, files)))
    (tmp_path / "app.yaml").write_text("name: app\ntables: []\npages: {$ref: 42}\n")  # not a string: not a ref
    assert load_app(tmp_path / "app.yaml").tables == ()


def test_a_reference_spelled_with_an_escape_is_still_one(tmp_path: Path) -> None:
    files = {"app.yaml": 'name: app\ntables:\n  - {"\\x24ref": ./t.yaml}\n', "t.yaml": "name: t\nfields: []\n"}
    assert problems(write(tmp_path, files)) == [f"{tmp_path}/t.yaml:2: fields: A table must have at least one field"]


# ---------------------------------------------------------------------------------------------------------------
# Where problems are reported


DEALS = {
    "app.yaml": """\
        name: crm
        tables:
          - $ref: ./config/tables/companies.yaml
          - $ref: ./config/tables/deals.yaml
        """,
    "config/tables/companies.yaml": """\
        id: 1
        name: companies
        fields:
          - {name: name, type: single-line-text}
        """,
    "config/tables/deals.yaml": """\
        id: 2
        name: deals
        fields:
          - name: title
            type: single-line-text
          - name: amount
            type: currency
            currency: EUR
            precision: 11
          - name: company
            type: relationship
            relatedTable: companys
        """,
}


def test_problems_name_the_file_and_line_the_value_is_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, DEALS)
    with pytest.raises(SchemaInvalid) as caught:
        load_app("app.yaml")
    assert caught.value.render().splitlines() == [
        "config/tables/deals.yaml:9: fields[1].precision: Expected an integer between 0 and 10, got 11",
        'config/tables/deals.yaml:12: fields[2].relatedTable: Relationship field "deals.company": '
        'relatedTable "companys" does not exist',
    ]
    assert caught.value.source == "app.yaml"
    assert caught.value.problems[0] == Problem(
        "Expected an integer between 0 and 10, got 11", "fields[1].precision", 9, "config/tables/deals.yaml"
    )
    assert caught.value.to_json()["problems"][0] == {  # type: ignore[index]
        "source": "config/tables/deals.yaml",
        "path": "fields[1].precision",
        "line": 9,
        "message": "Expected an integer between 0 and 10, got 11",
    }


def test_files_are_named_as_the_top_level_file_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "project", DEALS)
    monkeypatch.chdir(tmp_path)
    rendered = problems(Path("project/app.yaml"))
    assert rendered[0].startswith("project/config/tables/deals.yaml:9: fields[1].precision: ")


def test_problems_in_the_top_level_file_keep_their_paths(tmp_path: Path) -> None:
    files = dict(DEALS)
    files["app.yaml"] = files["app.yaml"].replace("name: crm", "name: crm\n        colour: blue")
    files["config/tables/deals.yaml"] = files["config/tables/deals.yaml"].replace("precision: 11", "precision: 2")
    files["config/tables/deals.yaml"] = files["config/tables/deals.yaml"].replace("companys", "companies")
    assert problems(write(tmp_path, files)) == [f"{tmp_path}/app.yaml:2: colour: Unknown key 'colour'"]


def test_a_missing_key_in_a_referenced_file_points_at_its_first_line(tmp_path: Path) -> None:
    files = {"app.yaml": "name: app\ntables:\n  - $ref: ./t.yaml\n", "t.yaml": "# the users\nname: users\n"}
    assert problems(write(tmp_path, files)) == [f"{tmp_path}/t.yaml:2: fields: Missing required key 'fields'"]


# ---------------------------------------------------------------------------------------------------------------
# Broken references


def broken(tmp_path: Path, files: dict[str, str]) -> list[str]:
    lines = problems(write(tmp_path, files))
    prefix = f"{tmp_path}/"
    return [line.removeprefix(prefix) for line in lines]


def test_a_missing_file_is_named_at_the_reference(tmp_path: Path) -> None:
    files = {"app.yaml": "name: app\ntables:\n  - $ref: ./config/tables/gone.yaml\n"}
    assert broken(tmp_path, files) == [
        f"app.yaml:3: tables[0].$ref: Referenced file not found: {tmp_path}/config/tables/gone.yaml"
    ]


def test_every_broken_reference_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "app.yaml": """\
                name: app
                tables:
                  - $ref: ./t.yaml
                pages:
                  - $ref: ./pages/home.yaml
                  - $ref: ./pages/broken.yaml
                  - $ref: ./pages/broken.json
                  - $ref: ./pages/notes.txt
                  - $ref: ./pages
                """,
            "t.yaml": "name: t\nfields:\n  - $ref: ./fields/nope.yaml\n",
            "pages/broken.yaml": "title: [unclosed\n",
            "pages/broken.json": '{"title": }',
            "pages/notes.txt": "hello",
        },
    )
    with pytest.raises(SchemaInvalid) as caught:
        load_app("app.yaml")
    assert caught.value.render().splitlines() == [
        "app.yaml:5: pages[0].$ref: Referenced file not found: pages/home.yaml",
        "app.yaml:6: pages[1].$ref: Failed to parse referenced file pages/broken.yaml: line 1: Invalid YAML: "
        "did not find expected ',' or ']' (at the end of the file)",
        "app.yaml:7: pages[2].$ref: Failed to parse referenced file pages/broken.json: line 1: Invalid JSON: "
        "Expecting value (column 11)",
        "app.yaml:8: pages[3].$ref: Unsupported file format for $ref: pages/notes.txt (use .yaml, .yml or .json)",
        "app.yaml:9: pages[4].$ref: Unsupported file format for $ref: pages (use .yaml, .yml or .json)",
        "t.yaml:3: fields[0].$ref: Referenced file not found: fields/nope.yaml",
    ]


def test_a_referenced_folder_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    files = {"app.yaml": "name: app\ntables:\n  - $ref: ./dir.yaml\n"}
    assert broken(tmp_path, files) == [
        f"app.yaml:3: tables[0].$ref: Referenced file not found: {tmp_path}/dir.yaml (it is a directory)"
    ]


def test_duplicate_keys_in_a_referenced_file_are_a_parse_failure(tmp_path: Path) -> None:
    files = {"app.yaml": "name: app\ntables:\n  - $ref: ./t.yaml\n", "t.yaml": "name: a\nname: b\nfields: []\n"}
    assert broken(tmp_path, files) == [
        f"app.yaml:3: tables[0].$ref: Failed to parse referenced file {tmp_path}/t.yaml: line 2: Duplicate key 'name'"
    ]


def test_circular_references_are_refused_with_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "app.yaml": "name: app\ntables:\n  - $ref: ./a.yaml\nself:\n  $ref: ./app.yaml\n",
            "a.yaml": "name: a\nfields:\n  - $ref: ./b.yaml\n",
            "b.yaml": "$ref: ./a.yaml\n",
        },
    )
    with pytest.raises(SchemaInvalid) as caught:
        load_app("app.yaml")
    assert caught.value.render().splitlines() == [
        "app.yaml:5: self.$ref: Circular $ref detected: app.yaml (app.yaml -> app.yaml)",
        "b.yaml:1: $ref: Circular $ref detected: a.yaml (app.yaml -> a.yaml -> b.yaml -> a.yaml)",
    ]


def test_one_file_referenced_twice_is_not_a_loop(tmp_path: Path) -> None:
    files = {
        "app.yaml": "name: app\ntables:\n"
        "  - {name: a, fields: [$ref: ./f.yaml]}\n"
        "  - {name: b, fields: [$ref: ./f.yaml]}\n",
        "f.yaml": "{name: note, type: long-text}\n",
    }
    app = load_app(write(tmp_path, files))
    assert [t.fields[0].name for t in app.tables] == ["note", "note"]


def test_references_cannot_blow_the_document_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compose_module, "MAX_EXPANDED_NODES", 1_000)
    files = {"app.yaml": "name: app\ntables: []\nx: [" + ", ".join(["{$ref: ./big.yaml}"] * 20) + "]\n"}
    files["big.yaml"] = "[" + ", ".join(["1"] * 100) + "]\n"
    assert broken(tmp_path, files) == ["app.yaml: $ref references expand the document to too many values"]


# ---------------------------------------------------------------------------------------------------------------
# The example, the services and the start-up cache


def test_the_composed_example_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES / "composed")
    result = services.validate("app.yaml")
    assert (result.app_name, result.table_count) == ("library", 5)
    composed = compose_file("app.yaml")
    assert [file.display for file in composed.files] == [
        "app.yaml",
        "config/tables/branches.yaml",
        "config/tables/authors.yaml",
        "config/tables/books.yaml",
        "config/fields/isbn.yaml",
        "config/tables/members.json",
        "config/tables/loans.yaml",
        "config/theme.yaml",
    ]


def test_sql_is_made_from_the_resolved_tables() -> None:
    script = services.create_sql(EXAMPLES / "composed" / "app.yaml")
    assert any(s.startswith("CREATE TABLE public.books (") and '"position" integer' in s for s in script.statements)


def test_the_start_up_cache_keys_on_every_file_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = write(tmp_path, SHOP)
    checksum, first_table = _validate_and_cache(app)
    assert first_table == "items"
    assert _cached_schema(app, app.read_bytes()) == (checksum, "items")

    price = tmp_path / "config/fields/price.yaml"
    original = price.read_text()
    price.write_text(original.replace("precision: 2", "precision: 3"))
    assert _cached_schema(app, app.read_bytes()) is None, "an edit to a referenced file is a change"
    changed, _ = _validate_and_cache(app)
    assert changed != checksum
    assert _cached_schema(app, app.read_bytes()) == (changed, "items")

    price.write_text(original)
    assert _cached_schema(app, app.read_bytes()) is None
    price.unlink()
    assert _cached_schema(app, app.read_bytes()) is None, "a vanished file is a change"


def test_the_cache_is_per_top_level_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    one, two = write(tmp_path / "one", SHOP), write(tmp_path / "two", SHOP)
    (tmp_path / "two/config/fields/price.yaml").write_text("name: cost\ntype: integer\n")
    first, _ = _validate_and_cache(one)
    second, _ = _validate_and_cache(two)
    assert first != second
    assert _cached_schema(one, one.read_bytes()) == (first, "items")
    assert _cached_schema(two, two.read_bytes()) == (second, "items")
    assert os.path.isfile(".sovrium/cache/schema-checksums")


@pytest.mark.parametrize("first_table", [None, "items", "tâble"])
def test_a_cache_line_gives_back_what_was_written(first_table: str | None) -> None:
    files = (
        [] if first_table is None else ["/srv/app/config/a b.yaml", "/srv/ünï/x.yaml", os.fsdecode(b"/srv/\xff.yaml")]
    )
    line = _cache_line("k" * 64, "c" * 64, first_table, files, "d" * 64)
    assert " " not in line.split(" ", 4)[4] and "\n" not in line
    assert _cache_entry(line) == ("c" * 64, first_table, files, "d" * 64)


def test_problems_found_while_compiling_are_located_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "app.yaml": "name: app\ntables:\n  - $ref: ./t/a.yaml\n",
            "t/a.yaml": "name: a\nfields:\n  - name: tags\n    type: array\n    itemType: widget\n",
        },
    )
    with pytest.raises(SchemaInvalid) as caught:
        services.validate("app.yaml")
    assert caught.value.render() == "t/a.yaml:3: fields[0]: Unsupported array itemType: widget"
