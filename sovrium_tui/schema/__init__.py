"""The app schema stage: read a schema file, validate it, and checksum it (nothing here touches a database)."""

from __future__ import annotations

import json
import os

from sovrium_tui.errors import SchemaInvalid
from sovrium_tui.schema.checksum import app_checksum
from sovrium_tui.schema.compose import ComposedDocument, compose_file, compose_text
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
    "validate_composed",
]


def load_app(path: str | os.PathLike[str]) -> App:
    """Read, compose (`$ref`), parse and validate a schema file (YAML, or JSON when it ends in .json)."""
    return validate_composed(compose_file(path))


def parse_app(text: str, *, source: str = "<string>") -> App:
    """Parse and validate schema text; `source` names it in messages, selects JSON when it ends in .json, and
    is the file its `$ref` paths are relative to (the working folder for `<string>`)."""
    return validate_composed(compose_text(text, source=source))


def validate_composed(document: ComposedDocument) -> App:
    """Validate a composed document; each problem names the file and line where its value was written."""
    try:
        return validate_document(document.data, source=document.source)
    except SchemaInvalid as invalid:
        raise document.relocate(invalid) from None


def app_from_document(doc: object, *, source: str | None = None) -> App:
    """Rebuild an App from decoded data, such as a snapshot stored in the database."""
    return validate_document(doc, source=source)


def app_snapshot(app: App) -> dict[str, object]:
    """The app as plain data: name, the decoded tables, and `auth` when it is configured.

    `auth` is kept (as an empty mapping) so that `app_from_document(app_snapshot(app)) == app`; the checksum
    covers the tables only, as Sovrium's does.
    """
    snapshot: dict[str, object] = {"name": app.name, "tables": json.loads(app.document)}
    if app.auth:
        snapshot["auth"] = {}
    return snapshot
