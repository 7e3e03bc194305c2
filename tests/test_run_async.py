"""A one-shot command's coroutine runs to its value without that value ever being formatted as text."""

from __future__ import annotations

import pytest

from sovrium_tui.services import run_async


class Outcome:
    """A result that counts how often it is turned into text (a big plan's outcome takes 0.3 s)."""

    formatted = 0

    def __repr__(self) -> str:
        Outcome.formatted += 1
        return "Outcome()"


async def produce() -> Outcome:
    return Outcome()


async def fail() -> Outcome:
    raise LookupError("no such plan")


def test_the_value_comes_back_unformatted() -> None:
    Outcome.formatted = 0
    assert isinstance(run_async(produce()), Outcome)
    assert Outcome.formatted == 0


def test_an_error_comes_out_as_raised() -> None:
    with pytest.raises(LookupError, match="no such plan"):
        run_async(fail())
