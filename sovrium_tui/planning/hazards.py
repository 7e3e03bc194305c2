"""The hazards a plan step can carry: their names, and which ones lose data.

Kept apart from `planning.changes` (dozens of dataclasses, ~30 ms to import): reading or applying a plan file
checks a step's hazards without the changes that made them.
"""

from __future__ import annotations

from typing import Literal

Hazard = Literal["data-loss", "table-rewrite", "exclusive-lock", "fails-on-existing-rows", "narrowing"]
HAZARDS: tuple[Hazard, ...] = (
    "data-loss",
    "table-rewrite",
    "exclusive-lock",
    "fails-on-existing-rows",
    "narrowing",
)
DESTRUCTIVE_HAZARDS = frozenset({"data-loss", "narrowing"})


def is_destructive(hazards: tuple[str, ...] | list[str]) -> bool:
    return any(h in DESTRUCTIVE_HAZARDS for h in hazards)
