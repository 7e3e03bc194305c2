"""The committed plans/ are exactly what the tool makes today from the example's history (`just plans`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
HISTORY = [
    ("examples/history/crm.v1.yaml", "companies_and_contacts"),
    ("examples/history/crm.v2.yaml", "deals_and_activities"),
    ("examples/crm.yaml", "tags_profiles_and_indexes"),
]
EPOCH = "1795564800"  # 2026-11-24T00:00:00Z, the created_at of the committed plans


def test_committed_plans_are_regenerated_byte_for_byte(tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    env.pop("DATABASE_URL", None)
    for schema, name in HISTORY:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sovrium_tui",
                "plan",
                str(ROOT / schema),
                "--offline",
                "--plans",
                "plans",
                "--name",
                name,
            ],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
        )
    made = {p.name: p.read_bytes() for p in (tmp_path / "plans").iterdir()}
    committed = {p.name: p.read_bytes() for p in (ROOT / "plans").iterdir()}
    assert made.keys() == committed.keys()
    stale = [name for name in made if made[name] != committed[name]]
    assert stale == [], f"run `just plans` to regenerate: {stale}"
