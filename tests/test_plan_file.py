"""Plan files: deterministic YAML, strict reading, digests that catch edits, SQL checked before use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sovrium_tui.errors import PlanEdited, PlanInvalid
from sovrium_tui.planning.plan import (
    Plan,
    Step,
    canonical_json,
    dump_plan,
    load_plan,
    parse_plan,
    rewrite_digest,
    write_plan,
)
from sovrium_tui.planning.plan_yaml import dump_document
from sovrium_tui.schema.checksum import checksum_of_tables

TABLES: list[object] = [{"id": 1, "name": "customers", "fields": [{"id": 1, "name": "phone", "type": "phone-number"}]}]

CREATE = "CREATE TABLE public.customers (\n    id serial NOT NULL,\n    phone character varying(255)\n)"


def sample_plan() -> Plan:
    import json

    return Plan(
        version=1,
        app="crm",
        from_version=0,
        from_checksum=None,
        to_checksum=checksum_of_tables(TABLES),
        created_at="2026-11-24T10:00:00Z",
        summary="new table customers",
        steps=(
            Step(
                1,
                "create_table",
                "customers",
                "create table customers (2 columns)",
                (),
                (CREATE,),
                ("DROP TABLE public.customers",),
            ),
            Step(
                2,
                "add_column",
                "customers.note",
                "add column customers.note (text)",
                (),
                ("ALTER TABLE public.customers ADD COLUMN note text",),
                ("ALTER TABLE public.customers DROP COLUMN note",),
            ),
        ),
        schema=json.dumps({"name": "crm", "tables": TABLES}, sort_keys=True, separators=(",", ":")),
    ).with_digest()


def test_a_plan_survives_a_round_trip_through_yaml() -> None:
    plan = sample_plan()
    assert parse_plan(dump_plan(plan), source="p.yaml") == plan


def test_the_same_plan_is_written_as_the_same_bytes() -> None:
    assert dump_plan(sample_plan()) == dump_plan(sample_plan())


def test_multi_line_sql_is_a_block_string_and_the_header_says_how_to_apply() -> None:
    text = dump_plan(sample_plan(), file_name="0001_new_table_customers.yaml")
    assert "- |-\n" in text and "    id serial NOT NULL," in text
    assert text.startswith("# Sovrium migration plan 0001 for app 'crm'")
    assert "sovrium apply plans/0001_new_table_customers.yaml" in text


def test_an_edited_step_is_refused_until_rehashed(tmp_path: Path) -> None:
    path = write_plan(sample_plan(), tmp_path, "new_table_customers")
    text = path.read_text()
    path.write_text(text.replace("ADD COLUMN note text", "ADD COLUMN note varchar(10)") + "# reviewed\n")
    with pytest.raises(PlanEdited, match=r"digest mismatch.*sovrium plan --rehash"):
        load_plan(path)
    edited = load_plan(path, check_digest=False)
    rewrite_digest(path, edited.with_digest().digest)
    assert load_plan(path).steps[1].forward == ("ALTER TABLE public.customers ADD COLUMN note varchar(10)",)
    assert path.read_text().endswith("# reviewed\n"), "re-hashing keeps the reviewer's text"


def test_a_hand_written_sql_step_is_accepted_after_rehash(tmp_path: Path) -> None:
    plan = sample_plan()
    backfill = Step(3, "sql", "customers.note", "backfill notes", (), ("UPDATE public.customers SET note = 'n/a'",), ())
    path = write_plan(replace(plan, steps=(*plan.steps, backfill)), tmp_path, "x")
    with pytest.raises(PlanEdited):
        load_plan(path)
    rewrite_digest(path, load_plan(path, check_digest=False).with_digest().digest)
    assert load_plan(path).steps[2].op == "sql"


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("ALTER TABLE public.customers ADD COLUM note text", r"does not parse as PostgreSQL"),
        ("SELEC * FROM customers", r"does not parse as PostgreSQL"),
        ("DROP TABLE a; DROP TABLE b", r"more than one statement in one item"),
        ("UPDATE customers SET note = 'unterminated", r"does not parse as PostgreSQL: unterminated quoted string"),
    ],
)
def test_unparseable_sql_is_refused_with_its_step(statement: str, reason: str) -> None:
    plan = sample_plan()
    broken = replace(plan.steps[1], forward=(statement,))
    edited = dump_plan(replace(plan, steps=(plan.steps[0], broken)))  # the digest no longer matches: re-read all
    with pytest.raises(PlanInvalid, match=rf"step 2 forward statement 1: {reason}"):
        parse_plan(edited, source="p.yaml", check_digest=False)
    hand_written = dump_plan(replace(plan, steps=(plan.steps[0], replace(broken, op="sql"))).with_digest())
    with pytest.raises(PlanInvalid, match=rf"step 2 forward statement 1: {reason}"):
        parse_plan(hand_written, source="p.yaml")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("sovrium_plan: 1", "sovrium_plan: 9"), r"unsupported plan format 9"),
        (lambda t: t.replace("app: crm", "app: crm\nsurprise: true"), r"unknown key 'surprise'"),
        (lambda t: t.replace("version: 1\n", "version: one\n", 1), r"version: expected a whole number"),
        (lambda t: t.replace("  hazards: []", "  hazards: [spicy]", 1), r"unknown hazard 'spicy'"),
        (lambda t: t.replace('"name":"phone"', '"name":"fax"'), r"schema snapshot does not match to.checksum"),
        (lambda t: t.replace("- id: 2", "- id: 7"), r"step ids must run 1, 2, 3"),
        (lambda t: t.replace("- id: 2", "- id: true"), r"steps\[1\]\.id: expected a whole number"),
        (lambda t: t.replace("  op: add_column", "  op: add_column\n  extra: 1"), r"unknown key 'extra'"),
        (
            lambda t: t.replace("  summary: add column customers.note (text)", "  summary: ''"),
            r"summary: expected text",
        ),
        (lambda t: t.replace("  target: customers.note", "  target: 12"), r"target: expected text"),
        (lambda t: t.replace("  - ALTER TABLE public.customers ADD COLUMN note text", "  - ' '"), r"forward: expected"),
        (lambda t: t.replace("  - ALTER TABLE public.customers ADD COLUMN note text", "  - 3"), r"forward: expected"),
        (lambda t: t.replace("  - ALTER TABLE public.customers DROP COLUMN note", "  - null"), r"reverse: expected"),
        (lambda t: t.replace("  hazards: []", "  hazards: {}", 1), r"hazards: expected"),
        (
            lambda t: t.replace("  - ALTER TABLE public.customers ADD COLUMN note text\n", "").replace(
                "  forward:\n  reverse", "  forward: []\n  reverse"
            ),
            r"steps\[1\]\.forward: expected at least one statement",
        ),
        (lambda t: "just a string\n", r"must be a YAML mapping"),
        (lambda t: t.replace("  op: add_column", "  op: frobnicate", 1), r"steps\[1\]\.op: unknown op 'frobnicate'"),
    ],
)
def test_malformed_plans_are_refused_with_where(edit: object, message: str) -> None:
    text = edit(dump_plan(sample_plan()))  # type: ignore[operator]
    with pytest.raises(PlanInvalid, match=message):
        parse_plan(text, source="p.yaml")


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan("version: 1\nsteps: [\n  - : :\n", source="p.yaml")
    assert caught.value.location is not None and caught.value.location.startswith("p.yaml:")
    with pytest.raises(PlanInvalid, match="duplicate") as caught:
        parse_plan("version: 1\napp: a\nversion: 2\n", source="p.yaml")
    assert caught.value.location == "p.yaml:3"


def test_unreadable_plan_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PlanInvalid, match="Plan file not found"):
        load_plan(tmp_path / "0001_missing.yaml")


def test_every_op_the_planner_writes_is_one_a_plan_file_may_hold() -> None:
    from typing import get_args

    from sovrium_tui.planning.changes import Change
    from sovrium_tui.planning.plan import GENERATED_OPS

    assert {kind.op for kind in get_args(Change)} == GENERATED_OPS


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(min_size=1), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1), _JSON, min_size=1))
def test_any_plan_shaped_data_is_written_so_yaml_1_1_and_1_2_readers_read_it_back(document: dict[str, object]) -> None:
    import yaml_rs

    text = dump_document(document)
    assert yaml_rs.loads(text, parse_datetime=False) == document
    assert yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == document
    assert dump_document(document) == text


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1),
        st.lists(_JSON, max_size=9) | st.dictionaries(st.text(min_size=1), st.lists(_JSON, max_size=9), max_size=3),
        min_size=1,
    )
)
def test_long_sequences_written_a_few_items_at_a_time_read_back_the_same(document: dict[str, object]) -> None:
    import yaml_rs

    from sovrium_tui.planning import plan_yaml

    whole = dump_document(document)
    with mock.patch.object(plan_yaml, "_CHUNK_ITEMS", 2):
        pieces = list(plan_yaml.document_chunks(document))
    assert "".join(pieces) == whole
    assert all(piece.endswith("\n") for piece in pieces)
    assert yaml_rs.loads(whole, parse_datetime=False) == document


_STEPS = st.lists(
    st.builds(
        Step,
        id=st.integers(1, 10**6),
        op=st.text(),
        target=st.text(),
        summary=st.text(),
        hazards=st.lists(st.text(), max_size=2).map(tuple),
        forward=st.lists(
            st.text() | st.sampled_from(["CREATE TABLE t (\n  a int\n)", " x\n", "a\r\nb", "\n"]), max_size=3
        ).map(tuple),
        reverse=st.lists(st.text(), max_size=3).map(tuple),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(_STEPS)
def test_steps_written_directly_are_the_bytes_of_the_general_writer(steps: list[Step]) -> None:
    from sovrium_tui.planning import plan_yaml

    general = dump_document({"steps": [step.to_json() for step in steps]})
    with mock.patch.object(plan_yaml, "_CHUNK_ITEMS", 2):
        pieces = list(plan_yaml.steps_chunks(steps))
    assert "".join(pieces) == general
    assert all(piece.endswith("\n") for piece in pieces)


_PLAIN_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=20,
)


def _with_snapshot_text(snapshot_text: str) -> str:
    return f"version: 1\nsteps:\n- id: 1\n  forward: [SELECT 1]\ndigest: sha256:x\nschema: {snapshot_text}\n"


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), _PLAIN_JSON | st.lists(_PLAIN_JSON, max_size=4)))
@example({"tables": [{"fields": [{"id": 1, "name": "a\u2028b\x7f"}], "id": 1, "name": "t"}]})
@example({"tables": [{"fields": [{"name": "x", "type": "decimal", "min": 0.5}]}]})
@example({"tables": [{"fields": [{"max": 2**70}]}]})
def test_the_schema_snapshot_laid_out_as_json_reads_back_the_same_by_every_reader(snapshot: dict[str, object]) -> None:
    import yaml_rs

    from sovrium_tui.planning.plan_yaml import _with_snapshot, load_document, snapshot_text

    laid_out = snapshot_text(snapshot)
    if laid_out is None:  # only what the layout cannot write exactly takes the block YAML form
        text = json.dumps(snapshot, ensure_ascii=False)
        assert (
            re.search("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|\\\\ud[89a-f]", text)  # not YAML-printable
            or re.search(r"[:,\[] ?-?[0-9]+[.eE]", text)  # a fraction (or text that looks like one after `:`)
            or max((abs(number) for number in _integers(snapshot)), default=0) >= 2**63
        ), text
        return
    document = _with_snapshot_text(laid_out)
    expected = {"version": 1, "steps": [{"id": 1, "forward": ["SELECT 1"]}], "digest": "sha256:x", "schema": snapshot}
    assert yaml_rs.loads(document, parse_datetime=False) == expected
    assert yaml.load(document, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == expected
    assert _with_snapshot(document) == expected  # read by the quick path
    assert load_document(document, source="p.yaml") == expected
    assert all(line.startswith(" ") for line in laid_out.splitlines()[1:]), "YAML flow lines must be indented"


def _integers(value: object) -> Iterator[int]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _integers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _integers(item)


def test_a_plan_file_lists_one_field_per_line_in_its_schema() -> None:
    text = dump_plan(sample_plan())
    snapshot = text[text.index("\nschema: ") + 1 :]
    assert snapshot.splitlines()[:2] == ["schema: {", '    "name": "crm",']
    assert '          {"id":1,"name":"phone","type":"phone-number"}' in snapshot.splitlines()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s.replace('"name": "crm"', '"name":  "crm"'), "crm"),  # reformatted by hand: read as YAML
        (lambda s: s.replace('"name": "crm"', '"name": "crm", "name": "shop"'), "duplicate"),
        (lambda s: s.replace('{"id":1,"name":"phone"', '{"id": 1, "name": "phone"'), "crm"),
        (lambda s: s + "# a comment at the end\n", "crm"),
    ],
)
def test_a_hand_edited_schema_snapshot_is_read_as_yaml(edit: object, expected: str) -> None:
    from sovrium_tui.planning.plan_yaml import _with_snapshot, load_document

    text = edit(dump_plan(sample_plan()))  # type: ignore[operator]
    assert _with_snapshot(text) is None
    if expected == "duplicate":
        with pytest.raises(PlanInvalid, match="duplicate"):
            load_document(text, source="p.yaml")
    else:
        document = load_document(text, source="p.yaml")
        assert isinstance(document, dict) and document["schema"]["name"] == expected


def test_a_plan_that_fails_while_being_written_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sovrium_tui.planning import plan as plan_module

    def broken_chunks(plan: Plan, **_: object) -> Iterator[str]:
        yield "# the first part\n"
        raise OSError("disk full")

    monkeypatch.setattr(plan_module, "plan_chunks", broken_chunks)
    with pytest.raises(PlanInvalid, match="cannot write the plan file: disk full"):
        write_plan(sample_plan(), tmp_path, "new_table_customers")
    assert list(tmp_path.iterdir()) == [], "neither the plan nor a partial file is left behind"


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=3),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=3) | st.sampled_from([":null", ",1.5", "[2e3"]), children, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=500, deadline=None)
@given(_JSON_VALUES)
@example([float("nan")])
@example({"a": [float("-inf"), 1e16, 1.5, -0.0]})
@example({"a": None, "b": 2**70, "c": "\ud800"})
@example({"é": 1, "\U00010000": 2, "\uffff": 3})
def test_canonical_json_is_the_standard_librarys_sorted_compact_text(value: object) -> None:
    """The fast path (orjson) is taken only where it writes the standard library's text: NaN, fractions, huge
    integers, lone surrogates and bare values all come out as `json.dumps` writes them."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=12) | st.from_regex(r"[A-Za-z][ -~]{0,20}"))
@example("a: b")
@example("a #b")
@example("a  b")
@example("ab:")
@example("ab ")
@example("a:b#c d")
@example("_ab")
@example("a\tb")
@example("a\x7fb")
def test_ascii_text_is_written_plain_exactly_when_the_plain_pattern_allows(text: str) -> None:
    from sovrium_tui.planning import plan_yaml

    by_pattern = plan_yaml._PLAIN.fullmatch(text) is not None
    assert plan_yaml._plain(text) == (by_pattern and (len(text) > 5 or text.lower() not in plan_yaml._WORDS))
