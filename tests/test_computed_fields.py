"""Computed fields without a database: bad formulas and references refused where they are written, and the
SQL each formula, lookup, rollup and view becomes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovrium_tui.catalog import compile_app
from sovrium_tui.catalog.formula import formula_kinds, translate
from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.schema import parse_app

HEAD = """name: shop
tables:
  - id: 1
    name: items
    fields:
      - {id: 1, name: price, type: decimal}
      - {id: 2, name: qty, type: integer}
      - {id: 3, name: due, type: date}
"""


def problems(extra: str, tail: str = "") -> list[tuple[str, int | None, str]]:
    with pytest.raises(SchemaInvalid) as raised:
        parse_app(HEAD + extra + tail, source="app.yaml")
    return [(p.path, p.line, p.message) for p in raised.value.problems]


FORMULA = "      - {{id: 9, name: total, type: formula, formula: {!r}}}\n"

BAD_FORMULAS = [
    ("prise * qty", r'references unknown field "prise" \(did you mean \'price\'\?\)'),
    ("(SELECT max(price) FROM items)", "cannot contain a subquery"),
    ("other.price * 2", "reads only its own table's fields, not other.price"),
    ("price; qty", "one expression, found 2 statements"),
    ("DROP TABLE items", "not a statement"),
    ("SELECT 1", "not a statement"),
    ("total + 1", "refers to itself"),
    ("price *", "not a valid SQL expression"),
    ("price AS p", "cannot name its result"),
    ("price * * qty", r'not a valid SQL expression: syntax error at or near "\*" \(character 9\)'),
    ("price qty", r'not a valid SQL expression: syntax error at or near "qty" \(character 7\)'),
    ("price / 0", r"divides by zero \(price / 0\): PostgreSQL refuses each row that computes it"),
    ("MOD(qty, (0.0)) + 1", r"divides by zero"),
]


@pytest.mark.parametrize(("formula", "message"), BAD_FORMULAS, ids=[b[0] for b in BAD_FORMULAS])
def test_a_bad_formula_is_refused_at_its_line(formula: str, message: str) -> None:
    found = problems(FORMULA.format(formula))
    assert [(path, line) for path, line, _ in found] == [("tables[0].fields[3].formula", 9)]
    assert found[0][2].startswith('Formula of field "total": ')
    import re

    assert re.search(message, found[0][2]), found


TEXT_AND_FLAG = "      - {id: 4, name: label, type: single-line-text}\n      - {id: 5, name: done, type: checkbox}\n"


def test_arithmetic_postgresql_has_no_operator_for_is_refused_before_postgresql_would() -> None:
    found = problems(TEXT_AND_FLAG + FORMULA.format("label * qty + (done) - label + due * 2 + (due - due)"))
    head = 'Formula of field "total": '
    assert [(path, message) for path, _, message in found] == [
        (
            "tables[0].fields[5].formula",
            head + '"label" holds text (single-line-text), which PostgreSQL has no such arithmetic for; convert it '
            "first, e.g. CAST(label AS numeric)",
        ),
        (
            "tables[0].fields[5].formula",
            head + '"due" holds a date or time (date), which PostgreSQL has no such arithmetic for; convert it '
            "first, e.g. EXTRACT(EPOCH FROM due)",
        ),
        (
            "tables[0].fields[5].formula",
            head + '"done" holds a boolean (checkbox), which PostgreSQL has no such arithmetic for; convert it '
            "first, e.g. CAST(done AS integer)",
        ),
    ]


def test_arithmetic_on_a_user_field_is_refused_it_holds_a_text_id() -> None:
    found = problems("      - {id: 4, name: owner, type: user}\n" + FORMULA.format("owner + 1"))
    assert [message.split(", which")[0] for _, _, message in found] == [
        'Formula of field "total": "owner" holds text (user)'
    ]


@pytest.mark.parametrize(
    "formula", ["CAST(label AS numeric) * qty", "label || qty", "IF(done, qty * 2, 0)", "due + qty", "(due - due) * 2"]
)
def test_text_and_booleans_used_as_what_they_are_are_fine(formula: str) -> None:
    parse_app(HEAD + TEXT_AND_FLAG + FORMULA.format(formula), source="app.yaml")


def test_formulas_that_use_each_other_in_a_circle_are_refused() -> None:
    found = problems(
        "      - {id: 9, name: a, type: formula, formula: b + 1}\n"
        "      - {id: 10, name: b, type: formula, formula: a + 1}\n"
    )
    assert any("in a circle" in message for _, _, message in found)


@pytest.mark.parametrize(
    ("field", "path", "message"),
    [
        (
            "{id: 9, name: n, type: count, relationshipField: nope}",
            "tables[0].fields[3].relationshipField",
            'Count field "n" references relationshipField "nope" not found in the same table',
        ),
        (
            "{id: 9, name: n, type: rollup, relationshipField: qty, relatedField: x, aggregation: SUM}",
            "tables[0].fields[3].relationshipField",
            'Rollup field "n" relationshipField "qty" must reference a relationship field',
        ),
        (
            "{id: 9, name: n, type: rollup, relationshipField: qty, relatedField: x, aggregation: MEDIAN}",
            "tables[0].fields[3].aggregation",
            "Unknown aggregation 'MEDIAN'",
        ),
        (
            "{id: 9, name: n, type: lookup, relationshipField: owner, relatedField: x}",
            "tables[0].fields[3].relationshipField",
            'Lookup field "items.n" relationshipField "owner" not found',
        ),
        (
            "{id: 9, name: n, type: formula, formula: '1', resultType: interger}",
            "tables[0].fields[3].resultType",
            "Unknown resultType 'interger' (did you mean 'integer'?)",
        ),
        (
            "{id: 9, name: s, type: ai-summary, sourceFields: [nope]}",
            "tables[0].fields[3].sourceFields[0]",
            'AI field "s": source field "nope" not found in the same table',
        ),
    ],
)
def test_computed_fields_point_at_what_exists(field: str, path: str, message: str) -> None:
    found = problems(f"      - {field}\n")
    assert any(p == path and m.startswith(message) for p, _, m in found), found


def test_a_view_query_must_be_one_select() -> None:
    found = problems("", "    views:\n      - {id: v, name: V, query: 'DELETE FROM items'}\n")
    assert found == [("tables[0].views[0].query", 10, 'View "v": query must be one SELECT statement')]


def test_a_table_has_one_default_view_at_most() -> None:
    views = (
        "    views:\n"
        "      - {id: a, name: A, isDefault: true}\n"
        "      - {id: b, name: B, isDefault: false}\n"
        "      - {id: c, name: C, isDefault: true}\n"
    )
    found = problems("", views)
    assert found == [
        ("tables[0].views[2].isDefault", 12, "Only one default view is allowed per table (tables[0].views[0] is one)")
    ]
    parse_app(HEAD + views.replace("{id: c, name: C, isDefault: true}", "{id: c, name: C}"), source="app.yaml")


def test_a_view_query_reading_a_table_the_app_does_not_have_is_refused() -> None:
    views = (
        "    views:\n"
        "      - {id: v, name: V, query: 'SELECT i.price FROM products i JOIN items USING (id)'}\n"
        "      - {id: w, name: W, query: 'WITH c AS (SELECT 1 AS n) SELECT n, relname FROM c, pg_class, audit_log'}\n"
        "      - {id: x, name: X, query: 'SELECT count(*) FROM items, public.v, generate_series(1,3), auth.\"user\"'}\n"
    )
    app = parse_app(HEAD + views, source="app.yaml")
    compile_app(app, recorded=True)  # as applied then (the table kept as accepted drift, say): rollbacks still work
    with pytest.raises(SchemaInvalid) as raised:
        compile_app(app)
    assert [(p.path, p.message) for p in raised.value.problems] == [
        (
            "tables[0].views[0].query",
            'View "v": its query reads "products", which is no table or view of this app (a query is SQL as '
            "written: a table renamed in the schema is renamed in the query by hand)",
        )
    ]


# --- translation ---------------------------------------------------------------------------------------------------


def _items(*formulas: tuple[str, str, str]) -> object:
    fields = "".join(
        f"      - {{id: {10 + i}, name: {name}, type: formula, formula: {formula!r}, resultType: {kind}}}\n"
        for i, (name, formula, kind) in enumerate(formulas)
    )
    return parse_app(HEAD + fields + "      - {id: 30, name: position, type: integer}\n", source="app.yaml").tables[0]


@pytest.mark.parametrize(
    ("formula", "sql"),
    [
        ("SUBSTR(due::TEXT, 1, 4)", "SUBSTRING(TO_CHAR(due, 'YYYY-MM-DD') FROM 1 FOR 4)"),
        ("price / qty", "CAST(price AS DECIMAL) / CAST(qty AS DECIMAL)"),
        ("ROUND(SQRT(qty) * 2, 1)", "ROUND(CAST((SQRT(qty) * 2) AS DECIMAL), 1)"),
        ("IF(qty > 1, 'many', 'one')", "CASE WHEN qty > 1 THEN 'many' ELSE 'one' END"),
        ("Position + Qty", '"position" + qty'),
    ],
)
def test_formulas_are_rewritten_as_sovrium_rewrites_them(formula: str, sql: str) -> None:
    table = _items(("f", formula, "text"))
    assert translate(formula, table) == sql  # type: ignore[arg-type]


def test_where_each_formula_is_computed() -> None:
    table = _items(
        ("a", "price * qty", "decimal"),
        ("b", "due - CURRENT_DATE", "integer"),
        ("c", "a * 2", "decimal"),
        ("d", "qty + 1", "integer"),
    )
    assert formula_kinds(table) == {"a": "trigger", "b": "trigger", "c": "trigger", "d": "generated"}  # type: ignore[arg-type]


def test_a_view_backed_table_keeps_its_rows_in_base_and_others_point_there() -> None:
    app = parse_app(
        """name: shop
tables:
  - id: 1
    name: customers
    fields:
      - {id: 1, name: name, type: single-line-text}
      - {id: 2, name: orders, type: relationship, relatedTable: orders, relationType: one-to-many}
      - {id: 3, name: spent, type: rollup, relationshipField: orders, relatedField: amount, aggregation: SUM}
  - id: 2
    name: orders
    fields:
      - {id: 1, name: amount, type: integer}
      - {id: 2, name: customer, type: relationship, relatedTable: customers}
""",
        source="app.yaml",
    )
    catalog = compile_app(app)
    assert [t.name for t in catalog.tables] == ["customers_base", "orders"]
    assert [v.name for v in catalog.views] == ["customers"]
    fk = catalog.table("orders").constraint("orders_customer_fkey")  # type: ignore[union-attr]
    assert fk is not None and fk.references == "customers_base"
    view = catalog.views[0]
    assert "orders_for_spent.customer = base.id" in view.definition, "one-to-many: the back-pointing column"
    assert "orders_for_spent.deleted_at IS NULL" in view.definition, "soft-deleted orders are left out"
    assert [(t.name, t.timing, t.events) for t in view.triggers] == [
        ("customers_delete_trigger", "INSTEAD OF", ("DELETE",)),
        ("customers_insert_trigger", "INSTEAD OF", ("INSERT",)),
        ("customers_update_trigger", "INSTEAD OF", ("UPDATE",)),
    ]


# --- formula order and circles: linear algorithms, the same answers as the plain definitions ------------------

_NAMES = [f"f{i}" for i in range(8)]


def _plain_order(wanted: list[str], uses: dict[str, set[str]]) -> list[str]:
    """The definition: each time the first formula whose formulas are all placed, else the first unplaced."""
    ordered: list[str] = []
    while len(ordered) < len(wanted):
        ready = [n for n in wanted if n not in ordered and uses[n] <= set(ordered)]
        ordered.append(ready[0] if ready else next(n for n in wanted if n not in ordered))
    return ordered


def _plain_circled(uses: dict[str, set[str]]) -> list[str]:
    """The definition: the formulas that reach themselves through another one."""
    found = []
    for start in uses:
        seen: set[str] = set()
        stack = [start]
        while stack:
            name = stack.pop()
            if any(used == start and name != start for used in uses.get(name, ())):
                found.append(start)
                break
            for used in uses.get(name, ()):
                if used not in seen:
                    seen.add(used)
                    stack.append(used)
    return found


@given(
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=8, unique=True).flatmap(
        lambda names: st.tuples(
            st.just(names),
            st.fixed_dictionaries({n: st.sets(st.sampled_from([*_NAMES, "price"]), max_size=3) for n in names}),
        )
    )
)
@settings(max_examples=300, deadline=None)
def test_formula_order_and_circles_match_their_definitions(case: tuple[list[str], dict[str, set[str]]]) -> None:
    from sovrium_tui.catalog.formula import dependency_order
    from sovrium_tui.schema.computed_fields import _in_circles
    from sovrium_tui.schema.model import Field, Table

    names, uses = case
    fields = [Field(id=1, name="price", type="decimal")]
    fields += [
        Field(id=i + 2, name=n, type="formula", formula=" + ".join(["0", *sorted(uses[n])]))
        for i, n in enumerate(names)
    ]
    table = Table(id=1, name="items", fields=tuple(fields))
    among = {n: uses[n] & set(names) for n in names}
    assert dependency_order(names, table) == _plain_order(names, among)
    assert _in_circles(uses) == _plain_circled(uses)


def test_a_chain_of_a_thousand_formulas_declared_backwards_is_computed_in_dependency_order() -> None:
    """Each k<i> reads k<i+1>; the last reads qty: the trigger computes them last to first."""
    chain = "".join(
        f"      - {{id: {i + 10}, name: k{i}, type: formula, formula: {'qty' if i == 999 else f'k{i + 1}'} + 1}}\n"
        for i in range(1000)
    )
    catalog = compile_app(parse_app(HEAD + chain, source="app.yaml"))
    (body,) = [f.body for f in catalog.functions if f.name == "compute_items_formulas"]
    assigned = [line.split(":=")[0].strip() for line in body.splitlines() if ":=" in line]
    assert assigned == [f"NEW.k{i}" for i in reversed(range(1000))]
