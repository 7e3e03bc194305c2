"""compile_app and the DDL builders, without a database: each field type's column, rules and indexes as data."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from sovrium_tui.catalog import Catalog, Column, Constraint, Function, Index, Table, Trigger, compile_app
from sovrium_tui.catalog.compile import (
    default_sql,
    float_text,
    interval_text,
    jsonb_text,
    junction_table_name,
    number_literal,
    singular,
)
from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.planning.ddl import (
    add_constraint_sql,
    column_definition_sql,
    create_catalog_sql,
    create_function_sql,
    create_index_sql,
    create_table_sql,
    create_trigger_sql,
    drop_constraint_sql,
    drop_function_sql,
    drop_index_sql,
    drop_table_sql,
    drop_trigger_sql,
)
from sovrium_tui.schema.field_types import COLUMN_TYPES, LEGACY_ALIASES, canonical_type
from sovrium_tui.schema.model import (
    AiSettings,
    App,
    CheckSpec,
    DefaultValue,
    Field,
    ForeignKeySpec,
    IndexSpec,
    PrimaryKey,
    UniqueSpec,
)
from sovrium_tui.schema.model import Table as SchemaTable

VC = "character varying(255)"
TS = "timestamp without time zone"
TSTZ = "timestamp with time zone"


def one_table_app(*fields: Field, auth: bool = False, others: tuple[SchemaTable, ...] = (), **table: object) -> App:
    """An app with table `t` holding `fields` (plus any other tables), as the validator would build it."""
    return App("test", (SchemaTable(1, "t", tuple(fields), **table), *others), auth=auth)  # type: ignore[arg-type]


def f(name: str = "f", type: str = "single-line-text", **settings: object) -> Field:
    """A field with an id from its name, so tests only say what matters."""
    return Field(abs(hash(name)) % 10_000 + 1, name, type, **settings)  # type: ignore[arg-type]


AUTHORS = SchemaTable(2, "authors", (f("name", unique=True),))
UUID_AUTHORS = SchemaTable(3, "uuid_authors", (f("name"),), primary_key=PrimaryKey("uuid"))
TEXT_AUTHORS = SchemaTable(4, "text_authors", (f("name"),), primary_key=PrimaryKey("text"))
BIG_AUTHORS = SchemaTable(5, "big_authors", (f("name"),), primary_key=PrimaryKey("bigserial"))
RELATED = (AUTHORS, UUID_AUTHORS, TEXT_AUTHORS, BIG_AUTHORS)


def compiled_t(*fields: Field, auth: bool = False) -> Table:
    table = compile_app(one_table_app(*fields, auth=auth, others=RELATED)).table("t")
    assert table is not None
    return table


def col(type: str, *, nullable: bool = True, default: str | None = None, serial: bool = False) -> Column:
    return Column("f", type, nullable, default, serial)


def check(suffix: str, definition: str) -> Constraint:
    return Constraint(f"check_f_{suffix}", "check", definition, ("f",))


def idx(name: str, *keys: str, unique: bool = False, method: str = "btree") -> Index:
    return Index(name, "t", keys or ("f",), unique, method)


def fk(target: str, definition: str) -> Constraint:
    return Constraint("t_f_fkey", "foreign_key", definition, ("f",), target)


UNIQUE = Constraint("t_f_key", "unique", "UNIQUE (f)", ("f",))
AI = AiSettings(source_fields=("id",), compute_on="manual")
FK_INDEX = idx("idx_t_f_fk")

# (field, its column, its constraints, its indexes) — everything the field adds to table `t`.
FIELD_CASES: list[tuple[Field, Column, tuple[Constraint, ...], tuple[Index, ...]]] = [
    (f(default="it's"), col(VC, default="'it''s'::character varying"), (), ()),
    (f(required=True, unique=True, indexed=True), col(VC, nullable=False), (UNIQUE,), (idx("idx_t_f"),)),
    (f(type="long-text", default="x;--y"), col("text", default="'x;--y'::text"), (), ()),
    (
        f(type="rich-text", max_length=100, full_text_search=True),
        col("text"),
        (check("max_length", "CHECK ((length(f) <= 100))"),),
        (idx("idx_t_f_fulltext", "to_tsvector('english'::regconfig, f)", method="gin"),),
    ),
    (f(type="email"), col(VC), (), ()),
    (f(type="url"), col(VC), (), ()),
    (f(type="phone-number", default="+1 555"), col(VC, default="'+1 555'::character varying"), (), ()),
    (
        f(type="integer", min=0, max=120, default=-5),
        col("integer", default="'-5'::integer"),
        (check("range", "CHECK (((f >= 0) AND (f <= 120)))"),),
        (),
    ),
    (f(type="integer", min=1.5), col("integer"), (check("range", "CHECK (((f)::numeric >= 1.5))"),), ()),
    (f(type="integer", default=7), col("integer", default="7"), (), ()),
    (
        f(type="decimal", min=0, max=99.5, default=1.5),
        col("numeric", default="1.5"),
        (check("range", "CHECK (((f >= (0)::numeric) AND (f <= 99.5)))"),),
        (),
    ),
    (
        f(type="currency", precision=2, min=-1.5, default=3),
        col("numeric(20,2)", default="3"),
        (check("range", "CHECK ((f >= '-1.5'::numeric))"),),
        (),
    ),
    (f(type="currency", precision=0, default=3), col("numeric(18,0)", default="3"), (), ()),
    (f(type="percentage", precision=0), col("numeric(18,0)"), (), ()),
    (
        f(type="percentage", max=100, min=-5),
        col("numeric"),
        (check("range", "CHECK (((f >= ('-5'::integer)::numeric) AND (f <= (100)::numeric)))"),),
        (),
    ),
    (
        f(type="rating", max=5, default=3),
        col("integer", default="3"),
        (check("range", "CHECK (((f >= 1) AND (f <= 5)))"),),
        (),
    ),
    (f(type="rating"), col("integer"), (), ()),
    (
        f(type="progress", required=True),
        col("integer", nullable=False, default="0"),
        (check("range", "CHECK (((f >= 0) AND (f <= 100)))"),),
        (),
    ),
    (
        f(type="progress", default=50),
        col("integer", default="50"),
        (check("range", "CHECK (((f >= 0) AND (f <= 100)))"),),
        (),
    ),
    (
        f(type="autonumber"),
        col("integer", nullable=False, serial=True),
        (),
        (idx("idx_t_f_unique", unique=True),),
    ),
    (f(type="checkbox", default=True), col("boolean", default="true"), (), ()),
    (f(type="boolean", default=False), col("boolean", default="false"), (), ()),
    (f(type="date", default="current_date"), col("date", default="CURRENT_DATE"), (), ()),
    (f(type="date", default="2024-01-02"), col("date", default="'2024-01-02'::date"), (), ()),
    (f(type="datetime", default="NOW()"), col(TSTZ, default="now()"), (), ()),
    (
        f(type="datetime", default="2024-01-02T03:04:05.250+02:00"),
        col(TSTZ, default="'2024-01-02 01:04:05.25+00'::timestamp with time zone"),
        (),
        (),
    ),
    (
        f(type="time", default="12:30"),
        col("time without time zone", default="'12:30:00'::time without time zone"),
        (),
        (),
    ),
    (f(type="duration", default=90), col("interval", default="'00:01:30'::interval"), (), ()),
    (f(type="duration", default=90000.5), col("interval", default="'25:00:00.5'::interval"), (), ()),
    (
        f(type="single-select", options=("a", "it's"), default="a"),
        col(VC, default="'a'::character varying"),
        (check("enum", "CHECK (((f)::text = ANY (ARRAY['a'::text, 'it''s'::text])))"),),
        (),
    ),
    (
        f(type="status", options=("todo", "done"), indexed=True),
        col(VC),
        (check("enum", "CHECK (((f)::text = ANY (ARRAY['todo'::text, 'done'::text])))"),),
        (idx("idx_t_status"),),
    ),
    (
        f(type="multi-select", options=("a", "b"), default=("b", "a")),
        col("text[]", default="ARRAY['b'::text, 'a'::text]"),
        (check("options", "CHECK ((f <@ ARRAY['a'::text, 'b'::text]))"),),
        (),
    ),
    (
        f(type="multi-select", options=("a",), default=()),
        col("text[]", default="ARRAY[]::text[]"),
        (check("options", "CHECK ((f <@ ARRAY['a'::text]))"),),
        (),
    ),
    (f(type="array", default=("x",)), col("text[]", default="ARRAY['x'::text]"), (), ()),
    (
        f(type="array", item_type="integer", max_items=5, indexed=True, default=("1", "-2")),
        col("integer[]", default="ARRAY[1, '-2'::integer]"),
        (check("max_items", "CHECK (((array_length(f, 1) IS NULL) OR (array_length(f, 1) <= 5)))"),),
        (idx("idx_t_f", method="gin"),),
    ),
    (f(type="array", item_type="bigint", default=("1",)), col("bigint[]", default="ARRAY['1'::bigint]"), (), ()),
    (
        f(type="array", item_type="numeric", default=("1.5", "2")),
        col("numeric[]", default="ARRAY[1.5, (2)::numeric]"),
        (),
        (),
    ),
    (
        f(type="json", indexed=True, default='{"b": 1, "a": [1.50, "x"]}'),
        col("jsonb", default='\'{"a": [1.50, "x"], "b": 1}\'::jsonb'),
        (),
        (idx("idx_t_f", method="gin"),),
    ),
    (
        f(type="geolocation", indexed=True, unique=True),
        col("point"),
        (Constraint("t_f_key", "exclude", "EXCLUDE USING gist (f WITH ~=)", ("f",)),),
        (idx("idx_t_f", method="gist"),),
    ),
    (f(type="single-attachment"), col(VC), (), ()),
    (f(type="single-attachment", store_metadata=True), col("jsonb"), (), ()),
    (
        f(type="multiple-attachments", max_files=3),
        col("jsonb"),
        (check("max_files", "CHECK (((jsonb_array_length(f) IS NULL) OR (jsonb_array_length(f) <= 3)))"),),
        (),
    ),
    (f(type="attachment"), col("jsonb"), (), ()),
    (
        f(type="barcode", format="EAN-13"),
        col(VC),
        (check("format", "CHECK (((f)::text ~ '^[0-9]{13}$'::text))"),),
        (),
    ),
    (
        f(type="barcode", format="CODE-39"),
        col(VC),
        (check("format", r"CHECK (((f)::text ~ '^[A-Z0-9\-\.\$\/\+\%\ ]+$'::text))"),),
        (),
    ),
    (f(type="barcode"), col(VC), (), ()),
    (f(type="barcode", format="ISBN-13"), col(VC), (), ()),  # a format Sovrium has no pattern for: no CHECK
    (
        f(type="color", default="#ff0000"),
        col("character varying(7)", default="'#ff0000'::character varying"),
        (check("format", "CHECK (((f)::text ~ '^#[0-9a-fA-F]{6}$'::text))"),),
        (),
    ),
    (f(type="code"), col("text"), (), ()),
    (f(type="user"), col("text"), (), (FK_INDEX,)),
    (f(type="created-by"), col("text"), (), ()),
    (f(type="updated-by"), col("text"), (), ()),
    (f(type="deleted-by"), col("text"), (), ()),
    (f(type="created-at"), col(TS, nullable=False, default="CURRENT_TIMESTAMP"), (), ()),
    (f(type="updated-at"), col(TS, nullable=False, default="CURRENT_TIMESTAMP"), (), ()),
    (f(type="deleted-at"), col(TS), (), ()),
    (f(type="number"), col("numeric"), (), ()),
    (
        f(type="relationship", related_table="authors", on_delete="cascade", on_update="set null"),
        col("integer"),
        (fk("authors", "FOREIGN KEY (f) REFERENCES authors(id) ON UPDATE SET NULL ON DELETE CASCADE"),),
        (FK_INDEX,),
    ),
    (
        f(type="relationship", related_table="uuid_authors", relation_type="one-to-one", required=True),
        col("uuid", nullable=False),
        (fk("uuid_authors", "FOREIGN KEY (f) REFERENCES uuid_authors(id)"), UNIQUE),
        (FK_INDEX,),
    ),
    (
        f(type="relationship", related_table="text_authors", on_delete="RESTRICT", indexed=True),
        col("text"),
        (fk("text_authors", "FOREIGN KEY (f) REFERENCES text_authors(id) ON DELETE RESTRICT"),),
        (FK_INDEX, idx("idx_t_f")),
    ),
    (
        f(type="relationship", related_table="big_authors", on_delete="no-action", on_update="set-default"),
        col("bigint"),
        (fk("big_authors", "FOREIGN KEY (f) REFERENCES big_authors(id) ON UPDATE SET DEFAULT"),),
        (FK_INDEX,),
    ),
    (
        f(type="relationship", related_table="authors", related_field="name"),
        col(VC),
        (fk("authors", "FOREIGN KEY (f) REFERENCES authors(name)"),),
        (FK_INDEX,),
    ),
    # formulas: immutable ones are generated columns; volatile ones plain columns a trigger fills
    (f(type="formula", formula="1 + 2", result_type="integer"), Column("f", "integer", generated="1 + 2"), (), ()),
    (f(type="formula", formula="CURRENT_DATE", result_type="date"), Column("f", "date", derived=True), (), ()),
    (f(type="ai-categorize", ai=AI), col(VC), (), ()),
    (f(type="ai-extract", ai=AI), col("jsonb"), (), ()),
    (f(type="ai-generate", ai=AI), col("text"), (), ()),
    (f(type="ai-sentiment", ai=AI), col("jsonb"), (), ()),
    (f(type="ai-summary", ai=AI), col("text"), (), ()),
    (f(type="ai-tag", ai=AI), col("jsonb", default="'[]'::jsonb"), (), ()),
    (f(type="ai-translate", ai=AI), col("text"), (), ()),
]

SYSTEM_CONSTRAINTS = {"t_pkey"}
SYSTEM_INDEXES = {"idx_t_deleted_at"}


def _case_id(case: tuple[Field, Column, tuple[Constraint, ...], tuple[Index, ...]]) -> str:
    field = case[0]
    return f"{field.type}-{case[1].type}-{'+'.join(c.name for c in case[2]) or 'plain'}"


@pytest.mark.parametrize("case", FIELD_CASES, ids=[_case_id(c) for c in FIELD_CASES])
def test_each_field_type_compiles_to_its_column_rules_and_indexes(
    case: tuple[Field, Column, tuple[Constraint, ...], tuple[Index, ...]],
) -> None:
    field, column, constraints, indexes = case
    table = compiled_t(field)
    assert table.column("f") == column
    assert tuple(c for c in table.constraints if c.name not in SYSTEM_CONSTRAINTS) == tuple(
        sorted(constraints, key=lambda c: c.name)
    )
    assert tuple(i for i in table.indexes if i.name not in SYSTEM_INDEXES) == tuple(
        sorted(indexes, key=lambda i: i.name)
    )


@pytest.mark.parametrize("case", FIELD_CASES, ids=[_case_id(c) for c in FIELD_CASES])
@pytest.mark.parametrize("auth", [False, True])
def test_a_field_shared_by_tables_compiles_as_if_each_table_had_its_own(
    case: tuple[Field, Column, tuple[Constraint, ...], tuple[Index, ...]], auth: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation makes a field written alike in many tables one object; compile builds the parts of the kinds
    that depend on the field alone once. Tables that differ in every other way (name, composite key holding the
    field, unique and indexed copies) compile exactly as they do with nothing reused."""
    from sovrium_tui.catalog import compile as compile_module

    shared = case[0]
    indexed = canonical_type(shared.type) != "status"  # a status field's index has one name per table
    tables = (
        SchemaTable(1, "t", (shared,)),
        SchemaTable(2, "t_two", (f("other"), shared), primary_key=PrimaryKey("composite", ("other", "f"))),
        SchemaTable(3, "t_three", (shared, replace(shared, id=shared.id + 1, name="g", unique=True, indexed=indexed))),
        *RELATED,
    )
    app = App("test", tables, auth=auth)
    reused = compile_app(app)
    with monkeypatch.context() as patched:
        patched.setattr(compile_module, "_FROM_THE_FIELD_ALONE", frozenset())
        built_each_time = compile_app(app)
    assert reused == built_each_time
    one, three = reused.table("t"), reused.table("t_three")
    assert one is not None and three is not None
    if canonical_type(shared.type) in compile_module._FROM_THE_FIELD_ALONE:
        assert one.column("f") is three.column("f"), "the shared field's column is built once"


def test_the_cases_cover_every_column_type_and_legacy_alias() -> None:
    covered = {case[0].type for case in FIELD_CASES}
    assert covered == set(COLUMN_TYPES) | set(LEGACY_ALIASES)


@pytest.mark.parametrize(
    "field",
    [
        f(type="button"),
        f(type="relationship", related_table="authors", relation_type="one-to-many"),
    ],
)
def test_fields_without_a_column_add_nothing(field: Field) -> None:
    table = compiled_t(field)
    assert table.column("f") is None
    assert [c.name for c in table.constraints] == ["t_pkey"]
    assert [i.name for i in table.indexes] == ["idx_t_deleted_at"]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (f(type="INVALID_TYPE"), "Unknown field type: INVALID_TYPE"),
        (f(type="formula"), "formula is required"),
        (f(type="relationship", related_table="nowhere"), 'relatedTable "nowhere" does not exist'),
        (
            f(type="relationship", related_table="authors", related_field="nope"),
            'relatedField "nope" not found in related table "authors"',
        ),
        (f(type="array", item_type="widget"), "Unsupported array itemType: widget"),
        (f(type="integer", default="many"), "expected a whole number, got 'many'"),
        (
            f(type="json", default="{nope"),
            "default is not valid JSON: Expecting property name enclosed in double quotes",
        ),
    ],
)
def test_fields_the_compiler_cannot_build_are_reported_with_their_path(field: Field, message: str) -> None:
    with pytest.raises(SchemaInvalid) as caught:
        compiled_t(f("ok"), field)
    assert [(p.path, p.message) for p in caught.value.problems] == [("tables[0].fields[1]", message)]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SchemaInvalid) as caught:
        compiled_t(f("a", "nope"), f("b", "relationship", related_table="gone"))
    assert [p.path for p in caught.value.problems] == ["tables[0].fields[0]", "tables[0].fields[1]"]


# --- system columns and primary keys -----------------------------------------------------------------------


def test_system_columns_come_first_in_order() -> None:
    table = compiled_t(f("title"))
    assert table.columns == (
        Column("id", "integer", nullable=False, serial=True),
        Column("created_at", TSTZ, nullable=False, default="CURRENT_TIMESTAMP"),
        Column("updated_at", TSTZ, nullable=False, default="CURRENT_TIMESTAMP"),
        Column("deleted_at", TSTZ),
        Column("title", VC),
    )
    assert table.constraint("t_pkey") == Constraint("t_pkey", "primary_key", "PRIMARY KEY (id)", ("id",))
    assert table.index("idx_t_deleted_at") == Index("idx_t_deleted_at", "t", ("deleted_at",))


def test_a_field_named_like_a_system_column_replaces_it_in_its_own_place() -> None:
    table = compiled_t(f("title"), f("id", "integer", required=True), f("created_at", "long-text"))
    assert [c.name for c in table.columns] == ["updated_at", "deleted_at", "title", "id", "created_at"]
    assert table.column("id") == Column("id", "integer", nullable=False)
    assert table.constraint("t_pkey") is None
    assert table.column("created_at") == Column("created_at", "text")


@pytest.mark.parametrize(
    ("key", "id_column"),
    [
        (None, Column("id", "integer", nullable=False, serial=True)),
        (PrimaryKey("auto-increment"), Column("id", "integer", nullable=False, serial=True)),
        (PrimaryKey("uuid"), Column("id", "uuid", nullable=False, default="gen_random_uuid()")),
        (PrimaryKey("text"), Column("id", "text", nullable=False, default="(gen_random_uuid())::text")),
        (PrimaryKey("bigserial"), Column("id", "bigint", nullable=False, serial=True)),
        (PrimaryKey("composite", ("id",)), Column("id", "integer", nullable=False, serial=True)),
    ],
)
def test_primary_key_types_shape_the_automatic_id(key: PrimaryKey | None, id_column: Column) -> None:
    table = compile_app(one_table_app(f("title"), primary_key=key)).table("t")
    assert table is not None
    assert table.columns[0] == id_column
    assert table.constraint("t_pkey") == Constraint("t_pkey", "primary_key", "PRIMARY KEY (id)", ("id",))


def test_a_composite_key_of_fields_has_no_automatic_id_and_makes_its_columns_not_null() -> None:
    app = one_table_app(f("tenant", "integer"), f("email"), primary_key=PrimaryKey("composite", ("tenant", "email")))
    table = compile_app(app).table("t")
    assert table is not None
    assert [c.name for c in table.columns] == ["created_at", "updated_at", "deleted_at", "tenant", "email"]
    assert table.column("tenant") == Column("tenant", "integer", nullable=False)
    assert table.column("email") == Column("email", VC, nullable=False)
    assert table.constraint("t_pkey") == Constraint(
        "t_pkey", "primary_key", "PRIMARY KEY (tenant, email)", ("tenant", "email")
    )


def test_a_composite_key_with_id_keeps_a_serial_id() -> None:
    app = one_table_app(f("slug"), primary_key=PrimaryKey("composite", ("id", "slug")))
    table = compile_app(app).table("t")
    assert table is not None
    assert table.columns[0] == Column("id", "integer", nullable=False, serial=True)
    assert table.constraint("t_pkey") == Constraint("t_pkey", "primary_key", "PRIMARY KEY (id, slug)", ("id", "slug"))


def test_a_single_integer_key_field_becomes_serial() -> None:
    app = one_table_app(f("id", "integer", required=True), primary_key=PrimaryKey("composite", ("id",)))
    table = compile_app(app).table("t")
    assert table is not None
    assert table.column("id") == Column("id", "integer", nullable=False, serial=True)
    assert table.constraint("t_pkey") is not None


def test_a_key_on_a_missing_column_is_a_problem() -> None:
    with pytest.raises(SchemaInvalid, match='primaryKey column "nope" does not exist'):
        compile_app(one_table_app(f("a"), primary_key=PrimaryKey("composite", ("nope",))))


# --- auth-dependent fields ---------------------------------------------------------------------------------


def test_user_fields_reference_auth_users_only_with_auth() -> None:
    with_auth = compiled_t(f(type="user"), auth=True)
    assert with_auth.constraint("t_f_fkey") == Constraint(
        "t_f_fkey", "foreign_key", 'FOREIGN KEY (f) REFERENCES auth."user"(id)', ("f",), "user"
    )
    assert with_auth.index("idx_t_f_fk") == FK_INDEX
    assert compiled_t(f(type="user")).constraint("t_f_fkey") is None


def test_created_by_is_not_null_only_with_auth() -> None:
    assert compiled_t(f(type="created-by"), auth=True).column("f") == col("text", nullable=False)
    assert compiled_t(f(type="created-by")).column("f") == col("text")


# --- relationships -----------------------------------------------------------------------------------------


def test_many_to_many_makes_a_junction_table_with_singular_columns() -> None:
    students = SchemaTable(
        1, "students", (f("courses", "relationship", related_table="courses", relation_type="many-to-many"),)
    )
    courses = SchemaTable(2, "courses", (f("title"),), primary_key=PrimaryKey("bigserial"))
    catalog = compile_app(App("school", (students, courses)))
    assert catalog.table("students") is not None
    assert catalog.table("students").column("courses") is None  # type: ignore[union-attr]
    assert catalog.table("students_courses") == Table(
        "students_courses",
        (Column("student_id", "integer", nullable=False), Column("course_id", "bigint", nullable=False)),
        (
            Constraint(
                "students_courses_pkey",
                "primary_key",
                "PRIMARY KEY (student_id, course_id)",
                ("student_id", "course_id"),
            ),
            Constraint(
                "students_courses_student_id_fkey",
                "foreign_key",
                "FOREIGN KEY (student_id) REFERENCES students(id)",
                ("student_id",),
                "students",
            ),
            Constraint(
                "students_courses_course_id_fkey",
                "foreign_key",
                "FOREIGN KEY (course_id) REFERENCES courses(id)",
                ("course_id",),
                "courses",
            ),
        ),
    )
    assert junction_table_name(students, courses) == "students_courses"


def test_a_many_to_many_to_its_own_table_is_a_problem() -> None:
    people = SchemaTable(
        1, "people", (f("friends", "relationship", related_table="people", relation_type="many-to-many"),)
    )
    with pytest.raises(SchemaInvalid, match='two columns named "person_id"'):
        compile_app(App("x", (people,)))


@pytest.mark.parametrize(
    ("plural", "single"),
    [
        ("students", "student"),
        ("people", "person"),
        ("children", "child"),
        ("data", "datum"),
        ("media", "medium"),
        ("blog_posts", "blog_post"),
        ("staff", "staff"),
        ("s", "s"),
    ],
)
def test_singular(plural: str, single: str) -> None:
    assert singular(plural) == single


def test_relationship_to_a_table_given_by_its_display_name() -> None:
    other = SchemaTable(2, "Blog Posts", (f("title"),))
    table = compile_app(one_table_app(f(type="relationship", related_table="Blog Posts"), others=(other,))).table("t")
    assert table is not None
    assert table.constraint("t_f_fkey") == fk("blog_posts", "FOREIGN KEY (f) REFERENCES blog_posts(id)")


# --- table rules -------------------------------------------------------------------------------------------


def test_table_indexes_unique_groups_foreign_keys_and_checks() -> None:
    app = one_table_app(
        f("a", "integer"),
        f("b"),
        f("c"),
        indexes=(IndexSpec("idx_custom", ("a", "b"), unique=True, where="a > 5"), IndexSpec("idx_plain", ("c",))),
        unique_constraints=(
            UniqueSpec(("a", "b")),
            UniqueSpec(("c",)),
            UniqueSpec(("b", "c"), name="uq_named"),
        ),
        foreign_keys=(ForeignKeySpec("fk_pair", ("a", "b"), "authors", ("id", "name"), on_delete="set-null"),),
        checks=(CheckSpec("positive_a", "a > 0"),),
        others=(AUTHORS,),
    )
    table = compile_app(app).table("t")
    assert table is not None
    assert table.index("idx_custom") == Index(
        "idx_custom", "t", ("a", "b"), unique=True, predicate="(a > 5)", verbatim=True
    )
    assert table.index("idx_plain") == Index("idx_plain", "t", ("c",))
    assert table.index("uq_t_a_b__0") == Index("uq_t_a_b__0", "t", ("a", "b"), unique=True)
    assert table.constraint("t_c_key") == Constraint("t_c_key", "unique", "UNIQUE (c)", ("c",))
    assert table.constraint("uq_named") == Constraint("uq_named", "unique", "UNIQUE (b, c)", ("b", "c"))
    assert table.constraint("fk_pair") == Constraint(
        "fk_pair",
        "foreign_key",
        "FOREIGN KEY (a, b) REFERENCES authors(id, name) ON DELETE SET NULL",
        ("a", "b"),
        "authors",
    )
    # The user's CHECK text is kept as written (PostgreSQL would print `CHECK ((a > 0))`); the database keeps
    # this text in the constraint's comment, so introspection reads it back the same.
    assert table.constraint("positive_a") == Constraint("positive_a", "check", "CHECK (a > 0)", verbatim=True)


def test_a_field_unique_and_a_one_field_unique_group_make_one_constraint() -> None:
    app = one_table_app(f("a", unique=True), unique_constraints=(UniqueSpec(("a",)),))
    table = compile_app(app).table("t")
    assert table is not None
    assert [c.name for c in table.constraints] == ["t_a_key", "t_pkey"]


def test_unique_group_index_names_are_cut_to_60_characters() -> None:
    long_a, long_b = "a" * 30, "b" * 30
    app = one_table_app(f(long_a), f(long_b), unique_constraints=(UniqueSpec((long_a, long_b)),))
    table = compile_app(app).table("t")
    assert table is not None
    name = f"uq_t_{long_a}_{long_b}__0"[:60]
    assert table.index(name) == Index(name, "t", (long_a, long_b), unique=True)


def test_long_names_are_truncated_like_postgresql_does() -> None:
    long_name = "x" * 60
    table = compiled_t(f(long_name, unique=True, indexed=True))
    assert table.constraint(f"t_{long_name}_key"[:63]) is not None
    assert table.index(f"idx_t_{long_name}"[:63]) is not None


def test_names_that_collide_after_truncation_are_one_problem_naming_what_collides() -> None:
    stem = "y" * 61
    with pytest.raises(SchemaInvalid) as raised:
        compiled_t(f(stem + "a", unique=True), f(stem + "b", unique=True))
    problems = [p for p in raised.value.problems if "constraints" in p.message]
    name = f"t_{stem}"[:63]
    assert [p.message for p in problems] == [
        f'2 constraints of table "t" would be named "{name}": unique ({stem}a), unique ({stem}b) '
        "(PostgreSQL keeps the first 63 bytes of a name: shorten a table or field name)"
    ]
    assert problems[0].path == "tables[0]"


def test_a_table_name_that_cuts_its_trigger_names_alike_is_a_problem() -> None:
    # a_trigger_<table>_set_created_at, _created_at_immutable, _updated_at: alike once cut to 63 bytes
    with pytest.raises(SchemaInvalid, match=r'3 triggers of table "t{52}" would be named "a_trigger_t{52}_"'):
        compile_app(App(name="a", tables=(SchemaTable(id=1, name="t" * 52, fields=(f("title"),)),)))
    compile_app(App(name="a", tables=(SchemaTable(id=1, name="t" * 51, fields=(f("title"),)),)))


# --- triggers ------------------------------------------------------------------------------------------------


def test_every_table_gets_its_timestamp_functions_and_triggers() -> None:
    catalog = compile_app(one_table_app(f("title")))
    table = catalog.table("t")
    assert table is not None
    assert catalog.functions == (
        Function("prevent_t_created_at_update", "BEGIN\n  NEW.created_at := OLD.created_at;\n  RETURN NEW;\nEND;"),
        Function(
            "set_t_created_at",
            "BEGIN\n  IF NEW.created_at IS NULL THEN\n    NEW.created_at := CURRENT_TIMESTAMP;\n  END IF;\n"
            "  RETURN NEW;\nEND;",
        ),
        Function("update_t_updated_at", "BEGIN\n  NEW.updated_at := CURRENT_TIMESTAMP;\n  RETURN NEW;\nEND;"),
    )
    assert table.triggers == (
        Trigger("a_trigger_t_created_at_immutable", "t", "BEFORE", ("UPDATE",), "prevent_t_created_at_update"),
        Trigger("a_trigger_t_set_created_at", "t", "BEFORE", ("INSERT",), "set_t_created_at"),
        Trigger("a_trigger_t_updated_at", "t", "BEFORE", ("INSERT", "UPDATE"), "update_t_updated_at"),
    )


def test_timestamp_fields_and_autonumbers_share_the_tables_functions() -> None:
    catalog = compile_app(
        one_table_app(f("made", "created-at"), f("touched", "updated-at"), f("n1", "autonumber"), f("n2", "autonumber"))
    )
    bodies = {fn.name: fn.body for fn in catalog.functions}
    assert bodies["prevent_t_created_at_update"] == (
        "BEGIN\n  NEW.created_at := OLD.created_at;\n  NEW.made := OLD.made;\n  RETURN NEW;\nEND;"
    )
    assert bodies["update_t_updated_at"] == (
        "BEGIN\n  NEW.updated_at := CURRENT_TIMESTAMP;\n  NEW.touched := CURRENT_TIMESTAMP;\n  RETURN NEW;\nEND;"
    )
    assert (
        bodies["prevent_t_autonumber_update"] == "BEGIN\n  NEW.n1 := OLD.n1;\n  NEW.n2 := OLD.n2;\n  RETURN NEW;\nEND;"
    )
    table = catalog.table("t")
    assert table is not None
    assert Trigger("trigger_t_autonumber_immutable", "t", "BEFORE", ("UPDATE",), "prevent_t_autonumber_update") in (
        table.triggers
    )


def test_updated_by_fields_get_sovriums_set_updated_by_trigger_and_one_shared_function() -> None:
    others = (SchemaTable(2, "notes", (f("editor", "updated-by"),)), SchemaTable(3, "plain", (f("title"),)))
    catalog = compile_app(one_table_app(f("by", "updated-by"), f("also_by", "updated-by"), others=others))
    assert [fn for fn in catalog.functions if fn.name == "set_updated_by"] == [
        Function("set_updated_by", "BEGIN\n  RETURN NEW;\nEND;")
    ]
    for table in ("t", "notes"):
        triggers = catalog.table(table).triggers  # type: ignore[union-attr]
        assert Trigger("set_updated_by", table, "BEFORE", ("UPDATE",), "set_updated_by") in triggers
    assert all(t.name != "set_updated_by" for t in catalog.table("plain").triggers)  # type: ignore[union-attr]
    assert all(fn.name != "set_updated_by" for fn in compile_app(one_table_app(f("title"))).functions)


def test_a_created_at_replaced_by_a_plain_field_gets_no_created_at_triggers() -> None:
    catalog = compile_app(one_table_app(f("created_at", "long-text")))
    assert [fn.name for fn in catalog.functions] == ["update_t_updated_at"]


def test_junction_tables_have_no_system_columns_or_triggers() -> None:
    students = SchemaTable(
        1, "students", (f("courses", "relationship", related_table="courses", relation_type="many-to-many"),)
    )
    courses = SchemaTable(2, "courses", (f("title"),))
    junction = compile_app(App("school", (students, courses))).table("students_courses")
    assert junction is not None
    assert [c.name for c in junction.columns] == ["student_id", "course_id"]
    assert junction.triggers == () and junction.indexes == ()


# --- printed forms of constants ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text", "kind"),
    [
        (0, "0", "integer"),
        (5, "5", "integer"),
        (-5, "'-5'::integer", "integer"),
        (2**31 - 1, "2147483647", "integer"),
        (2**31, "'2147483648'::bigint", "bigint"),
        (-(2**31), "'-2147483648'::integer", "integer"),
        (2**63, "'9223372036854775808'::numeric", "numeric"),
        (1.5, "1.5", "numeric"),
        (-1.5, "'-1.5'::numeric", "numeric"),
        (-0.0, "0.0", "numeric"),
        (1e-7, "0.0000001", "numeric"),
        (1e20, "'100000000000000000000'::numeric", "numeric"),
        (Decimal("1.50"), "1.50", "numeric"),
    ],
)
def test_number_literals(value: int | float | Decimal, text: str, kind: str) -> None:
    assert number_literal(value) == number_literal(value)
    assert (number_literal(value).text, number_literal(value).kind) == (text, kind)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        ("0", "00:00:00"),
        ("10", "00:00:10"),
        ("90000", "25:00:00"),
        ("1.5", "00:00:01.5"),
        ("-10", "-00:00:10"),
        ("0.000001", "00:00:00.000001"),
        ("3661.25", "01:01:01.25"),
    ],
)
def test_interval_text(seconds: str, text: str) -> None:
    assert interval_text(Decimal(seconds)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (2.0, "2"),
        (-2.0, "-2"),
        (0.0, "0"),
        (1e15, "1e+15"),
        (123456789012345.0, "123456789012345"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.25e-10, "1.25e-10"),
    ],
)
def test_float_text(value: float, text: str) -> None:
    assert float_text(value) == text


def test_jsonb_text_orders_keys_like_jsonb() -> None:
    value = {"bb": Decimal("1.50"), "a": [True, None, 'x"\n\u0001é'], "c": Decimal("1E+5"), "ab": Decimal("-0")}
    assert jsonb_text(value) == '{"a": [true, null, "x\\"\\n\\u0001é"], "c": 100000, "ab": 0, "bb": 1.50}'


@pytest.mark.parametrize(
    ("value", "pg_type", "text"),
    [
        ("O'Reilly; DROP TABLE t; --", VC, "'O''Reilly; DROP TABLE t; --'::character varying"),
        ("back\\slash ☃", "text", "'back\\slash ☃'::text"),
        (("it's", "a,b", '"q"', "{x}"), "text[]", "ARRAY['it''s'::text, 'a,b'::text, '\"q\"'::text, '{x}'::text]"),
        ("12:00:00.500", "time without time zone", "'12:00:00.5'::time without time zone"),
        ("2024-01-02 03:04", TS, "'2024-01-02 03:04:00'::timestamp without time zone"),
        ("2024-01-02", TSTZ, "'2024-01-02 00:00:00+00'::timestamp with time zone"),
        ("localtimestamp", TS, "LOCALTIMESTAMP"),
        ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"),
        (("1.5", "-2"), "double precision[]", "ARRAY['1.5'::double precision, '-2'::double precision]"),
        (("true", "no"), "boolean[]", "ARRAY[true, false]"),
        ((), "character varying[]", "ARRAY[]::character varying[]"),
        (("x",), "character varying[]", "ARRAY['x'::text]"),
        ("(1,2)", "point", "'(1,2)'::point"),
    ],
)
def test_default_sql(value: DefaultValue, pg_type: str, text: str) -> None:
    assert default_sql(value, pg_type) == text


# --- DDL text ------------------------------------------------------------------------------------------------


def test_create_table_sql_for_a_small_table() -> None:
    table = compiled_t(f("title", required=True, unique=True, default="it's"), f("age", "integer", min=0))
    assert create_table_sql(table) == (
        "CREATE TABLE public.t (\n"
        "    id serial NOT NULL,\n"
        "    created_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,\n"
        "    updated_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,\n"
        "    deleted_at timestamp with time zone,\n"
        "    title character varying(255) NOT NULL DEFAULT 'it''s'::character varying,\n"
        "    age integer,\n"
        "    CONSTRAINT check_age_range CHECK ((age >= 0)),\n"
        "    CONSTRAINT t_pkey PRIMARY KEY (id),\n"
        "    CONSTRAINT t_title_key UNIQUE (title)\n"
        ")"
    )


def test_create_table_sql_quotes_names_that_need_it() -> None:
    table = Table(
        "Order Items",
        (
            Column("id", "bigint", nullable=False, serial=True),
            Column("position", "integer", default="1"),
            Column('say "hi"', "text"),
        ),
        (Constraint("Order Items_pkey", "primary_key", "PRIMARY KEY (id)", ("id",)),),
    )
    assert create_table_sql(table) == (
        'CREATE TABLE public."Order Items" (\n'
        "    id bigserial NOT NULL,\n"
        '    "position" integer DEFAULT 1,\n'
        '    "say ""hi""" text,\n'
        '    CONSTRAINT "Order Items_pkey" PRIMARY KEY (id)\n'
        ")"
    )


def test_object_statements() -> None:
    index = Index("uq", "t", ("a", '"Weird"'), unique=True, predicate="(a > 5)")
    trigger = Trigger("a_trigger_t_updated_at", "t", "BEFORE", ("INSERT", "UPDATE"), "update_t_updated_at")
    function = Function("update_t_updated_at", "BEGIN\n  NEW.x := 'it''s';\n  RETURN NEW;\nEND;")
    constraint = Constraint("t_a_fkey", "foreign_key", "FOREIGN KEY (a) REFERENCES u(id)", ("a",), "u")
    assert create_index_sql(index) == 'CREATE UNIQUE INDEX uq ON public.t USING btree (a, "Weird") WHERE (a > 5)'
    assert drop_index_sql(index) == "DROP INDEX public.uq"
    assert create_trigger_sql(trigger) == (
        "CREATE TRIGGER a_trigger_t_updated_at BEFORE INSERT OR UPDATE ON public.t "
        "FOR EACH ROW EXECUTE FUNCTION public.update_t_updated_at()"
    )
    assert drop_trigger_sql(trigger) == "DROP TRIGGER a_trigger_t_updated_at ON public.t"
    assert create_function_sql(function) == (
        "CREATE OR REPLACE FUNCTION public.update_t_updated_at() RETURNS trigger LANGUAGE plpgsql AS "
        "'BEGIN\n  NEW.x := ''it''''s'';\n  RETURN NEW;\nEND;'"
    )
    assert drop_function_sql(function) == "DROP FUNCTION public.update_t_updated_at()"
    assert add_constraint_sql("t", constraint) == (
        "ALTER TABLE public.t ADD CONSTRAINT t_a_fkey FOREIGN KEY (a) REFERENCES u(id)"
    )
    assert drop_constraint_sql("t", constraint) == "ALTER TABLE public.t DROP CONSTRAINT t_a_fkey"
    assert drop_table_sql(Table("t", ())) == "DROP TABLE public.t"
    assert column_definition_sql(Column("n", "integer", nullable=False, serial=True)) == "n serial NOT NULL"


# --- whole-catalog scripts -----------------------------------------------------------------------------------


def _creates(statements: list[str]) -> list[str]:
    return [s.split()[2] for s in statements if s.startswith("CREATE TABLE")]


def test_tables_are_created_after_the_tables_they_reference() -> None:
    posts = SchemaTable(1, "posts", (f("author", "relationship", related_table="writers"),))
    writers = SchemaTable(2, "writers", (f("team", "relationship", related_table="a_teams"),))
    teams = SchemaTable(3, "a_teams", (f("name"),))
    statements = create_catalog_sql(compile_app(App("x", (posts, writers, teams))))
    assert _creates(statements) == ["public.a_teams", "public.writers", "public.posts"]
    assert not any(s.startswith("ALTER TABLE") for s in statements)
    kinds = [s.split("(")[0].split()[1] if s.startswith("CREATE") else s.split()[0] for s in statements]
    first_table, first_index, first_trigger = kinds.index("TABLE"), kinds.index("INDEX"), kinds.index("TRIGGER")
    assert kinds.index("OR") < first_table < first_index < first_trigger  # functions, tables, indexes, triggers


def test_a_cycle_is_broken_by_adding_its_foreign_key_afterwards() -> None:
    a = SchemaTable(1, "a", (f("b", "relationship", related_table="b"),))
    b = SchemaTable(2, "b", (f("a", "relationship", related_table="a"), f("me", "relationship", related_table="b")))
    statements = create_catalog_sql(compile_app(App("x", (a, b))))
    assert _creates(statements) == ["public.a", "public.b"]
    create_a = next(s for s in statements if s.startswith("CREATE TABLE public.a "))
    create_b = next(s for s in statements if s.startswith("CREATE TABLE public.b "))
    assert "a_b_fkey" not in create_a
    assert "b_a_fkey" in create_b and "b_me_fkey" in create_b  # a self-reference needs no deferral
    late = "ALTER TABLE public.a ADD CONSTRAINT a_b_fkey FOREIGN KEY (b) REFERENCES b(id)"
    assert late in statements
    assert statements.index(late) > max(i for i, s in enumerate(statements) if s.startswith("CREATE INDEX"))


def test_a_foreign_key_to_a_unique_index_waits_for_the_index() -> None:
    codes = SchemaTable(1, "codes", (f("a"), f("b")), unique_constraints=(UniqueSpec(("a", "b")),))
    uses = SchemaTable(
        2, "uses", (f("a"), f("b")), foreign_keys=(ForeignKeySpec("uses_code_fkey", ("a", "b"), "codes", ("a", "b")),)
    )
    statements = create_catalog_sql(compile_app(App("x", (codes, uses))))
    late = "ALTER TABLE public.uses ADD CONSTRAINT uses_code_fkey FOREIGN KEY (a, b) REFERENCES codes(a, b)"
    assert statements.index(late) > statements.index(
        "CREATE UNIQUE INDEX uq_codes_a_b__0 ON public.codes USING btree (a, b)"
    )


def test_compiling_is_deterministic() -> None:
    fields = (replace(case[0], id=n + 1, name=f"f{n}") for n, case in enumerate(FIELD_CASES))
    app = one_table_app(*fields, others=RELATED)
    assert compile_app(app) == compile_app(app)
    assert create_catalog_sql(compile_app(app)) == create_catalog_sql(compile_app(app))


def test_hostile_option_values_and_defaults_stay_inside_their_literals() -> None:
    hostile = ("'); DROP TABLE t; --", "a'b", "semi;colon", "dash--dash", "ünï☃", "back\\slash", "$$", "")
    table = compiled_t(f("s", "single-select", options=hostile, default=hostile[0]))
    definition = table.constraint("check_s_enum").definition  # type: ignore[union-attr]
    assert definition == (
        "CHECK (((s)::text = ANY (ARRAY['''); DROP TABLE t; --'::text, 'a''b'::text, 'semi;colon'::text, "
        "'dash--dash'::text, 'ünï☃'::text, 'back\\slash'::text, '$$'::text, ''::text])))"
    )
    assert table.column("s").default == "'''); DROP TABLE t; --'::character varying"  # type: ignore[union-attr]


def test_a_catalog_with_nothing_is_empty() -> None:
    assert compile_app(App("x", ())) == Catalog()
    assert create_catalog_sql(Catalog()) == []


def test_a_compiled_catalog_survives_pickling_equal_and_still_searchable() -> None:
    """Catalogs come back from a child process (`forked`) pickled; every part is rebuilt through its class."""
    import pickle
    from pathlib import Path

    from sovrium_tui.schema import load_app

    examples = Path(__file__).resolve().parent.parent / "examples"
    catalog = compile_app(load_app(examples / "crm.yaml"))
    assert catalog.tables and catalog.functions and catalog.views, "the example has every kind of object"
    back = pickle.loads(pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == catalog
    assert [c.columns for t in back.tables for c in t.constraints] == [
        c.columns for t in catalog.tables for c in t.constraints
    ], "fields left out of comparisons come back too"
    assert back.table(catalog.tables[0].name) == catalog.tables[0], "the lookups are rebuilt"
