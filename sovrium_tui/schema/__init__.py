"""The app schema stage: read a schema file, validate it, and checksum it (nothing here touches a database).

Importing the package loads none of its modules: `sovrium_tui.schema.js_json` or `.checksum` alone (what reading
a plan needs) stays light, and the validator, the composer and the model load when first asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sovrium_tui.schema.checksum import app_checksum
    from sovrium_tui.schema.compose import ComposedDocument, compose_file
    from sovrium_tui.schema.model import App
    from sovrium_tui.schema.validate import validate_document

__all__ = [
    "App",
    "ComposedDocument",
    "app_checksum",
    "app_from_document",
    "app_snapshot",
    "compose_file",
    "load_app",
    "parse_app",
    "recorded_app",
    "validate_composed",
    "validate_document",
]

_LAZY = {
    "App": "sovrium_tui.schema.model",
    "ComposedDocument": "sovrium_tui.schema.compose",
    "compose_file": "sovrium_tui.schema.compose",
    "app_checksum": "sovrium_tui.schema.checksum",
    "validate_document": "sovrium_tui.schema.validate",
}


def __getattr__(name: str) -> object:
    """The re-exported names, each imported from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


# The name given to an app whose snapshot Sovrium recorded: it stores only the tables.
SOVRIUM_SNAPSHOT_NAME = "sovrium-app"
_USER_FIELD_TYPES = frozenset({"user", "created-by", "updated-by", "deleted-by"})


def load_app(path: str | os.PathLike[str]) -> App:
    """Read, compose (`$ref`), parse and validate a schema file (YAML, or JSON when it ends in .json)."""
    from sovrium_tui.schema.compose import compose_file

    return validate_composed(compose_file(path))


def parse_app(text: str, *, source: str = "<string>") -> App:
    """Parse and validate schema text; `source` names it in messages, selects JSON when it ends in .json, and
    is the file its `$ref` paths are relative to (the working folder for `<string>`)."""
    from sovrium_tui.schema.compose import compose_text

    return validate_composed(compose_text(text, source=source))


def validate_composed(document: ComposedDocument) -> App:
    """Validate a composed document; each problem names the file and line where its value was written."""
    from sovrium_tui.errors import SchemaInvalid
    from sovrium_tui.schema.validate import validate_document

    try:
        return validate_document(document.data, source=document.source)
    except SchemaInvalid as invalid:
        raise document.relocate(invalid) from None


def app_from_document(doc: object, *, source: str | None = None) -> App:
    """Rebuild an App from decoded data, such as a snapshot stored in the database."""
    from sovrium_tui.schema.validate import validate_document

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
    from sovrium_tui.schema.js_json import read_json

    snapshot: dict[str, object] = {"name": app.name, "tables": read_json(app.document)}
    if app.auth:
        snapshot["auth"] = {}
    return snapshot
