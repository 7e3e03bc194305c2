"""The schema checksum: SHA-256 of the key-sorted, pretty-printed decoded tables, as Sovrium computes it.

Sovrium hashes `JSON.stringify(sortObjectKeys(tables), null, 2)`; `js_json` prints the same text, numbers and
key order included, so a schema Sovrium and this tool both read has one checksum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sovrium_tui.schema.js_json import read_json, stringify

if TYPE_CHECKING:
    from sovrium_tui.schema.model import App


def canonical_tables_json(tables: Sequence[object]) -> str:
    """The text the checksum covers: keys sorted at every level, two-space indent, raw UTF-8."""
    return stringify(list(tables), indent=2, sort_keys=True)


def compact_tables_json(tables: Sequence[object]) -> str:
    """The same data as one compact line: what `App.document` holds and history stores."""
    return stringify(list(tables), sort_keys=True)


def checksum_of_tables(tables: Sequence[object]) -> str:
    """Lowercase hex SHA-256 of `canonical_tables_json(tables)`."""
    return hashlib.sha256(canonical_tables_json(tables).encode("utf-8")).hexdigest()


def app_checksum(app: App) -> str:
    """The checksum of a validated app, from the decoded tables it keeps in `document`."""
    tables: list[object] = read_json(app.document)
    return checksum_of_tables(tables)
