"""The app schema stage: read a schema file, validate it, and checksum it (nothing here touches a database)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from sovrium_tui.schema.checksum import app_checksum
from sovrium_tui.schema.load import parse_document, read_document
from sovrium_tui.schema.model import App
from sovrium_tui.schema.validate import validate_document

__all__ = ["App", "app_checksum", "app_from_document", "app_snapshot", "load_app", "parse_app", "recorded_app"]

# The name given to an app whose snapshot Sovrium recorded: it stores only the tables.
SOVRIUM_SNAPSHOT_NAME = "sovrium-app"
_USER_FIELD_TYPES = frozenset({"user", "created-by", "updated-by", "deleted-by"})


def load_app(path: str | os.PathLike[str]) -> App:
    """Read, parse and validate a schema file (YAML, or JSON when it ends in .json)."""
    loaded = read_document(path)
    return validate_document(loaded.data, positions=loaded.positions, source=loaded.source)


def parse_app(text: str, *, source: str = "<string>") -> App:
    """Parse and validate schema text; `source` names it in messages (and a .json name selects JSON)."""
    loaded = parse_document(text, source=source)
    return validate_document(loaded.data, positions=loaded.positions, source=loaded.source)


def app_from_document(doc: object, *, source: str | None = None) -> App:
    """Rebuild an App from decoded data, such as a snapshot stored in the database."""
    return validate_document(doc, source=source)


def recorded_app(snapshot: Mapping[str, object]) -> App:
    """An App from a snapshot recorded in a database: this tool's `{name, tables[, auth]}` or Sovrium's `{tables}`.

    Sovrium records neither the app's name nor its `auth` section; an app with user fields is taken to have
    auth configured, as Sovrium requires to enforce them.
    """
    document = dict(snapshot)
    if "name" not in document:
        document["name"] = SOVRIUM_SNAPSHOT_NAME
        tables = document.get("tables")
        fields = (
            [f for t in tables if isinstance(t, dict) for f in t.get("fields") or ()]
            if isinstance(tables, list)
            else []
        )
        if any(isinstance(f, dict) and f.get("type") in _USER_FIELD_TYPES for f in fields):
            document.setdefault("auth", {})
    return app_from_document(document, source="recorded snapshot")


def app_snapshot(app: App) -> dict[str, object]:
    """The app as plain data: name, the decoded tables, and `auth` when it is configured.

    `auth` is kept (as an empty mapping) so that `app_from_document(app_snapshot(app)) == app`; the checksum
    covers the tables only, as Sovrium's does.
    """
    snapshot: dict[str, object] = {"name": app.name, "tables": json.loads(app.document)}
    if app.auth:
        snapshot["auth"] = {}
    return snapshot
