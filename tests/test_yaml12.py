"""Schema files are read as Sovrium reads them: YAML 1.2 core schema, and numbers as JavaScript holds them."""

from __future__ import annotations

import json
import math
import textwrap

import pytest

from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.schema import app_checksum, app_from_document, app_snapshot, parse_app
from sovrium_tui.schema.load import parse_document


def value(text: str) -> object:
    """The value YAML `text` decodes to, read as the `v` of a schema file."""
    return parse_document(f"v: {text}\n", source="app.yaml").data["v"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML 1.1 booleans that YAML 1.2 reads as text
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("NO", "NO"),
        ("Yes", "Yes"),
        ("OFF", "OFF"),
        ("y", "y"),
        ("n", "n"),
        # the core schema's booleans and nulls
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("", None),
        # integers: decimal (a leading zero is still decimal), 0o octal, 0x hexadecimal
        ("42", 42),
        ("-17", -17),
        ("+3", 3),
        ("017", 17),
        ("0o17", 15),
        ("0x1F", 31),
        ("0x1f", 31),
        # floats, whole ones becoming integers as in JavaScript
        ("1e3", 1000),
        ("1.0", 1),
        ("-0.0", 0),
        ("2.5", 2.5),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.", 1),
        ("1.5e-3", 0.0015),
        ("1E+2", 100),
        # text in YAML 1.2 that YAML 1.1 read otherwise
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        ("2024-01-31", "2024-01-31"),
        ("2024-01-31 10:00:00", "2024-01-31 10:00:00"),
        ("=", "="),
        ("0o8", "0o8"),
        ("0xG", "0xG"),
        ("+0x1", "+0x1"),
        ("1e", "1e"),
        ("e3", "e3"),
        ("nan", "nan"),
        ("inf", "inf"),
    ],
)
def test_plain_scalars_read_as_yaml_1_2(text: str, expected: object) -> None:
    decoded = value(text)
    assert decoded == expected
    assert type(decoded) is type(expected)


def test_infinities_and_nan_are_numbers() -> None:
    assert value(".inf") == math.inf
    assert value("-.Inf") == -math.inf
    assert value("+.INF") == math.inf
    nan = value(".NaN")
    assert isinstance(nan, float) and math.isnan(nan)


def test_explicit_tags_follow_the_core_schema() -> None:
    assert value("!!int '0x10'") == 16
    assert value("!!float '1'") == 1
    assert value("!!bool 'true'") is True
    assert value("!!str 42") == "42"
    assert value("!!null ''") is None
    for text in ("!!bool yes", "!!int 0b11", "!!float 1_0", "!!null nothing"):
        with pytest.raises(SchemaInvalid) as caught:
            value(text)
        (problem,) = caught.value.problems
        assert problem.line == 1 and "in YAML 1.2" in problem.message, problem


def test_keys_are_read_the_same_way() -> None:
    data = parse_document("yes: 1\nno: 2\non: 3\n", source="app.yaml").data
    assert data == {"yes": 1, "no": 2, "on": 3}


SCHEMA = textwrap.dedent("""\
    name: app
    tables:
      - name: places
        fields:
          - {name: country, type: single-select, options: [NO, SE, DK], default: NO}
          - {name: answer, type: single-select, options: [yes, no, maybe]}
          - {name: flags, type: multi-select, options: [on, off]}
          - {name: score, type: decimal, min: 1e3, max: 1e4, default: 1.5e3}
          - {name: mode, type: integer, max: 0o17, default: 0x0A}
          - {name: ratio, type: percentage, precision: 2.0}
    """)


def test_country_codes_and_yes_no_options_are_text() -> None:
    country, answer, flags, score, mode, ratio = parse_app(SCHEMA).tables[0].fields
    assert (country.options, country.default) == (("NO", "SE", "DK"), "NO")
    assert answer.options == ("yes", "no", "maybe")
    assert flags.options == ("on", "off")
    assert (score.min, score.max, score.default) == (1000, 10000, 1500)
    assert (mode.max, mode.default) == (15, 10)
    assert ratio.precision == 2  # a whole number written as 2.0 is an integer to JavaScript


def test_the_document_holds_numbers_as_javascript_prints_them() -> None:
    app = parse_app(SCHEMA)
    fields = json.loads(app.document)[0]["fields"]
    assert [fields[3][key] for key in ("min", "max", "default")] == [1000, 10000, 1500]
    assert '"min":1000,' in app.document and "1000.0" not in app.document
    assert app_from_document(app_snapshot(app)) == app


def test_yaml_and_the_json_sovrium_would_read_have_one_checksum() -> None:
    # What a YAML 1.2 reader (Sovrium's) decodes SCHEMA to, written as JSON by hand.
    as_json = json.dumps(
        {
            "name": "app",
            "tables": [
                {
                    "name": "places",
                    "fields": [
                        {"name": "country", "type": "single-select", "options": ["NO", "SE", "DK"], "default": "NO"},
                        {"name": "answer", "type": "single-select", "options": ["yes", "no", "maybe"]},
                        {"name": "flags", "type": "multi-select", "options": ["on", "off"]},
                        {"name": "score", "type": "decimal", "min": 1000, "max": 10000, "default": 1500},
                        {"name": "mode", "type": "integer", "max": 15, "default": 10},
                        {"name": "ratio", "type": "percentage", "precision": 2},
                    ],
                }
            ],
        }
    )
    from_yaml, from_json = parse_app(SCHEMA), parse_app(as_json, source="app.json")
    assert from_yaml == from_json
    assert app_checksum(from_yaml) == app_checksum(from_json)


def test_json_files_take_numbers_as_javascript_does() -> None:
    app = parse_app(
        '{"name": "app", "tables": [{"name": "t", "fields": [{"name": "p", "type": "decimal", "precision": 2.0}]}]}',
        source="app.json",
    )
    assert app.tables[0].fields[0].precision == 2
