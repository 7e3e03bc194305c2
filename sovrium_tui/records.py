"""`@record`: a frozen, slotted dataclass that costs nothing to define until it is used.

`@dataclass(frozen=True, slots=True)` compiles six functions from source text for every class (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`), one `exec` each: about 1.3 ms a class on
Python 3.11, and a command that plans imports about ninety of them — 0.1 s before it reads a file, though most
of those classes are never made in a given command, and fewer are compared. A record is the same class made by
the standard `dataclass` (so `dataclasses.fields`, `replace` and `asdict` work, and it is a dataclass to every
tool and to mypy), asked for slots only; its `__init__`, `__eq__` and `__hash__` are the code the standard
decorator writes, compiled the first time each is called (then they are the class's own, as fast as a
dataclass's); `__setattr__` and `__delattr__` raise, as a frozen dataclass's do.

What a record does, as `@dataclass(frozen=True, slots=True)` would: positional `__init__` with defaults and
`field(default_factory=…, init=False)`, then `__post_init__`; assigning or deleting a field raises
`FrozenInstanceError`; equal when of the same class with equal `compare` fields; hashed by those fields; a repr
of its `repr` fields. `kw_only` fields are refused; `InitVar` is not supported. `__dataclass_params__` says
`frozen=False`: the standard flag is the only thing it does not set. A record pickles as a call of its class
with its `init` fields (a catalog of thousands of tables comes back from a child process three times faster
than with the default for slotted dataclasses, which reads and sets each field in Python).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")
_NO_VALUE = object()  # the default of a field with a default_factory, in the compiled __init__'s signature


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[_T]) -> type[_T]:
    """Make `cls` a frozen, slotted dataclass; see the module's docstring."""
    if cls.__doc__ is None:  # else the standard decorator computes one from the signature (inspect, 0.3 ms)
        cls.__doc__ = cls.__name__
    made: Any = dataclasses.dataclass(init=False, repr=False, eq=False, slots=True)(cls)
    fields = dataclasses.fields(made)
    for f in fields:
        if f.kw_only:
            raise TypeError(f"{made.__qualname__}.{f.name}: a record has no keyword-only fields")
    compared = tuple(f.name for f in fields if f.compare)
    hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
    own = made.__dict__  # methods the class writes itself are kept, as the standard decorator keeps them
    own_hash = own.get("__hash__", MISSING)  # None when the class writes __eq__ alone: then a hash is made
    explicit_hash = not (own_hash is MISSING or (own_hash is None and "__eq__" in own))
    if "__init__" not in own:
        _compile_on_first_call(made, "__init__", lambda: _init_source(made, fields))
    if "__eq__" not in own:
        _compile_on_first_call(made, "__eq__", lambda: _eq_source(compared))
    if not explicit_hash:
        _compile_on_first_call(made, "__hash__", lambda: _hash_source(hashed))
    shown = tuple(f.name for f in fields if f.repr)
    given = operator.attrgetter(*(f.name for f in fields if f.init)) if any(f.init for f in fields) else None
    single = sum(f.init for f in fields) == 1

    def __repr__(self: Any) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        if given is None:
            return made, ()
        return made, (given(self),) if single else given(self)

    for function in (__repr__, __reduce__):
        if function.__name__ in own:
            continue
        function.__qualname__ = f"{made.__qualname__}.{function.__name__}"
        setattr(made, function.__name__, function)
    made.__setattr__ = _frozen_setattr
    made.__delattr__ = _frozen_delattr
    return made  # type: ignore[no-any-return]


def _compile_on_first_call(cls: Any, name: str, source: Callable[[], tuple[str, dict[str, Any]]]) -> None:
    """Set `cls.<name>` to a stand-in that compiles the method from its source the first time it is called,
    puts it in its own place on the class, and calls it (later calls go straight to it)."""

    def first_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        text, namespace = source()
        exec(text, namespace)  # our own text, from the class's field names
        method = namespace[name]
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        type.__setattr__(cls, name, method)
        return method(self, *args, **kwargs)

    first_call.__qualname__ = f"{cls.__qualname__}.{name}"
    type.__setattr__(cls, name, first_call)


def _values(names: tuple[str, ...], of: str) -> str:
    return "(" + "".join(f"{of}.{name}," for name in names) + ")"


def _eq_source(names: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    text = (
        "def __eq__(self, other):\n"
        "    if other.__class__ is self.__class__:\n"
        f"        return {_values(names, 'self')} == {_values(names, 'other')}\n"
        "    return NotImplemented\n"
    )
    return text, {}


def _hash_source(names: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    return f"def __hash__(self):\n    return hash({_values(names, 'self')})\n", {}


def _init_source(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> tuple[str, dict[str, Any]]:
    """`__init__` as the standard decorator writes it for a frozen class, each field set through its slot."""
    namespace: dict[str, Any] = {"_NO_VALUE": _NO_VALUE}
    parameters = ["self"]
    body = []
    for index, f in enumerate(fields):
        setter = f"_set{index}"
        namespace[setter] = getattr(cls, f.name).__set__  # the slot's descriptor: bypasses the frozen __setattr__
        if f.default_factory is not MISSING:
            namespace[f"_factory{index}"] = f.default_factory
            if f.init:
                parameters.append(f"{f.name}=_NO_VALUE")
                value = f"_factory{index}() if {f.name} is _NO_VALUE else {f.name}"
            else:
                value = f"_factory{index}()"
        elif f.init:
            if f.default is not MISSING:
                namespace[f"_default{index}"] = f.default
                parameters.append(f"{f.name}=_default{index}")
            else:
                parameters.append(f.name)
            value = f.name
        elif f.default is not MISSING:
            namespace[f"_default{index}"] = f.default
            value = f"_default{index}"
        else:
            continue  # set by __post_init__
        body.append(f"    {setter}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    return f"def __init__({', '.join(parameters)}):\n" + ("\n".join(body) or "    pass") + "\n", namespace


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")
