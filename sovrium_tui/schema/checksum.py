"""The schema checksum: SHA-256 of the key-sorted, pretty-printed decoded tables, as Sovrium computes it.

Sovrium serialises with `JSON.stringify(sorted, null, 2)`; `json.dumps(..., sort_keys=True, indent=2,
ensure_ascii=False)` produces the same text, except that floats print the Python way (`1.0`, not `1`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from sovrium_tui.schema.model import App


def canonical_tables_json(tables: Sequence[object]) -> str:
    """The text the checksum covers: keys sorted at every level, two-space indent, raw UTF-8."""
    return json.dumps(list(tables), sort_keys=True, indent=2, ensure_ascii=False)


def compact_tables_json(tables: Sequence[object]) -> str:
    """The same data as one compact line: what `App.document` holds and history stores."""
    return json.dumps(list(tables), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum_of_tables(tables: Sequence[object]) -> str:
    """Lowercase hex SHA-256 of `canonical_tables_json(tables)`."""
    return hashlib.sha256(canonical_tables_json(tables).encode("utf-8")).hexdigest()


def app_checksum(app: App) -> str:
    """The checksum of a validated app, from the decoded tables it keeps in `document`."""
    tables: list[object] = json.loads(app.document)
    return checksum_of_tables(tables)
