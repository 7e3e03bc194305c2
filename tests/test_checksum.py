"""The schema checksum and the canonical document: Sovrium parity, stability and sensitivity."""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sovrium_tui.schema import app_checksum, app_from_document, app_snapshot, load_app, parse_app
from sovrium_tui.schema.checksum import canonical_tables_json, checksum_of_tables, compact_tables_json
from sovrium_tui.schema.model import physical_table_name
from sovrium_tui.schema.names import RESERVED_WORDS
from tests.acceptance_support import yaml_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
Doc = dict[str, Any]


def test_canonical_json_is_sorted_pretty_and_raw_utf8() -> None:
    tables = [{"name": "café", "id": 1, "fields": [{"type": "integer", "name": "a", "options": []}]}]
    assert canonical_tables_json(tables) == (
        "[\n"
        "  {\n"
        '    "fields": [\n'
        "      {\n"
        '        "name": "a",\n'
        '        "options": [],\n'
        '        "type": "integer"\n'
        "      }\n"
        "    ],\n"
        '    "id": 1,\n'
        '    "name": "café"\n'
        "  }\n"
        "]"
    )


def test_checksum_is_sha256_hex_of_the_canonical_text() -> None:
    assert checksum_of_tables([]) == "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
    tables = [{"name": "ü", "id": 1}]
    expected = hashlib.sha256(canonical_tables_json(tables).encode("utf-8")).hexdigest()
    assert checksum_of_tables(tables) == expected


def test_document_is_the_compact_decoded_tables() -> None:
    app = parse_app(
        "name: app\n"
        "tables:\n"
        "  - name: users\n"
        "    fields:\n"
        "      - {name: ok, type: boolean, required: false}\n"
        "      - {name: boss, type: relationship, relatedTable: users, onDelete: set null}\n"
    )
    assert app.document == (
        '[{"fields":[{"id":1,"name":"ok","required":false,"type":"boolean"},'
        '{"id":2,"name":"boss","onDelete":"set null","relatedTable":"users",'
        '"relationType":"many-to-one","type":"relationship"}],"id":1,"name":"users"}]'
    )
    assert app.document == compact_tables_json(json.loads(app.document))
    assert app_checksum(app) == checksum_of_tables(json.loads(app.document))


def test_assigned_ids_checksum_like_written_ones() -> None:
    implicit = parse_app("name: app\ntables: [{name: t, fields: [{name: a, type: integer}]}]\n")
    explicit = parse_app("name: app\ntables: [{id: 1, name: t, fields: [{id: 1, name: a, type: integer}]}]\n")
    assert app_checksum(implicit) == app_checksum(explicit)


def test_the_app_name_and_other_top_level_keys_are_not_checksummed() -> None:
    one = parse_app("name: one\ntables: [{name: t, fields: [{name: a, type: integer}]}]\n")
    two = parse_app("name: two\ntheme: {}\nauth: {}\ntables: [{name: t, fields: [{name: a, type: integer}]}]\n")
    assert app_checksum(one) == app_checksum(two)


def test_snapshot_round_trips_the_crm_example() -> None:
    app = load_app(EXAMPLES / "crm.yaml")
    rebuilt = app_from_document(app_snapshot(app))
    assert rebuilt == app
    assert rebuilt.document == app.document
    assert app_from_document(json.loads(json.dumps(app_snapshot(app)))) == app


def test_snapshot_keeps_auth() -> None:
    app = parse_app("name: app\nauth: {providers: [email]}\n")
    assert app_snapshot(app) == {"name": "app", "tables": [], "auth": {}}
    assert app_from_document(app_snapshot(app)) == app


# ---------------------------------------------------------------------------------------------------------------
# Property tests

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    # a table's name is refused when its physical form is a reserved word too ("as_" is "as")
    lambda name: {name, physical_table_name(name)}.isdisjoint(RESERVED_WORDS) and not name.startswith("idx")
)
OPTION_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12).filter(
    str.strip
)


@st.composite
def field_docs(draw: st.DrawFn, name: str) -> Doc:
    kind = draw(st.sampled_from(["single-line-text", "integer", "checkbox", "single-select", "decimal", "date"]))
    field: Doc = {"name": name, "type": kind}
    for flag in ("required", "unique", "indexed"):
        if draw(st.booleans()):
            field[flag] = draw(st.booleans())
    if kind == "integer" and draw(st.booleans()):
        low = draw(st.integers(-1000, 1000))
        field.update(min=low, max=low + draw(st.integers(0, 1000)))
    if kind == "decimal" and draw(st.booleans()):
        field["precision"] = draw(st.integers(1, 10))
    if kind == "single-select":
        field["options"] = draw(st.lists(OPTION_TEXT, min_size=1, max_size=4, unique=True))
    if kind == "checkbox" and draw(st.booleans()):
        field["default"] = draw(st.booleans())
    return field


@st.composite
def schemas(draw: st.DrawFn) -> Doc:
    tables = []
    # Unique as Sovrium stores them too (`a` and `a_` are both table `a`, which the validator refuses).
    table_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique_by=physical_table_name))
    for index, table_name in enumerate(table_names):
        field_names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
        table: Doc = {"name": table_name, "fields": [draw(field_docs(name)) for name in field_names]}
        if draw(st.booleans()):
            table["id"] = index + 1
        if draw(st.booleans()):
            table["indexes"] = [{"name": f"idx_{table_name}", "fields": [field_names[0]]}]
        if draw(st.booleans()):
            table["allowDestructive"] = draw(st.booleans())
        tables.append(table)
    return {"name": "app", "tables": tables}


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same data with every mapping's keys in a random order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


@settings(max_examples=60, deadline=None)
@given(schemas(), st.randoms(use_true_random=False))
def test_checksum_is_the_same_for_yaml_json_and_any_key_order(doc: Doc, rng: random.Random) -> None:
    from_yaml = parse_app(yaml_text(shuffled(doc, rng)), source="app.yaml")
    from_json = parse_app(json.dumps(shuffled(doc, rng)), source="app.json")
    assert app_checksum(from_yaml) == app_checksum(from_json)
    assert from_yaml == from_json
    assert app_from_document(app_snapshot(from_yaml)) == from_yaml


def _toggle_required(table: Doc) -> None:
    table["fields"][0]["required"] = not table["fields"][0].get("required", False)


def _toggle_unique(table: Doc) -> None:
    table["fields"][-1]["unique"] = not table["fields"][-1].get("unique", False)


def _add_field(table: Doc) -> None:
    taken = {field["name"] for field in table["fields"]}
    table["fields"].append({"name": next(f"new_{n}" for n in range(99) if f"new_{n}" not in taken), "type": "url"})


def _change_type(table: Doc) -> None:
    field = table["fields"][0]
    for key in ("min", "max", "precision", "options", "default"):
        field.pop(key, None)
    field["type"] = "long-text" if field["type"] != "long-text" else "email"


def _toggle_index(table: Doc) -> None:
    if table.pop("indexes", None) is None:
        table["indexes"] = [{"name": f"idx_{table['name']}", "fields": [table["fields"][0]["name"]]}]


def _add_option_or_flag(table: Doc) -> None:
    select = next((f for f in table["fields"] if f["type"] == "single-select"), None)
    if select is None:
        table["allowDestructive"] = not table.get("allowDestructive", False)
    else:
        select["options"] = [*select["options"], "brand new option"]


def _rename_table(table: Doc) -> None:
    # Generated names have at most 13 characters, so this one is new.
    table["name"] = table["name"] + "_renamed_table"
    for index in table.get("indexes", []):
        index["name"] = index["name"] + "_renamed_table"


MUTATIONS: list[Callable[[Doc], None]] = [
    _toggle_required,
    _toggle_unique,
    _add_field,
    _change_type,
    _toggle_index,
    _add_option_or_flag,
    _rename_table,
]


@settings(max_examples=80, deadline=None)
@given(schemas(), st.sampled_from(MUTATIONS), st.data())
def test_any_change_to_a_table_changes_the_checksum(
    doc: Doc, mutation: Callable[[Doc], None], data: st.DataObject
) -> None:
    changed = copy.deepcopy(doc)
    target = data.draw(st.sampled_from(changed["tables"]))
    mutation(target)
    before = app_checksum(app_from_document(doc))
    after = app_checksum(app_from_document(changed))
    assert before != after
