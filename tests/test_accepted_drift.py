"""The three-way merge that carries accepted drift through a plan: the plan's target, with what the live database
had accepted wherever the plan leaves the object alone (no database: catalogs only)."""

from __future__ import annotations

from dataclasses import replace

from sovrium_tui.catalog.model import Catalog, Column, Index, Policy, Table
from sovrium_tui.planning.accepted import with_accepted_drift
from sovrium_tui.planning.diff import diff

ID = Column("id", "integer", nullable=False)
TITLE = Column("title", "text")
NOTE = Column("note", "text")
HACK = Column("hack", "integer")
BY_TITLE = Index("items_title_idx", "items", ("title",))
BY_HAND = Index("items_hack_idx", "items", ("hack",))

RECORDED = Catalog(tables=(Table("items", (ID, TITLE), indexes=(BY_TITLE,)), Table("tags", (ID,))))


def _with_items(catalog: Catalog, **changes: object) -> Catalog:
    return replace(catalog, tables=tuple(replace(t, **changes) if t.name == "items" else t for t in catalog.tables))


def test_drift_on_objects_the_plan_leaves_alone_is_kept() -> None:
    live = _with_items(RECORDED, columns=(ID, TITLE, HACK), indexes=(BY_TITLE, BY_HAND), row_security=True)
    noted = _with_items(RECORDED, columns=(ID, TITLE, NOTE))
    target = replace(noted, tables=(*noted.tables, Table("orders", (ID,))))

    merged = with_accepted_drift(RECORDED, target, live)

    items = merged.table("items")
    assert items is not None
    assert {c.name for c in items.columns} == {"id", "title", "note", "hack"}
    assert items.indexes == (BY_HAND, BY_TITLE)
    assert items.row_security
    assert merged.table("orders") is not None and merged.table("tags") == RECORDED.table("tags")
    # From the live database, the plan's changes are all that is left to do: nothing accepted is undone.
    assert [change.summary() for change in diff(live, merged)] == [
        "create table orders (1 columns)",
        "add column items.note (text)",
    ]


def test_what_the_plan_changes_wins_over_drift_on_the_same_object() -> None:
    live = _with_items(RECORDED, columns=(ID, replace(TITLE, type="character varying(80)")))
    target = _with_items(RECORDED, columns=(ID, replace(TITLE, type="character varying(255)")))

    items = with_accepted_drift(RECORDED, target, live).table("items")

    assert items is not None and items.column("title") == replace(TITLE, type="character varying(255)")


def test_an_object_dropped_by_hand_and_accepted_stays_dropped_unless_the_plan_changes_it() -> None:
    live = replace(RECORDED, tables=(Table("items", (ID, TITLE)),))  # tags dropped, the title index too
    target = _with_items(RECORDED, columns=(ID, TITLE, NOTE))

    merged = with_accepted_drift(RECORDED, target, live)

    assert merged.table("tags") is None
    items = merged.table("items")
    assert items is not None and items.indexes == () and items.column("note") == NOTE


def test_a_policy_accepted_and_a_plan_that_changes_nothing_or_a_database_without_drift() -> None:
    policy = Policy("mine", "SELECT", using="true")
    live = _with_items(RECORDED, policies=(policy,))
    target = _with_items(RECORDED, columns=(ID, TITLE, NOTE))

    items = with_accepted_drift(RECORDED, target, live).table("items")
    assert items is not None and items.policies == (policy,)
    assert with_accepted_drift(RECORDED, RECORDED, live) == live
    assert with_accepted_drift(RECORDED, target, RECORDED) == target


def test_accepted_drift_follows_a_renamed_table_and_goes_with_a_dropped_column() -> None:
    from sovrium_tui.planning.diff import Renames

    policy = Policy("mine", "SELECT", using="(hack > 0)")
    live = _with_items(RECORDED, columns=(ID, TITLE, HACK), indexes=(BY_TITLE, BY_HAND), policies=(policy,))
    recorded = _with_items(RECORDED, columns=(ID, TITLE, HACK))
    things = Table("things", (ID, TITLE), indexes=(replace(BY_TITLE, table="things"),))
    target = replace(recorded, tables=tuple(things if t.name == "items" else t for t in recorded.tables))

    merged = with_accepted_drift(recorded, target, live, Renames(tables=(("items", "things"),)))

    things = merged.table("things")
    assert things is not None and merged.table("items") is None
    # The hand index and the policy read `hack`, which the plan drops: they go with it; the title index stays.
    assert things.indexes == (replace(BY_TITLE, table="things"),) and things.policies == ()
    assert [change.summary() for change in diff(live, merged, Renames(tables=(("items", "things"),)))] == [
        "rename table items to things (rows kept)",
        "drop index items_hack_idx on things",
        "drop policy mine on things (FOR SELECT TO public USING ((hack > 0)))",
        "drop column things.hack and its values",
    ]
