"""Which targets a command runs on: the file's targets, narrowed by `--only KEY=VALUE …`, then `--shard I/N`.

`--only` compares labels (and `name`, the target's name): a target matches when, for every key given, it has
one of the values given for that key (`--only region=eu --only region=us --only tier=canary` is "in eu or us,
and a canary"). A selection that matches nothing is an error, so a mistyped label never passes as "done".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sovrium_tui.errors import UsageError
from sovrium_tui.fleet.shard import Shard
from sovrium_tui.fleet.targets import Target, load_targets
from sovrium_tui.records import record


@record
class Selector:
    """`--only KEY=VALUE …`, each key with the values any of which it accepts."""

    wanted: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, terms: Sequence[str]) -> Selector:
        wanted: dict[str, list[str]] = {}
        for term in terms:
            key, equals, value = term.partition("=")
            if not equals or not key or not value:
                raise UsageError(f"--only takes KEY=VALUE (a label, or name=TARGET), got {term!r}")
            wanted.setdefault(key, []).append(value)
        return cls(tuple((key, tuple(values)) for key, values in wanted.items()))

    def matches(self, target: Target) -> bool:
        return all((target.name if key == "name" else target.label(key)) in values for key, values in self.wanted)

    def __str__(self) -> str:
        return " ".join(f"{key}={value}" for key, values in self.wanted for value in values)


@record
class Selection:
    """The targets a command runs on, in file order, and how they were chosen from the file."""

    source: str
    targets: tuple[Target, ...]
    in_file: int
    selector: Selector = Selector()
    shard: Shard | None = None

    def narrowed(self, names: Sequence[str]) -> Selection:
        """The same selection cut down to `names` (the TUI applies to one group of it)."""
        wanted = set(names)
        return Selection(self.source, tuple(t for t in self.targets if t.name in wanted), self.in_file, self.selector)

    def describe(self) -> str:
        parts = [f"{len(self.targets)} of {self.in_file} targets in {self.source}"]
        if self.selector.wanted:
            parts.append(f"--only {self.selector}")
        if self.shard is not None:
            parts.append(f"shard {self.shard}")
        return ", ".join(parts)


def select_targets(
    path: str | Path,
    *,
    only: Sequence[str] = (),
    shard: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Selection:
    """Read the targets file and narrow it by `--only`, then take `--shard` of what is left."""
    selector = Selector.parse(only)
    chosen_shard = Shard.parse(shard) if shard is not None else None
    everything = load_targets(path, environ)
    matching = tuple(t for t in everything if selector.matches(t))
    if not matching:
        known = sorted({f"{key}={value}" for t in everything for key, value in t.labels})
        listing = "labels there: " + ", ".join(known) if known else "they have no labels"
        raise UsageError(f"--only {selector} matches none of the {len(everything)} targets in {path} ({listing})")
    chosen = chosen_shard.take(matching) if chosen_shard else matching
    return Selection(str(path), chosen, len(everything), selector, chosen_shard)
