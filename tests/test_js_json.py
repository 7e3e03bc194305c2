"""JSON text as JavaScript prints it, checked against outputs of Node.js (v20) recorded here."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sovrium_tui.schema.checksum import canonical_tables_json, checksum_of_tables, compact_tables_json
from sovrium_tui.schema.js_json import _Writer, number_text, read_json, sorted_keys, stringify


@pytest.mark.parametrize(
    ("number", "javascript"),
    [
        # JSON.stringify(x) in Node.js for each x
        (1e3, "1000"),
        (1.0, "1"),
        (-0.0, "0"),
        (0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.25e22, "1.25e+22"),
        (0.0000001, "1e-7"),
        (0.000001, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (0.000001234, "0.000001234"),
        (123e-20, "1.23e-18"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-1e-300, "-1e-300"),
        (2.0**53, "9007199254740992"),
        (1234.5678, "1234.5678"),
        (1e15, "1000000000000000"),
        (-2.5, "-2.5"),
        (float("inf"), "null"),
        (float("nan"), "null"),
        # integers: exact up to 2**53, then the double JavaScript would hold
        (2**53, "9007199254740992"),
        (2**53 + 1, "9007199254740992"),
        (12345678901234567890, "12345678901234567000"),
        (10**21, "1e+21"),
        (-(10**22), "-1e+22"),
        (10**400, "null"),
        (-7, "-7"),
    ],
)
def test_numbers_print_as_in_javascript(number: float, javascript: str) -> None:
    assert number_text(number) == javascript


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(TypeError):
        number_text(True)


def test_keys_sort_as_javascript_orders_them() -> None:
    # Object.keys(sorted object) in Node.js: array indexes first, numerically; then UTF-16 code unit order.
    keys = ["b", "10", "2", "a", "01", "4294967295", "4294967294", "é", "\U0001f600", "\uffff", ""]
    assert sorted_keys(keys) == ["2", "10", "4294967294", "", "01", "4294967295", "a", "b", "é", "\U0001f600", "\uffff"]


def test_stringify_matches_json_stringify_with_an_indent() -> None:
    document = {"b": [1.0, -0.0, 1e-7, 'x"\\\n\x01\u2028', None, True, {}], "10": 2, "a": {"2": [], "1": "y"}}
    # JSON.stringify(sortObjectKeys(document), null, 2) in Node.js
    assert stringify(document, indent=2, sort_keys=True) == (
        "{\n"
        '  "10": 2,\n'
        '  "a": {\n'
        '    "1": "y",\n'
        '    "2": []\n'
        "  },\n"
        '  "b": [\n'
        "    1,\n"
        "    0,\n"
        "    1e-7,\n"
        '    "x\\"\\\\\\n\\u0001\u2028",\n'
        "    null,\n"
        "    true,\n"
        "    {}\n"
        "  ]\n"
        "}"
    )
    assert stringify(document, sort_keys=True) == (
        '{"10":2,"a":{"1":"y","2":[]},"b":[1,0,1e-7,"x\\"\\\\\\n\\u0001\u2028",null,true,{}]}'
    )
    assert stringify({"b": 1, "a": 2}) == '{"b":1,"a":2}'


def test_the_checksum_of_floats_is_sovriums() -> None:
    tables = [{"id": 1, "name": "t", "fields": [{"id": 1, "name": "p", "type": "decimal", "min": 1e-7, "max": 1e21}]}]
    text = canonical_tables_json(tables)
    assert '"max": 1e+21' in text and '"min": 1e-7' in text
    # sha256(JSON.stringify(sortObjectKeys(tables), undefined, 2)) computed with Node.js
    assert checksum_of_tables(tables) == "60f45b8860e31b91700696581aef21b40b67e5be223fa331c9edded28df64f79"


PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(st.lists(PLAIN, max_size=4))
def test_the_fast_compact_text_is_the_written_one(tables: list[object]) -> None:
    parts: list[str] = []
    _Writer(parts, "", sort_keys=True).write(tables, "")
    assert compact_tables_json(tables) == "".join(parts)
    assert json.loads(compact_tables_json(tables)) == json.loads(canonical_tables_json(tables))


_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=16,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_DOCUMENTS, max_size=3) | st.dictionaries(st.text(), _DOCUMENTS, max_size=3))
# Each clue the pre-check looks for, with and without the number or key that needs JavaScript's rules:
@example({"10": 1, "b": 2, "2": 3, "01": 4})  # index keys sort first, numerically ("01" is not one)
@example([{"t1": "v1.2e5", "x": "2E3", "n": "1234567890123456"}])  # clues inside text only
@example([1.5, 1e21, 1e-7, -0.0])  # fractions and exponents
@example([2**53 - 1, 2**53, -(2**53), 10**15, 10**16, -(10**17)])  # around the largest safe integer
def test_the_fast_encoder_is_used_only_where_it_prints_javascripts_text(document: object) -> None:
    for indent, newline in ((None, ""), (2, "\n")):
        parts: list[str] = []
        _Writer(parts, " " * (indent or 0), True).write(document, newline)
        assert stringify(document, indent=indent, sort_keys=True) == "".join(parts)


def _typed(value: object) -> object:
    """The value with every number tagged by its type: 1 and 1.0 (and 10**20 and 1e20) are not the same reading."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, "nan" if isinstance(value, float) and math.isnan(value) else value)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
@example([10**20, 2**64, 2**64 - 1, -(2**63) - 1, 123456789012345678])  # orjson would read some as floats
@example({"nan": math.nan, "inf": [math.inf, -math.inf], "tiny": 5e-324, "zero": -0.0})
@example(["\ud800", "a\x00b", "\U0001f600"])  # a lone surrogate orjson refuses; the standard library reads it
def test_read_json_reads_what_json_loads_reads(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert _typed(read_json(text)) == _typed(json.loads(text))
    assert _typed(read_json(json.dumps(value))) == _typed(json.loads(json.dumps(value)))
