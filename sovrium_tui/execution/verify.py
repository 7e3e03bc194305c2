"""Round-trip a plan on a scratch database: build its starting point, apply forward, compare, reverse, compare."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sovrium_tui.catalog.introspect import introspect
from sovrium_tui.catalog.model import Catalog
from sovrium_tui.execution.checks import remaining
from sovrium_tui.execution.connect import connect
from sovrium_tui.execution.executor import one_script
from sovrium_tui.identifiers import quote_ident
from sovrium_tui.planning.plan import Plan, Step
from sovrium_tui.records import record

if TYPE_CHECKING:
    import asyncpg


@record
class VerifyResult:
    version: int
    forward_ok: bool
    forward_problems: tuple[str, ...]
    reverse_ok: bool
    reverse_problems: tuple[str, ...]
    elapsed_ms: int

    @property
    def round_trips(self) -> bool:
        return self.forward_ok and self.reverse_ok

    def describe(self) -> str:
        lines = [
            f"plan {self.version:04d} on a scratch database ({self.elapsed_ms} ms):",
            "  forward: " + ("reaches its target schema" if self.forward_ok else "FAILED"),
            *(f"    {problem}" for problem in self.forward_problems),
            "  reverse: " + ("restores the starting schema" if self.reverse_ok else "FAILED"),
            *(f"    {problem}" for problem in self.reverse_problems),
        ]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "round_trips": self.round_trips,
            "forward_ok": self.forward_ok,
            "forward_problems": list(self.forward_problems),
            "reverse_ok": self.reverse_ok,
            "reverse_problems": list(self.reverse_problems),
            "elapsed_ms": self.elapsed_ms,
        }


async def verify_plan(
    plan: Plan,
    ancestors: Sequence[Plan],
    *,
    server_url: str,
    target_catalog: Catalog,
    url_for: Callable[[str], str],
) -> VerifyResult:
    """Create a scratch database on `server_url`'s server, round-trip `plan` there, and drop it again."""
    started = time.monotonic()
    name = f"sovrium_verify_{secrets.token_hex(6)}"
    admin = await connect(server_url)
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(name)} TEMPLATE template0")
        try:
            scratch = await connect(url_for(name))
            try:
                forward, reverse = await _round_trip(scratch, plan, ancestors, target_catalog)
            finally:
                await scratch.close()
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()
    return VerifyResult(
        version=plan.version,
        forward_ok=not forward,
        forward_problems=forward,
        reverse_ok=not reverse,
        reverse_problems=reverse,
        elapsed_ms=round((time.monotonic() - started) * 1000),
    )


async def _round_trip(
    connection: asyncpg.Connection, plan: Plan, ancestors: Sequence[Plan], target: Catalog
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    import asyncpg

    for ancestor in ancestors:
        failure = await _run_steps(connection, ancestor.steps, forward=True)
        if failure:
            return (f"building version {ancestor.version} failed: {failure}",), ("not tried: forward failed",)
    source = await introspect(connection)
    failure = await _run_steps(connection, plan.steps, forward=True)
    if failure:
        return (failure,), ("not tried: forward failed",)
    # compared as apply and rollback compare (`checks.remaining`): row-level security a step sets is not a difference
    forward = tuple(
        f"still differs from the target: {c.summary()}" for c in remaining(await introspect(connection), target)
    )
    try:
        failure = await _run_steps(connection, tuple(reversed(plan.steps)), forward=False)
    except asyncpg.PostgresError as error:  # pragma: no cover - _run_steps catches these
        failure = str(error)
    if failure:
        return forward, (failure,)
    reverse = tuple(
        f"still differs from the start: {c.summary()}" for c in remaining(await introspect(connection), source)
    )
    return forward, reverse


async def _run_steps(connection: asyncpg.Connection, steps: Sequence[Step], *, forward: bool) -> str | None:
    """Run the steps in one transaction; the first failure as text, or None."""
    import asyncpg

    direction = "forward" if forward else "reverse"
    try:
        async with connection.transaction():
            for step in steps:
                statements = step.forward if forward else step.reverse
                if not statements:
                    continue
                try:
                    await connection.execute(one_script(statements))
                except asyncpg.PostgresError as error:
                    return f"step {step.id} {direction} ({step.summary}): {error}"
    except asyncpg.PostgresError as error:
        return f"{direction}: {error}"
    return None
