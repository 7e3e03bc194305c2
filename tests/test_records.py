"""A record behaves as `@dataclass(frozen=True, slots=True)` does, for every feature the project uses."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any, Generic, TypeVar

import pytest

from sovrium_tui.records import record

_T = TypeVar("_T")


@record
class Point:
    x: int
    y: int = 0
    label: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class StandardPoint:
    x: int
    y: int = 0
    label: str = field(default="", compare=False)


@record
class Bag:
    """Defaults from factories, a field set by __post_init__, one not hashed."""

    name: str
    items: tuple[str, ...] = field(default_factory=tuple)
    seen: list[str] = field(default_factory=list, init=False, compare=False, repr=False)
    size: int = field(init=False, compare=False, repr=False)
    note: str = field(default="n", hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", len(self.items))


@record
class Boxed(Generic[_T]):
    value: _T


@record
class Empty:
    pass


def test_construction_defaults_and_post_init_are_those_of_a_dataclass() -> None:
    assert (Point(1).x, Point(1).y, Point(1, 2, "a").label) == (1, 0, "a")
    bag = Bag("b", ("x", "y"))
    assert (bag.items, bag.seen, bag.size, bag.note) == (("x", "y"), [], 2, "n")
    assert Bag("a").seen is not Bag("a").seen  # a factory per instance
    assert Boxed[int](3).value == 3
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Bag("a", size=3)  # type: ignore[call-arg]


def test_fields_cannot_be_assigned_or_deleted() -> None:
    point = Point(1)
    with pytest.raises(FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del point.x
    with pytest.raises(AttributeError):
        point.z = 1  # type: ignore[attr-defined]
    assert not hasattr(point, "__dict__")


@pytest.mark.parametrize(
    ("a", "b"),
    [((1, 2, "a"), (1, 2, "b")), ((1, 2), (1, 3)), ((1,), (2,)), ((0, 0, "x"), (0, 0, "x"))],
)
def test_equality_and_hash_agree_with_the_standard_dataclass(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    assert (Point(*a) == Point(*b)) == (StandardPoint(*a) == StandardPoint(*b))
    assert (Point(*a) != Point(*b)) == (StandardPoint(*a) != StandardPoint(*b))
    if Point(*a) == Point(*b):
        assert hash(Point(*a)) == hash(Point(*b))
    assert len({Point(*a), Point(*b)}) == len({StandardPoint(*a), StandardPoint(*b)})


def test_a_record_never_equals_another_class_with_the_same_values() -> None:
    assert Point(1, 2) != StandardPoint(1, 2)
    assert Point(1, 2) != (1, 2)
    assert Empty() == Empty()
    assert hash(Empty()) == hash(Empty())


def test_hash_leaves_out_the_fields_said_not_hashed() -> None:
    assert Bag("a", ("x",), "one") != Bag("a", ("x",), "two")
    assert hash(Bag("a", ("x",), "one")) == hash(Bag("a", ("x",), "two"))


def test_repr_shows_the_repr_fields_as_a_dataclass_does() -> None:
    assert repr(Point(1, 2, "a")) == repr(StandardPoint(1, 2, "a")).replace("StandardPoint", "Point")
    assert repr(Bag("b")) == "Bag(name='b', items=(), note='n')"
    assert repr(Empty()) == "Empty()"


def test_the_dataclass_functions_work_on_records() -> None:
    assert [f.name for f in dataclasses.fields(Point)] == ["x", "y", "label"]
    assert dataclasses.replace(Point(1, 2, "a"), y=5) == Point(1, 5, "a")
    assert dataclasses.replace(Bag("b", ("x",)), items=("x", "y")).size == 2
    assert dataclasses.asdict(Point(1, 2, "a")) == {"x": 1, "y": 2, "label": "a"}
    assert Point.__match_args__ == ("x", "y", "label")
    match Point(1, 2):
        case Point(1, y):
            assert y == 2
        case _:
            pytest.fail("did not match")
    assert dataclasses.is_dataclass(Point)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickled_and_copied_records_come_back_equal_with_their_derived_fields(protocol: int) -> None:
    bag = Bag("b", ("x", "y"), "m")
    back = pickle.loads(pickle.dumps(bag, protocol))
    assert (back, back.size, back.note) == (bag, 2, "m")
    assert pickle.loads(pickle.dumps(Point(1, 2, "a"), protocol)).label == "a"
    assert pickle.loads(pickle.dumps(Empty(), protocol)) == Empty()
    assert copy.copy(bag) == bag
    assert copy.deepcopy(bag).size == 2


def test_keyword_only_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="keyword-only"):

        @record
        class Keyword:
            a: int = field(kw_only=True)


def test_methods_the_class_writes_itself_are_kept_as_a_dataclass_keeps_them() -> None:
    @record
    class Loose:  # noqa: PLW1641 - the record makes the hash, as the standard decorator does
        value: float

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Loose) and round(self.value) == round(other.value)

        def __repr__(self) -> str:
            return f"~{self.value}"

    assert Loose(1.0) == Loose(1.2)
    assert repr(Loose(2.0)) == "~2.0"
    assert hash(Loose(1.0)) == hash(Loose(1.0))  # __eq__ alone written: a hash of the fields is made


def test_a_method_is_the_same_before_and_after_its_first_call() -> None:
    @record
    class Fresh:
        a: int
        b: tuple[int, ...] = ()

    first, second = Fresh(1, (2,)), Fresh(1, (2,))
    assert (first == second, hash(first) == hash(second), first != Fresh(2)) == (True, True, True)
    assert (Fresh(1, (2,)) == second, hash(Fresh(1, (2,))) == hash(second)) == (True, True)
