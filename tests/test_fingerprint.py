"""The catalog fingerprint recorded at every migration stays the same text across versions of this tool."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from sovrium_tui.catalog import Catalog, compile_app
from sovrium_tui.catalog.introspect import fingerprint
from sovrium_tui.schema import load_app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _as_first_recorded(catalog: Catalog) -> str:
    """The fingerprint as databases migrated by earlier versions recorded it (dataclasses.asdict, json.dumps)."""
    document = asdict(catalog)
    for lookup in ("_tables_by_name", "_functions_by_name"):  # derived lookups, added later, are not data
        document.pop(lookup)
    document.pop("auth_users", None)
    if not document["views"]:
        document.pop("views")
    for table in document["tables"]:
        for column in table["columns"]:
            if column["generated"] is None and not column["derived"]:
                del column["generated"], column["derived"]
            del column["sequence"], column["identity"]  # added later: how the database numbers it, not part of it
        for key in ("row_security", "force_row_security", "policies"):  # added later, left out while off / empty
            del table[key]
        for constraint in table["constraints"]:  # added later, left out while true (always, in compiled catalogs)
            del constraint["enforced"]
        for trigger in table["triggers"]:
            del trigger["enabled"]
    for view in document.get("views", ()):
        for trigger in view["triggers"]:
            del trigger["enabled"]
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("schema", ["crm.yaml", "composed/app.yaml", "history/crm.v1.yaml"])
def test_the_fingerprint_is_the_one_earlier_versions_recorded(schema: str) -> None:
    catalog = compile_app(load_app(EXAMPLES / schema))
    assert fingerprint(catalog) == _as_first_recorded(catalog)
    assert fingerprint(Catalog()) == _as_first_recorded(Catalog())
