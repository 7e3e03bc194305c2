"""A directory of plan files: read them all, and check that they form one chain up to a head.

The head is the plan with the highest version; its chain is followed through `from` back to version 0, or to a
version reached without plan files (by `sovrium migrate` or Sovrium) when no earlier plan is in the directory.
A plan that is not on the head's chain (one rolled back and superseded, say) is reported, never applied.
"""

from __future__ import annotations

from pathlib import Path

from sovrium_tui.errors import PlanEdited, PlanInvalid, SovriumError
from sovrium_tui.planning.plan import PLAN_FILE, Plan, SqlCheck, load_plan
from sovrium_tui.records import record


@record
class PlanFile:
    path: Path
    plan: Plan


@record
class PlanDirectory:
    path: Path
    files: tuple[PlanFile, ...]  # by version
    problems: tuple[str, ...]  # what makes the directory unusable (broken files, broken chain)
    off_chain: tuple[PlanFile, ...] = ()

    @property
    def head(self) -> PlanFile | None:
        return self.files[-1] if self.files else None

    @property
    def chain(self) -> tuple[PlanFile, ...]:
        """The head's ancestry, oldest first."""
        left_off = {f.plan.version for f in self.off_chain}
        return tuple(f for f in self.files if f.plan.version not in left_off)

    @property
    def base(self) -> int:
        """The version the chain starts from: 0, or one databases reached without a plan file."""
        chain = self.chain
        return chain[0].plan.from_version if chain else 0

    def by_version(self, version: int) -> PlanFile | None:
        return next((f for f in self.files if f.plan.version == version), None)

    def require_sound(self) -> None:
        if self.problems:
            raise PlanInvalid("plans directory is broken: " + "; ".join(self.problems), location=str(self.path))


def read_plan_directory(path: Path, *, check_sql: SqlCheck = "edited", list_edited: bool = False) -> PlanDirectory:
    """Every plan file in `path` (a missing directory is an empty one), with what is wrong with them.

    With `list_edited`, a plan whose digest does not match is listed too (as well as named as a problem), so a
    status can say "edited after apply" instead of leaving it out.
    """
    if not path.exists():
        return PlanDirectory(path, (), ())
    if not path.is_dir():
        return PlanDirectory(path, (), (f"{path} is not a directory",))
    problems: list[str] = []
    files: list[PlanFile] = []
    for entry in sorted(path.iterdir()):
        if entry.suffix not in (".yaml", ".yml"):
            continue
        match = PLAN_FILE.match(entry.name)
        if match is None:
            problems.append(f"{entry.name}: plan files are named NNNN_slug.yaml")
            continue
        try:
            plan = load_plan(entry, check_digest=not list_edited, check_sql=check_sql)
        except (PlanInvalid, PlanEdited) as failure:
            problems.append(failure.render())
            continue
        except SovriumError as failure:
            problems.append(f"{entry.name}: {failure.render()}")
            continue
        if not plan.digest_ok:
            problems.append(
                f"{entry.name}: edited after it was made (digest mismatch); review it, then "
                f"`sovrium plan --rehash {entry}`"
            )
        if int(match.group(1)) != plan.version:
            problems.append(f"{entry.name}: file name says version {int(match.group(1))}, plan says {plan.version}")
        files.append(PlanFile(entry, plan))
    files.sort(key=lambda f: f.plan.version)
    problems.extend(_duplicate_versions(files))
    off_chain, chain_problems = _walk_chain(files)
    problems.extend(chain_problems)
    return PlanDirectory(path, tuple(files), tuple(problems), tuple(off_chain))


def _duplicate_versions(files: list[PlanFile]) -> list[str]:
    seen: dict[int, Path] = {}
    problems = []
    for file in files:
        if file.plan.version in seen:
            problems.append(
                f"{file.path.name} and {seen[file.plan.version].name} both make version {file.plan.version} "
                "(planned on two branches?): keep the one a database has applied, remove the other, and run "
                "`sovrium plan` again to plan its changes after the one kept"
            )
        seen[file.plan.version] = file.path
    return problems


def _walk_chain(files: list[PlanFile]) -> tuple[list[PlanFile], list[str]]:
    """Follow `from` links down from the head; return the plans left off it and any broken link."""
    if not files:
        return [], []
    by_version = {f.plan.version: f for f in files}
    on_chain: set[int] = set()
    current: PlanFile | None = files[-1]
    problems: list[str] = []
    while current is not None:
        on_chain.add(current.plan.version)
        plan = current.plan
        if plan.from_version == 0:
            if plan.from_checksum is not None:
                problems.append(f"{current.path.name}: starts from version 0 but names a checksum")
            break
        parent = by_version.get(plan.from_version)
        if parent is None:
            # A chain may begin at a version reached without plan files (`sovrium migrate` at start-up, Sovrium
            # itself): a database is checked to be exactly there when the first plan applies. With plans of
            # earlier versions present, a file is missing from the middle instead.
            if any(f.plan.version < plan.from_version for f in files):
                problems.append(
                    f"{current.path.name}: starts from version {plan.from_version}, which has no plan file (a "
                    "version reached by `sovrium migrate` or Sovrium has none: move the plans before it to archive/ "
                    "so that the chain starts there)"
                )
            break
        if parent.plan.to_checksum != plan.from_checksum:
            problems.append(
                f"{current.path.name}: starts from checksum {str(plan.from_checksum)[:12]} but "
                f"{parent.path.name} ends at {parent.plan.to_checksum[:12]}"
            )
            break
        if parent.plan.version >= plan.version:
            problems.append(f"{current.path.name}: starts from a later version {parent.plan.version}")
            break
        current = parent
    off_chain = [f for f in files if f.plan.version not in on_chain]
    return off_chain, problems
