"""The checks a plan or rollback passes before it may change anything, each with the refusal it raises.

Bookkeeping (the stored checksum belongs to the stored snapshot), binding (the plan belongs to this app and
starts where the database is, at the next version), drift (the live schema is what was recorded), the
lock-table ceiling (the transaction can hold every lock it will take), and the final verification (the
database is what the plan promised).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sovrium_tui.catalog.introspect import fingerprint, introspect
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.errors import DriftDetected, PlanStale, PlanTooLarge, SovriumError, VerificationFailed

if TYPE_CHECKING:
    import asyncpg

    from sovrium_tui.execution.store import RecordedState
    from sovrium_tui.planning.changes import Change
    from sovrium_tui.planning.plan import Plan, Step

CatalogFor = Callable[[Mapping[str, Any]], Catalog]

# Lock-table ceiling. Measured (DESIGN §8, 19-column tables with 5 indexes): creating one table holds ≈15
# (PostgreSQL 15) to ≈18 (18) locks until commit, and dropping one about as many; other steps hold a few. The
# shared lock table is sized max_locks_per_transaction × (max_connections + max_prepared_transactions +
# background processes) and also borrows spare shared memory: with the defaults (64 × 100) one transaction
# failed with "out of shared memory" at ≈19,200 (PG15) and ≈20,500 (PG18) locks, i.e. about 3 × 64 × 100. So a
# plan is refused up front when its estimate exceeds LOCK_TABLE_HEADROOM × max_locks_per_transaction ×
# (max_connections + max_prepared_transactions); the estimate errs high and the headroom low.
LOCKS_PER_TABLE_STATEMENT = 20
LOCKS_PER_OTHER_STEP = 4
LOCK_TABLE_HEADROOM = 3


def check_stored_checksum(state: RecordedState) -> None:
    """Refuse when the stored checksum is not the checksum of the stored snapshot: the bookkeeping was edited."""
    from sovrium_tui.schema.checksum import checksum_of_tables

    tables = state.schema.get("tables", [])
    if checksum_of_tables(tables if isinstance(tables, list) else []) != state.checksum:
        raise DriftDetected(
            "Schema drift detected: checksum mismatch. The stored checksum does not match the recalculated "
            "checksum from the stored schema. This indicates database tampering or corruption."
        )


def check_same_app(state: RecordedState | None, plan: Plan) -> None:
    """Refuse a plan made for another app than the one this database holds."""
    recorded = state.schema.get("name") if state is not None else None
    if isinstance(recorded, str) and recorded and recorded != plan.app:
        raise PlanStale(
            f"plan {plan.version} is for app {plan.app!r}, but this database holds app {recorded!r}: "
            "is this the right database (--database-url / DATABASE_URL)?"
        )


def check_not_stale(state: RecordedState | None, plan: Plan) -> None:
    """Refuse a plan made from another version or checksum than the database records."""
    recorded_version, recorded_checksum = (state.version, state.checksum) if state else (0, None)
    if (recorded_version, recorded_checksum) == (plan.from_version, plan.from_checksum):
        return
    raise PlanStale(
        f"plan is stale: it was made from version {plan.from_version} (checksum "
        f"{short(plan.from_checksum)}) but the database is at version {recorded_version} (checksum "
        f"{short(recorded_checksum)}); make a new plan from the current state with `sovrium plan`"
    )


def check_next_version(plan: Plan, highest_recorded: int) -> None:
    """Refuse a version that skips numbers: the next one is one above the highest this database ever recorded.

    A version rolled back may be applied again (it is not above the highest), and so may a plan that replaces
    it (its number is the highest + 1).
    """
    if plan.version <= highest_recorded + 1:
        return
    raise PlanStale(
        f"plan {plan.version} skips versions: the highest version this database has recorded is "
        f"{highest_recorded}, so the next plan must be version {highest_recorded + 1}"
    )


async def check_no_drift(conn: asyncpg.Connection, state: RecordedState, catalog_for: CatalogFor) -> Catalog | None:
    """Refuse when the live schema differs from the one recorded at the last migration; the live catalog when it
    was read (None: nothing recorded to compare with)."""
    if state.fingerprint is None:
        return None
    live = await introspect(conn)
    if fingerprint(live) == state.fingerprint:
        return live
    raise DriftDetected(
        f"Schema drift detected: the live database differs from what version {state.version} recorded "
        f"(changed outside migrations): {describe_drift(state.schema, live, catalog_for)}. Inspect it with "
        "`sovrium drift`; undo the manual change (`sovrium drift --revert-plan --reason …` writes the plan that "
        "does), or accept it with `sovrium drift --accept --reason …`"
    )


def describe_drift(snapshot: Mapping[str, Any], live: Catalog, catalog_for: CatalogFor) -> str:
    """What is extra, missing or changed in the live schema compared with the recorded one, in words."""
    from sovrium_tui.planning.drift import find_drift

    try:
        recorded = catalog_for(snapshot)
    except (SovriumError, ImportError, LookupError, TypeError, ValueError):
        return "the live catalog's fingerprint differs from the recorded one"
    differences = find_drift(recorded, live)
    if not differences:
        return "the live catalog's fingerprint differs from the recorded one"
    return "; ".join(difference.detail for difference in differences)


def remaining(live: Catalog, desired: Catalog) -> list[Change]:
    """The changes still needed to make `live` the catalog it should be (row-level security and its policies
    aside: Sovrium does not declare them, see `kept_row_security`); none when it is."""
    from sovrium_tui.planning.diff import diff, kept_row_security

    desired = kept_row_security(live, desired)
    if live == desired and not (desired.auth_users == "present" and live.auth_users != "present"):
        return []  # equal catalogs need no changes (a tenth of the time of diffing them, which says what differs)
    return diff(live, desired)


def verify(
    live: Catalog, desired: Catalog, what: str, *, with_accepted_drift: Callable[[Catalog], Catalog] | None = None
) -> None:
    """Refuse to commit a database that differs from the catalog it should now have: `desired`, or when that
    differs, `with_accepted_drift(desired)` (see `planning.accepted`; made only then, as it compiles a snapshot)."""
    changes = remaining(live, desired)
    if changes and with_accepted_drift is not None:
        changes = remaining(live, with_accepted_drift(desired))
    if changes:
        listed = "; ".join(change.summary() for change in changes)
        raise VerificationFailed(f"{what} (still needed: {listed}); rolled back")


# --- the lock-table ceiling ------------------------------------------------------------------------------------


def estimate_locks(steps: Iterable[Sequence[str]]) -> int:
    """The locks a transaction running these steps (each its statements) holds at its end, erring high."""
    total = 0
    for statements in steps:
        tables = sum(1 for s in statements if _words(s).startswith(("CREATE TABLE", "DROP TABLE")))
        total += LOCKS_PER_TABLE_STATEMENT * tables if tables else LOCKS_PER_OTHER_STEP
    return total


def _words(statement: str) -> str:
    """The first words of a statement, upper case, single-spaced."""
    return " ".join(statement[:32].split()).upper()


def lock_ceiling_problem(needed: int, max_locks_per_transaction: int, max_connections: int, prepared: int) -> str:
    """Why a transaction needing `needed` locks would run out of lock table, or "" when it fits."""
    slots = max_connections + prepared
    capacity = LOCK_TABLE_HEADROOM * max_locks_per_transaction * slots
    if needed <= capacity:
        return ""
    suggested = math.ceil(needed * 1.25 / (LOCK_TABLE_HEADROOM * slots) / 64) * 64
    return (
        f"this plan needs about {needed} locks in one transaction, more than the server's lock table holds "
        f"(about {capacity}: max_locks_per_transaction = {max_locks_per_transaction} with max_connections = "
        f"{max_connections}); raise max_locks_per_transaction to at least {suggested} (postgresql.conf, then "
        "restart the server) or split the plan"
    )


async def check_lock_ceiling(conn: asyncpg.Connection, steps: Iterable[Sequence[str]], what: str) -> None:
    """Refuse before running what would fail with "out of shared memory" after doing most of its work."""
    row = await conn.fetchrow(
        "SELECT current_setting('max_locks_per_transaction')::int AS per_transaction, "
        "current_setting('max_connections')::int AS connections, "
        "current_setting('max_prepared_transactions')::int AS prepared"
    )
    needed = estimate_locks(steps)
    problem = lock_ceiling_problem(needed, row["per_transaction"], row["connections"], row["prepared"])
    if problem:
        raise PlanTooLarge(problem.replace("this plan", what, 1))


def plan_statements(steps: Iterable[Step]) -> list[tuple[str, ...]]:
    return [step.forward for step in steps]


def short(checksum: str | None) -> str:
    return checksum[:12] if checksum else "none"
