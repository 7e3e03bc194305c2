"""Schema files are read with yaml-rs when nothing in them could be read differently from YAML 1.2's core schema.

The PyYAML path implements the core schema exactly (see test_yaml12.py); yaml-rs is ten times faster but reads
some text as numbers (`1_000`, `0b11`, `0X1F` …). Whatever the fast path accepts must equal the full path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.schema import load

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

_NUMBERISH = st.text(alphabet="0123456789_.+-eExXoObBaAfF:", min_size=1, max_size=8) | st.sampled_from(
    ["0o17", "0x1F", "0b11", "1e3", ".inf", "-.inf", ".NaN", "~", "null", "True", "yes", "NO", "2024-01-01"]
)


def _both(text: str) -> tuple[object, object]:
    fast = load._parse_yaml_fast(text)
    try:
        full: object = load._parse_yaml_fully(text, "x.yaml")[0]
    except Exception as failure:
        full = failure
    return fast, full


@settings(max_examples=3000, deadline=None)
@given(_NUMBERISH, st.sampled_from(["k: {}\n", "- [{}, x]\n", "k:\n  - {}\n"]))
@example("1_000", "k: {}\n")
@example("__1", "k: {}\n")
@example("0X1F", "k: {}\n")
@example("+0o17", "k: {}\n")
def test_what_the_fast_path_reads_equals_the_core_schema(scalar: str, shape: str) -> None:
    text = shape.format(scalar)
    if load._NEEDS_PYYAML.search(text):
        return
    fast, full = _both(text)
    if fast is load._UNREAD or isinstance(full, Exception):
        return  # refused, or YAML 1.2 syntax PyYAML's 1.1 grammar refuses (`[:0]`): nothing read differently
    assert repr(fast) == repr(full), text


def test_the_example_schemas_read_the_same_on_both_paths() -> None:
    files = sorted(EXAMPLES.rglob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        fast, full = _both(text)
        assert fast is load._UNREAD or fast == full, path


def test_anything_that_could_differ_takes_the_full_path() -> None:
    for text in ("a: &x 1\nb: *x\n", "a: !!str 1\n", "<<: {a: 1}\n", "a: 1\n---\nb: 2\n", "a: 1_000\n", "a: 0b1\n"):
        assert load._NEEDS_PYYAML.search(text), text


def test_a_hex_looking_scalar_with_an_underscore_is_text_as_the_core_schema_says() -> None:
    # yaml-rs reads `0xa_b` as 171; the quick question once missed it (no digit next to the underscore).
    assert load.needs_pyyaml("k: 0xa_b\n")
    assert load._parse_yaml("k: 0xa_b\n", "x.yaml")[0] == {"k": "0xa_b"}


def test_multiplication_and_comparison_in_formulas_and_checks_stay_on_the_fast_path() -> None:
    for text in ("f: price * quantity\n", "w: count(*) > 0\n", 'c: "a != b"\n', "c: a*b\n"):
        assert load._NEEDS_PYYAML.search(text) is None, text


def test_errors_are_reported_by_the_full_path_with_their_line() -> None:
    with pytest.raises(SchemaInvalid) as caught:
        load.parse_document("name: a\nname: b\n", source="app.yaml")
    assert caught.value.problems[0].line == 2


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="*&!<>=_.+-0123456789bBxXoOeE:?,[]{}#'\" \n\rak", max_size=60))
@example("a: 1\n---\nb: 2\n")
@example("x: [\n  1_000]\n")
@example("f: a * b\ng: *anchor\n")
@example("k: v\n_1: 2")
def test_the_quick_line_by_line_question_agrees_with_the_pattern_over_the_whole_text(text: str) -> None:
    last_line = text.rstrip()[text.rstrip().rfind("\n") + 1 :]
    slowly = (
        load._NEEDS_PYYAML.search(text) is not None
        or load._ODD_CHARACTERS.search(text) is not None
        or load._EMPTY_BLOCK_AT_END.search(last_line) is not None
    )
    assert load.needs_pyyaml(text) == slowly, text


# Found by a fuzzer: text yaml-rs reads differently from the full path, so that an anchor anywhere else in the
# file (which sends it to the full path) changed what the schema said.
READ_DIFFERENTLY = [
    "a: |\n",  # an empty block scalar at the end: "\n" to yaml-rs, "" to the full path
    "a: >\n\n",
    "a: |+\n",
    "x:\n  a: |2\n",
    "a: [?x]\n",  # a flow key to the full path, the text "?x" to yaml-rs
    "a: ! 0\n",  # a non-specific tag: 0 to the full path, "0" to yaml-rs
    "a: TRUE\x85\n",  # NEL: a line break to YAML 1.1 (so `true`), text to yaml-rs
    "a: x\u2028y\n",
    "a: x\x80y\n",
    "a: x\x0by\n",
    "a: x\x7fy\n",
    "a: x\n\ufeffb: y\n",
    "a:\n- \tyes\n",
]


@pytest.mark.parametrize("text", READ_DIFFERENTLY)
def test_text_the_two_readers_take_differently_is_read_by_the_full_path_wherever_it_is(text: str) -> None:
    assert load.needs_pyyaml(text)
    anchored = "z: &unrelated 1\n" + text
    outcomes = []
    for document in (text, anchored):
        try:
            value = load.parse_document(document, source="app.yaml").data
            outcomes.append(
                repr({k: v for k, v in value.items() if k != "z"}) if isinstance(value, dict) else repr(value)
            )
        except SchemaInvalid as refused:
            outcomes.append("refused: " + refused.problems[0].message.splitlines()[0])
    assert outcomes[0] == outcomes[1]
