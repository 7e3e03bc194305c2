"""`--shard I/N`: one of N disjoint, balanced parts of a selection, the same on every machine.

I is 1-based (1..N), as GitLab's `CI_NODE_INDEX` is; a GitHub Actions matrix lists `[1, 2, …, N]`, and a
Kubernetes Indexed Job (0-based `JOB_COMPLETION_INDEX`) passes `$((JOB_COMPLETION_INDEX + 1))/N`.

The selection is dealt round-robin in file order: the target at 0-based position p belongs to shard
(p mod N) + 1. So shard sizes differ by at most one, every target is in exactly one shard, and the answer
depends only on the file and the selection (no hashing, clock or host). Dealing rather than cutting in
blocks also means the first N targets of the file open one shard each: list canaries first, and each
shard's `--canary 1` is one of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from sovrium_tui.errors import UsageError
from sovrium_tui.records import record

Item = TypeVar("Item")

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@record
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.match(text)
        if match is None:
            raise UsageError(f"--shard takes I/N with 1 ≤ I ≤ N (e.g. 2/4), got {text!r}")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise UsageError(f"--shard {text}: I must be between 1 and N (shards are numbered from 1), N at least 1")
        return cls(index, count)

    def take(self, items: Sequence[Item]) -> tuple[Item, ...]:
        """This shard's items, in their order."""
        return tuple(items[self.index - 1 :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
