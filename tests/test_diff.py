"""The differ, case by case: (current, desired, renames) → the exact ordered changes. No database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sovrium_tui.catalog.model import Catalog, Column, Constraint, Function, Index, Table, Trigger
from sovrium_tui.planning.changes import (
    AddColumn,
    AddConstraint,
    AlterColumnType,
    AttachSequence,
    Change,
    ComputeColumns,
    CreateFunction,
    CreateIndex,
    CreateTable,
    DetachSequence,
    DropColumn,
    DropConstraint,
    DropFunction,
    DropIndex,
    DropNotNull,
    DropTable,
    RenameColumn,
    RenameConstraint,
    RenameIndex,
    RenameTable,
    ReplaceFunction,
    SetDefault,
    SetNotNull,
)
from sovrium_tui.planning.diff import Renames, diff, substitute_identifiers, tightens
from sovrium_tui.planning.planner import summarize
from sovrium_tui.planning.render import forward_sql

ID = Column("id", "integer", nullable=False, serial=True)
NAME = Column("name", "character varying(255)")
EMAIL = Column("email", "character varying(255)")


def pk(table: str) -> Constraint:
    return Constraint(f"{table}_pkey", "primary_key", "PRIMARY KEY (id)", ("id",))


def fk(table: str, column: str, target: str) -> Constraint:
    return Constraint(
        f"{table}_{column}_fkey",
        "foreign_key",
        f"FOREIGN KEY ({column}) REFERENCES {target}(id)",
        (column,),
        target,
    )


def table(name: str, *columns: Column, constraints: tuple[Constraint, ...] = (), **kw: object) -> Table:
    return Table(name, (ID, *columns), (pk(name), *constraints), **kw)  # type: ignore[arg-type]


def catalog(*tables: Table, functions: tuple[Function, ...] = ()) -> Catalog:
    return Catalog(tables, functions)


USERS = table("users", NAME)
ADD_EMAIL_INDEX = Index("idx_users_email", "users", ("email",))

CASES: list[tuple[str, Catalog, Catalog, Renames, list[Change]]] = [
    ("nothing to do", catalog(USERS), catalog(USERS), Renames(), []),
    ("create a table", catalog(), catalog(USERS), Renames(), [CreateTable(USERS)]),
    ("drop a table", catalog(USERS), catalog(), Renames(), [DropTable(USERS)]),
    (
        "add a column",
        catalog(USERS),
        catalog(table("users", NAME, EMAIL)),
        Renames(),
        [AddColumn("users", EMAIL)],
    ),
    (
        "drop a column keeps it whole for the reverse",
        catalog(table("users", NAME, EMAIL)),
        catalog(USERS),
        Renames(),
        [DropColumn("users", EMAIL)],
    ),
    (
        "rename a column by id instead of drop and add",
        catalog(table("users", NAME)),
        catalog(table("users", Column("full_name", "character varying(255)"))),
        Renames(columns=(("users", "name", "full_name"),)),
        [RenameColumn("users", "name", "full_name")],
    ),
    (
        "without the rename map a rename is a drop and an add",
        catalog(table("users", NAME)),
        catalog(table("users", Column("full_name", "character varying(255)"))),
        Renames(),
        [DropColumn("users", NAME), AddColumn("users", Column("full_name", "character varying(255)"))],
    ),
    (
        "rename a table renames its derived constraint names too",
        catalog(USERS),
        catalog(table("people", NAME)),
        Renames(tables=(("users", "people"),)),
        [RenameTable("users", "people"), RenameConstraint("people", "users_pkey", "people_pkey")],
    ),
    (
        "type change text to integer casts with USING",
        catalog(table("users", Column("age", "text"))),
        catalog(table("users", Column("age", "integer"))),
        Renames(),
        [
            AlterColumnType(
                "users",
                "age",
                "text",
                "integer",
                "age::integer",
                "age::text",
                ("narrowing", "fails-on-existing-rows", "table-rewrite", "exclusive-lock"),
                ("table-rewrite", "exclusive-lock"),
            )
        ],
    ),
    (
        "set a default",
        catalog(table("users", Column("plan", "text"))),
        catalog(table("users", Column("plan", "text", default="'free'::text"))),
        Renames(),
        [SetDefault("users", "plan", None, "'free'::text")],
    ),
    (
        "make required backfills from the default",
        catalog(table("users", Column("plan", "text", default="'free'::text"))),
        catalog(table("users", Column("plan", "text", nullable=False, default="'free'::text"))),
        Renames(),
        [SetNotNull("users", "plan", "'free'::text")],
    ),
    (
        "make optional",
        catalog(table("users", Column("plan", "text", nullable=False))),
        catalog(table("users", Column("plan", "text"))),
        Renames(),
        [DropNotNull("users", "plan")],
    ),
    (
        "changed check is dropped then added",
        catalog(table("users", NAME, constraints=(Constraint("check_x", "check", "CHECK ((id > 0))"),))),
        catalog(table("users", NAME, constraints=(Constraint("check_x", "check", "CHECK ((id > 1))"),))),
        Renames(),
        [
            DropConstraint("users", Constraint("check_x", "check", "CHECK ((id > 0))")),
            AddConstraint("users", Constraint("check_x", "check", "CHECK ((id > 1))"), narrowing=True),
        ],
    ),
    (
        "new column with its index: column first",
        catalog(USERS),
        catalog(table("users", NAME, EMAIL, indexes=(ADD_EMAIL_INDEX,))),
        Renames(),
        [AddColumn("users", EMAIL), CreateIndex(ADD_EMAIL_INDEX)],
    ),
    (
        "dropped column with its index: index first, so the reverse restores it",
        catalog(table("users", NAME, EMAIL, indexes=(ADD_EMAIL_INDEX,))),
        catalog(USERS),
        Renames(),
        [DropIndex(ADD_EMAIL_INDEX), DropColumn("users", EMAIL)],
    ),
    (
        "functions: created before tables, replaced in place, dropped last",
        catalog(USERS, functions=(Function("f_old", "BEGIN RETURN NEW; END"), Function("f", "a"))),
        catalog(USERS, functions=(Function("f", "b"), Function("f_new", "BEGIN RETURN OLD; END"))),
        Renames(),
        [
            ReplaceFunction(Function("f", "a"), Function("f", "b")),
            CreateFunction(Function("f_new", "BEGIN RETURN OLD; END")),
            DropFunction(Function("f_old", "BEGIN RETURN NEW; END")),
        ],
    ),
]


@pytest.mark.parametrize(
    ("current", "desired", "renames", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_diff(current: Catalog, desired: Catalog, renames: Renames, expected: list[Change]) -> None:
    assert diff(current, desired, renames) == expected


@pytest.mark.parametrize(
    ("current", "desired", "renames", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_change_reverses_to_itself(
    current: Catalog, desired: Catalog, renames: Renames, expected: list[Change]
) -> None:
    for change in diff(current, desired, renames):
        assert change.reverse().reverse() == change


def test_referenced_tables_are_created_first_even_when_declared_after() -> None:
    posts = table("a_posts", Column("author", "integer"), constraints=(fk("a_posts", "author", "z_users"),))
    users = table("z_users", NAME)
    changes = diff(catalog(), catalog(posts, users))
    assert [c.table.name for c in changes if isinstance(c, CreateTable)] == ["z_users", "a_posts"]


def test_referencing_tables_are_dropped_first() -> None:
    posts = table("a_posts", Column("author", "integer"), constraints=(fk("a_posts", "author", "z_users"),))
    users = table("z_users", NAME)
    changes = diff(catalog(posts, users), catalog())
    assert [c.table.name for c in changes if isinstance(c, DropTable)] == ["a_posts", "z_users"]


def test_a_foreign_key_cycle_is_closed_after_both_tables_exist() -> None:
    a = table("a", Column("b_id", "integer"), constraints=(fk("a", "b_id", "b"),))
    b = table("b", Column("a_id", "integer"), constraints=(fk("b", "a_id", "a"),))
    changes = diff(catalog(), catalog(a, b))
    kinds = [type(c).__name__ for c in changes]
    assert kinds == ["CreateTable", "CreateTable", "AddConstraint"]
    created = {c.table.name: c.table for c in changes if isinstance(c, CreateTable)}
    deferred = next(c for c in changes if isinstance(c, AddConstraint))
    assert deferred.constraint.name not in {x.name for x in created[deferred.table].constraints}
    # and the reverse drops the deferred key before either table
    reverse = [c.reverse() for c in reversed(changes)]
    assert type(reverse[0]).__name__ == "DropConstraint"


def test_renamed_column_keeps_its_derived_index_by_renaming_it() -> None:
    before = table("users", NAME, indexes=(Index("idx_users_name", "users", ("name",)),))
    after = table(
        "users",
        Column("title", "character varying(255)"),
        indexes=(Index("idx_users_title", "users", ("title",)),),
    )
    changes = diff(catalog(before), catalog(after), Renames(columns=(("users", "name", "title"),)))
    assert changes == [
        RenameColumn("users", "name", "title"),
        RenameIndex("users", "idx_users_name", "idx_users_title"),
    ]


def test_renamed_referenced_table_updates_foreign_keys_pointing_at_it() -> None:
    users = table("users", NAME)
    posts = table("posts", Column("author", "integer"), constraints=(fk("posts", "author", "users"),))
    people = table("people", NAME)
    posts_after = table("posts", Column("author", "integer"), constraints=(fk("posts", "author", "people"),))
    changes = diff(catalog(users, posts), catalog(people, posts_after), Renames(tables=(("users", "people"),)))
    assert changes == [
        RenameTable("users", "people"),
        RenameConstraint("people", "users_pkey", "people_pkey"),
    ]


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("CHECK ((age >= 0))", {"age": "years"}, "CHECK ((years >= 0))"),
        ("CHECK ((name <> 'age'::text))", {"age": "years"}, "CHECK ((name <> 'age'::text))"),
        ("CHECK ((length(length) > 0))", {"length": "size"}, "CHECK ((length(size) > 0))"),
        ("CHECK (((text)::text = 'a'::text))", {"text": "body"}, "CHECK (((body)::text = 'a'::text))"),
        ('CHECK (("Odd" > 0))', {"Odd": "fine"}, "CHECK ((fine > 0))"),
        ("CHECK ((a > 0))", {"a": "select"}, 'CHECK (("select" > 0))'),
    ],
)
def test_identifier_substitution_leaves_literals_calls_and_types_alone(
    text: str, names: dict[str, str], expected: str
) -> None:
    assert substitute_identifiers(text, names) == expected


def test_trigger_on_renamed_table_follows_it() -> None:
    trigger = Trigger("a_trigger_users_updated_at", "users", "BEFORE", ("INSERT", "UPDATE"), "update_users_updated_at")
    renamed = Trigger(
        "a_trigger_people_updated_at", "people", "BEFORE", ("INSERT", "UPDATE"), "update_people_updated_at"
    )
    body = "BEGIN NEW.updated_at := CURRENT_TIMESTAMP; RETURN NEW; END"
    changes = diff(
        catalog(table("users", triggers=(trigger,)), functions=(Function("update_users_updated_at", body),)),
        catalog(table("people", triggers=(renamed,)), functions=(Function("update_people_updated_at", body),)),
        Renames(tables=(("users", "people"),)),
    )
    assert [type(c).__name__ for c in changes] == [
        "RenameTable",
        "RenameFunction",
        "RenameConstraint",
        "RenameTrigger",
    ]


ENUM = "CHECK (((plan)::text = ANY (ARRAY['free'::text, 'pro'::text])))"


@pytest.mark.parametrize(
    ("before", "after", "tightens_rows"),
    [
        (ENUM, ENUM.replace("'pro'::text", "'pro'::text, 'team'::text"), False),
        (ENUM, ENUM.replace(", 'pro'::text", ""), True),
        ("CHECK (((age >= 0) AND (age <= 120)))", "CHECK (((age >= 0) AND (age <= 150)))", False),
        ("CHECK (((age >= 0) AND (age <= 120)))", "CHECK (((age >= 18) AND (age <= 120)))", True),
        ("CHECK ((amount >= (0)::numeric))", "CHECK ((amount >= '-10'::numeric))", False),
        ("CHECK ((length(bio) <= 100))", "CHECK ((length(bio) <= 50))", True),
        ("CHECK ((a > 0))", "CHECK ((b > 0))", True),
    ],
)
def test_a_changed_check_is_narrowing_only_when_it_may_reject_existing_rows(
    before: str, after: str, tightens_rows: bool
) -> None:
    assert tightens(before, after) is tightens_rows


def test_a_new_check_on_an_existing_column_narrows_but_not_on_a_new_column() -> None:
    check = Constraint("check_age_range", "check", "CHECK ((age >= 0))", ("age",))
    old = table("users", Column("age", "integer"))
    with_check = table("users", Column("age", "integer"), constraints=(check,))
    [added] = diff(catalog(old), catalog(with_check))
    assert isinstance(added, AddConstraint) and added.narrowing
    assert "narrowing" in added.hazards()
    changes = diff(catalog(table("users")), catalog(with_check))
    assert [type(c).__name__ for c in changes] == ["AddColumn", "AddConstraint"]
    assert not changes[1].narrowing  # type: ignore[union-attr]


def test_changes_between_two_recorded_snapshots_know_renames_by_id() -> None:
    import json
    from pathlib import Path

    from sovrium_tui import services
    from sovrium_tui.schema import app_snapshot, load_app

    root = Path(__file__).parent.parent / "examples"
    v1, v2 = (json.loads(json.dumps(app_snapshot(load_app(root / "history" / f"crm.v{n}.yaml")))) for n in (1, 2))
    changes = services.changes_between(v1, v2)
    assert RenameColumn("contacts", "telephone", "phone") in changes
    assert not any(isinstance(c, DropColumn) for c in changes)


def test_renames_found_from_an_apps_names_alone_equal_those_found_from_the_app() -> None:
    """An offline plan knows the head plan's app by its names by id (they travel between processes)."""
    from sovrium_tui.planning.renames import naming_of, renames_between
    from sovrium_tui.schema import validate_document

    def app(table: str, field: str, related: str) -> dict[str, object]:
        fields = [
            {"id": 1, "name": field, "type": "single-line-text"},
            {"id": 2, "name": "tags", "type": "relationship", "relatedTable": related, "relationType": "many-to-many"},
        ]
        return {
            "name": "a",
            "tables": [{"id": 1, "name": table, "fields": fields}, {"id": 2, "name": related, "fields": fields[:1]}],
        }

    before = validate_document(app("people", "name", "labels"))
    after = validate_document(app("persons", "full_name", "tags_list"))
    renames = renames_between(before, after)
    assert renames.tables and renames.columns, "tables, columns and the junction table are renamed"
    assert renames_between(naming_of(before), after) == renames


def test_fields_trading_names_are_renamed_in_order_through_a_free_name() -> None:
    first, last = Column("first", "text"), Column("last", "text")
    current = Catalog(tables=(Table("people", (ID, first, last, NAME), (pk("people"),)),))
    desired = Catalog(
        tables=(Table("people", (ID, last, first, Column("alias", "character varying(255)")), (pk("people"),)),)
    )
    renames = Renames(columns=(("people", "first", "last"), ("people", "last", "first"), ("people", "name", "alias")))

    changes = diff(current, desired, renames)

    assert changes == [
        RenameColumn("people", "name", "alias"),
        RenameColumn("people", "first", "first_renaming"),
        RenameColumn("people", "last", "first"),
        RenameColumn("people", "first_renaming", "last"),
    ]
    assert summarize(changes) == "people: name → alias first → last last → first"


def test_tables_trading_names_are_renamed_through_a_free_name_their_keys_too() -> None:
    def table(name: str, *columns: Column) -> Table:
        return Table(name, (ID, *columns), (pk(name),))

    first, second = Column("first", "text"), Column("second", "text")
    current = Catalog(tables=(table("alpha", first), table("beta", second)))
    desired = Catalog(tables=(table("alpha", second), table("beta", first)))

    changes = diff(current, desired, Renames(tables=(("alpha", "beta"), ("beta", "alpha"))))

    assert changes == [
        RenameTable("alpha", "alpha_renaming"),
        RenameTable("beta", "alpha"),
        RenameTable("alpha_renaming", "beta"),
        # the primary keys' names are their indexes' names, one namespace for the schema: they trade the same way
        RenameConstraint("alpha", "beta_pkey", "beta_pkey_renaming"),  # on the tables as they are named by then
        RenameConstraint("beta", "alpha_pkey", "beta_pkey"),
        RenameConstraint("alpha", "beta_pkey_renaming", "alpha_pkey"),
    ]
    assert summarize(changes) == "rename alpha → beta, beta → alpha; alpha: altered; beta: altered"


def test_a_table_renamed_onto_the_name_of_a_dropped_one_moves_it_aside_first() -> None:
    current = Catalog(tables=(Table("a", (ID,)), Table("b", (ID, NAME))))
    desired = Catalog(tables=(Table("b", (ID,)),))  # b's id is gone from the schema; a takes its name

    changes = diff(current, desired, Renames(tables=(("a", "b"),)))

    assert changes[:2] == [RenameTable("b", "b_dropped"), RenameTable("a", "b")]
    assert [c for c in changes if isinstance(c, DropTable)] == [DropTable(Table("b_dropped", (ID, NAME)))]
    assert summarize(changes) == "drop table b; rename a → b"


def test_a_chain_of_table_renames_runs_from_its_free_end() -> None:
    current = Catalog(tables=(Table("a", (ID,)), Table("b", (ID, NAME))))
    desired = Catalog(tables=(Table("b", (ID,)), Table("c", (ID, NAME))))

    changes = diff(current, desired, Renames(tables=(("a", "b"), ("b", "c"))))

    assert changes == [RenameTable("b", "c"), RenameTable("a", "b")]


def test_an_index_renamed_onto_a_name_another_table_leaves_only_later_is_made_again() -> None:
    # t2's index would take the name of t1's, which t1 drops only after the renames: PostgreSQL refuses that rename
    shared, kept = Index("idx_shared", "t1", ("name",)), Index("idx_old", "t2", ("name",))
    current = Catalog(tables=(Table("t1", (ID, NAME), indexes=(shared,)), Table("t2", (ID, NAME), indexes=(kept,))))
    wanted = replace(kept, name="idx_shared")
    desired = Catalog(tables=(Table("t1", (ID, NAME)), Table("t2", (ID, NAME), indexes=(wanted,))))

    changes = diff(current, desired)

    assert not [c for c in changes if isinstance(c, RenameIndex)]
    assert changes.index(DropIndex(shared)) < changes.index(CreateIndex(wanted))
    assert DropIndex(kept) in changes


def test_a_rename_onto_a_name_a_column_keeps_is_a_drop_and_an_add() -> None:
    current = Catalog(tables=(Table("people", (ID, NAME, EMAIL), (pk("people"),)),))
    desired = Catalog(tables=(Table("people", (ID, EMAIL), (pk("people"),)),))

    changes = diff(current, desired, Renames(columns=(("people", "name", "email"),)))

    assert not any(isinstance(change, RenameColumn) for change in changes)
    assert DropColumn("people", NAME) in changes


def test_a_changed_formula_is_named_in_the_summary_and_the_steps_that_only_compute_are_not() -> None:
    computed_again = ComputeColumns("tasks", ("label", "shout"), ("a_trigger_tasks_updated_at",))
    assert summarize([ComputeColumns("tasks", ("label",), on_rollback=True), computed_again]) == "tasks: ~label ~shout"
    assert summarize([ComputeColumns("tasks", ("label",), empty_only=True)]) == ""


def test_a_column_losing_or_gaining_its_sequence_keeps_its_values() -> None:
    serial = table("users", NAME)
    plain = replace(serial, columns=(Column("id", "integer", nullable=False), NAME))
    assert diff(catalog(serial), catalog(plain)) == [DetachSequence("users", "id", "integer", "users_id_seq")]
    read = replace(serial, columns=(replace(ID, sequence="members_id_seq"), NAME))  # as a database named it
    assert diff(catalog(read), catalog(plain)) == [DetachSequence("users", "id", "integer", "members_id_seq")]
    assert diff(catalog(plain), catalog(serial)) == [AttachSequence("users", "id", "integer", "users_id_seq")]

    optional = replace(serial, columns=(Column("id", "integer"), NAME))
    assert diff(catalog(optional), catalog(serial)) == [
        AttachSequence("users", "id", "integer", "users_id_seq"),
        SetNotNull("users", "id", "nextval('public.users_id_seq'::regclass)"),  # empty ids numbered, as SERIAL
    ]
    with_default = replace(serial, columns=(Column("id", "bigint", nullable=False, default="0"), NAME))
    assert [type(c).__name__ for c in diff(catalog(with_default), catalog(serial))] == [
        "SetDefault",
        "AlterColumnType",
        "AttachSequence",
    ]
    big = replace(serial, columns=(replace(ID, type="bigint"), NAME))  # a key made bigserial: a bigint sequence
    resequenced = diff(catalog(serial), catalog(big))
    assert [type(c).__name__ for c in resequenced] == ["DetachSequence", "AlterColumnType", "AttachSequence"]
    assert (resequenced[0], resequenced[2]) == (
        DetachSequence("users", "id", "integer", "users_id_seq"),
        AttachSequence("users", "id", "bigint", "users_id_seq"),
    )
    # a sequence stays with integers: a serial key turned uuid or text gets new values, as a new column would
    for other in ("uuid", "text"):
        other_id = replace(serial, columns=(Column("id", other, nullable=False), NAME))
        kinds = [type(c).__name__ for c in diff(catalog(serial), catalog(other_id))]
        assert kinds == ["DropConstraint", "DropColumn", "AddColumn", "AddConstraint"]  # its key goes with it


def test_a_sequence_is_attached_as_serial_makes_it_and_set_after_the_largest_value() -> None:
    attach = AttachSequence("My Table", "id", "bigint", "My Table_id_seq")
    assert forward_sql(attach) == (
        'CREATE SEQUENCE public."My Table_id_seq" AS bigint OWNED BY public."My Table".id',
        'ALTER TABLE public."My Table" ALTER COLUMN id SET DEFAULT nextval(\'public."My Table_id_seq"\'::regclass)',
        "SELECT setval('public.\"My Table_id_seq\"'::regclass, GREATEST(max(id), 0)::bigint + 1, false)"
        ' FROM public."My Table"',
    )
    assert forward_sql(attach.reverse()) == (
        'ALTER TABLE public."My Table" ALTER COLUMN id DROP DEFAULT',
        'DROP SEQUENCE public."My Table_id_seq"',
    )


def test_a_column_between_uuid_and_a_type_whose_text_is_never_a_uuid_is_made_again() -> None:
    uuid = table("users", Column("code", "uuid"))
    for other in ("integer", "bigint", "numeric", "date", "boolean", "timestamp with time zone"):
        changed = replace(uuid, columns=(ID, Column("code", other)))
        assert [type(c).__name__ for c in diff(catalog(uuid), catalog(changed))] == ["DropColumn", "AddColumn"]
        assert [type(c).__name__ for c in diff(catalog(changed), catalog(uuid))] == ["DropColumn", "AddColumn"]
    as_text = replace(uuid, columns=(ID, Column("code", "text")))  # a text may hold a uuid: converted
    assert [type(c).__name__ for c in diff(catalog(as_text), catalog(uuid))] == ["AlterColumnType"]
