"""Schema validation: one row per rule, each asserting the message, the path and the line it points at."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovrium_tui.errors import Problem, SchemaInvalid
from sovrium_tui.schema import app_from_document, app_snapshot, parse_app
from sovrium_tui.schema.field_types import COLUMN_TYPES, KNOWN_TYPES, LEGACY_ALIASES, NO_COLUMN_TYPES
from sovrium_tui.schema.model import App, CheckSpec, ForeignKeySpec, IndexSpec, PrimaryKey, UniqueSpec
from sovrium_tui.schema.validate import ALL_FIELD_KEYS, TABLE_KEYS, TYPE_KEYS, validate_document

FIRST_FIELD_LINE = 5


def table(*fields: str, extra: str = "", name: str = "users") -> str:
    """A one-table schema: field i (flow style, one per line) sits on line FIRST_FIELD_LINE + i."""
    lines = ["name: app", "tables:", f"  - name: {name}", "    fields:"]
    lines += [f"      - {field}" for field in fields]
    if extra:
        lines += textwrap.indent(textwrap.dedent(extra).strip("\n"), "    ").splitlines()
    return "\n".join(lines) + "\n"


def schema(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(SchemaInvalid) as caught:
        parse_app(text, source="app.yaml")
    return list(caught.value.problems)


def valid(text: str) -> App:
    return parse_app(text, source="app.yaml")


USERS_AND_POSTS = """
    name: app
    tables:
      - name: users
        fields:
          - {name: email, type: email, unique: true}
          - {name: nickname, type: single-line-text}
      - name: posts
        fields:
          - {name: title, type: single-line-text}
          - {name: author, type: relationship, relatedTable: users, %s}
    """

# (rule, document, path, message regex, line)
RULES = [
    # -- app -------------------------------------------------------------------------------------------------
    ("app name required", "tables: []\n", "name", r"^Missing required key 'name'$", 1),
    ("app name npm-like", "name: My App\n", "name", r"^Invalid app name \"My App\": use an npm-style", 1),
    ("app name at most 214", f"name: {'a' * 215}\n", "name", r"^Invalid app name", 1),
    (
        "unknown top-level key",
        "name: app\ntabels: []\n",
        "tabels",
        r"^Unknown key 'tabels' \(did you mean 'tables'\?\)$",
        2,
    ),
    ("tables must be a list", "name: app\ntables: {}\n", "tables", r"^Expected a list, got mapping$", 2),
    ("auth must be a mapping", "name: app\nauth: true\n", "auth", r"^Expected a mapping, got boolean$", 2),
    ("table must be a mapping", "name: app\ntables: [users]\n", "tables[0]", r"^Expected a mapping, got string$", 2),
    # -- table keys ------------------------------------------------------------------------------------------
    (
        "table id positive",
        table("{name: a, type: integer}", extra="id: -1"),
        "tables[0].id",
        r"^Expected a positive integer or a non-empty string, got -1$",
        6,
    ),
    (
        "table id non-empty",
        table("{name: a, type: integer}", extra="id: ''"),
        "tables[0].id",
        r"^Expected a positive integer or a non-empty string, got an empty string$",
        6,
    ),
    (
        "table id not boolean",
        table("{name: a, type: integer}", extra="id: true"),
        "tables[0].id",
        r"^Expected a positive integer or a non-empty string, got boolean$",
        6,
    ),
    (
        "table ids unique",
        schema("""
        name: app
        tables:
          - {id: 7, name: a, fields: [{name: x, type: integer}]}
          - {id: 7, name: b, fields: [{name: x, type: integer}]}
        """),
        "tables[1].id",
        r"^Table IDs must be unique within the schema$",
        4,
    ),
    (
        "table name required",
        "name: app\ntables:\n  - fields: [{name: x, type: integer}]\n",
        "tables[0].name",
        r"^Missing required key 'name'$",
        3,
    ),
    (
        "table name starts with a letter",
        table("{name: a, type: integer}", name="1users"),
        "tables[0].name",
        r"^Invalid table name '1users': name must start with a letter$",
        3,
    ),
    (
        "table name at most 63",
        table("{name: a, type: integer}", name="t" * 64),
        "tables[0].name",
        r"^Maximum length is 63 characters$",
        3,
    ),
    (
        "table name not reserved",
        table("{name: a, type: integer}", name="Order"),
        "tables[0].name",
        r"^Table name 'Order' resolves to reserved SQL keyword 'order'\. Reserved keywords like SELECT, INSERT, "
        r"UPDATE, DELETE, etc\. are restricted to prevent SQL syntax conflicts\. Choose a different name\.$",
        3,
    ),
    (
        "table names unique",
        schema("""
        name: app
        tables:
          - {name: users, fields: [{name: x, type: integer}]}
          - {name: users, fields: [{name: x, type: integer}]}
        """),
        "tables[1].name",
        r"^Table names must be unique within the schema$",
        4,
    ),
    (
        "table physical names unique",
        schema("""
        name: app
        tables:
          - {name: Order Lines, fields: [{name: x, type: integer}]}
          - {name: order_lines, fields: [{name: x, type: integer}]}
        """),
        "tables[1].name",
        r"^Table names must be unique within the schema$",
        4,
    ),
    (
        "unknown table key",
        table("{name: a, type: integer}", extra="indexs: []"),
        "tables[0].indexs",
        r"^Unknown key 'indexs' \(did you mean 'indexes'\?\)$",
        6,
    ),
    (
        "fields required",
        "name: app\ntables:\n  - name: users\n",
        "tables[0].fields",
        r"^Missing required key 'fields'$",
        3,
    ),
    (
        "fields is a list",
        "name: app\ntables:\n  - name: users\n    fields: {}\n",
        "tables[0].fields",
        r"^Expected a list, got mapping$",
        4,
    ),
    (
        "at least one field",
        "name: app\ntables:\n  - name: users\n    fields: []\n",
        "tables[0].fields",
        r"^A table must have at least one field$",
        4,
    ),
    (
        "allowDestructive is a boolean",
        table("{name: a, type: integer}", extra="allowDestructive: 'yes'"),
        "tables[0].allowDestructive",
        r"^Expected a boolean, got string$",
        6,
    ),
    # -- common field keys -----------------------------------------------------------------------------------
    ("field must be a mapping", table("email"), "tables[0].fields[0]", r"^Expected a mapping, got string$", 5),
    (
        "field id positive",
        table("{id: -1, name: a, type: integer}"),
        "tables[0].fields[0].id",
        r"^Expected a positive integer, got -1$",
        5,
    ),
    (
        "field id not text",
        table("{id: x, name: a, type: integer}"),
        "tables[0].fields[0].id",
        r"^Expected a positive integer, got string \"x\"$",
        5,
    ),
    (
        "field ids unique",
        table("{id: 3, name: a, type: integer}", "{id: 3, name: b, type: integer}"),
        "tables[0].fields[1].id",
        r"^Field IDs must be unique within the table$",
        6,
    ),
    (
        "field names unique",
        table("{name: a, type: integer}", "{name: a, type: checkbox}"),
        "tables[0].fields[1].name",
        r"^Field names must be unique within the table$",
        6,
    ),
    ("field name required", table("{type: integer}"), "tables[0].fields[0].name", r"^Missing required key 'name'$", 5),
    (
        "field name pattern",
        table("{name: firstName, type: integer}"),
        "tables[0].fields[0].name",
        r"^Invalid field name pattern\. Must follow database naming conventions: start with a letter, contain only "
        r"lowercase letters, numbers, and underscores",
        5,
    ),
    (
        "field name at most 63 characters",
        table(f"{{name: {'a' * 64}, type: integer}}"),
        "tables[0].fields[0].name",
        r"^Maximum length is 63 characters$",
        5,
    ),
    (
        "field name not a reserved word",
        table("{name: order, type: integer}"),
        "tables[0].fields[0].name",
        r"^Cannot use reserved SQL keyword 'order' as field name\. Reserved keywords like SELECT, INSERT, UPDATE, "
        r"DELETE, etc\. are restricted to prevent SQL syntax conflicts\. Choose a descriptive alternative name "
        r"\(e\.g\., 'user_record' instead of 'user', 'selection' instead of 'select'\)\.$",
        5,
    ),
    (
        "field name not a reserved word (one PostgreSQL does not reserve)",
        table("{name: key, type: integer}"),
        "tables[0].fields[0].name",
        r"^Cannot use reserved SQL keyword 'key' as field name\.",
        5,
    ),
    (
        "required is a boolean",
        table('{name: a, type: integer, required: "yes"}'),
        "tables[0].fields[0].required",
        r"^Expected a boolean, got string$",
        5,
    ),
    (
        "unique is a boolean",
        table("{name: a, type: integer, unique: 1}"),
        "tables[0].fields[0].unique",
        r"^Expected a boolean, got integer$",
        5,
    ),
    (
        "indexed is a boolean",
        table("{name: a, type: integer, indexed: null}"),
        "tables[0].fields[0].indexed",
        r"^Expected a boolean, got null$",
        5,
    ),
    (
        "searchWeight A-D",
        table("{name: a, type: long-text, searchWeight: E}"),
        "tables[0].fields[0].searchWeight",
        r"^searchWeight must be one of A, B, C, D$",
        5,
    ),
    (
        "unknown field key",
        table("{name: a, type: integer, requried: true}"),
        "tables[0].fields[0].requried",
        r"^Unknown key 'requried' \(did you mean 'required'\?\)$",
        5,
    ),
    (
        "type-specific key on the wrong type",
        table("{name: a, type: integer, options: [x]}"),
        "tables[0].fields[0].options",
        r"^Key 'options' is not valid for field type 'integer'$",
        5,
    ),
    # -- type ------------------------------------------------------------------------------------------------
    ("type required", table("{name: a}"), "tables[0].fields[0].type", r"^Missing required key 'type'$", 5),
    (
        "unknown type",
        table("{name: a, type: INVALID_TYPE}"),
        "tables[0].fields[0].type",
        r"^Unknown field type: INVALID_TYPE$",
        5,
    ),
    (
        "unknown type hint",
        table("{name: a, type: integr}"),
        "tables[0].fields[0].type",
        r"^Unknown field type: integr \(did you mean 'integer'\?\)$",
        5,
    ),
    (
        "lookup through a missing relationship",
        table("{name: a, type: lookup, relationshipField: b, relatedField: c}"),
        "tables[0].fields[0].relationshipField",
        r'^Lookup field "users.a" relationshipField "b" not found$',
        5,
    ),
    # -- type-specific required keys -------------------------------------------------------------------------
    (
        "currency needs currency",
        table("{name: a, type: currency}"),
        "tables[0].fields[0].currency",
        r"^Missing required key 'currency' for field type 'currency'$",
        5,
    ),
    (
        "single-select needs options",
        table("{name: a, type: single-select}"),
        "tables[0].fields[0].options",
        r"^Missing required key 'options' for field type 'single-select'$",
        5,
    ),
    (
        "status needs options",
        table("{name: a, type: status}"),
        "tables[0].fields[0].options",
        r"^Missing required key 'options' for field type 'status'$",
        5,
    ),
    (
        "relationship needs relatedTable",
        table("{name: a, type: relationship}"),
        "tables[0].fields[0].relatedTable",
        r"^Missing required key 'relatedTable' for field type 'relationship'$",
        5,
    ),
    (
        "code needs language",
        table("{name: a, type: code}"),
        "tables[0].fields[0].language",
        r"^Missing required key 'language' for field type 'code'$",
        5,
    ),
    (
        "button needs action",
        table("{name: a, type: button, label: Go}"),
        "tables[0].fields[0].action",
        r"^Missing required key 'action' for field type 'button'$",
        5,
    ),
    (
        "button action url needs url",
        table("{name: a, type: button, label: Go, action: url}"),
        "tables[0].fields[0].url",
        r"^Missing required key 'url' for a button with action 'url'$",
        5,
    ),
    # -- numbers ---------------------------------------------------------------------------------------------
    (
        "min is a number",
        table('{name: a, type: integer, min: "3"}'),
        "tables[0].fields[0].min",
        r"^Expected an integer, got string \"3\"$",
        5,
    ),
    (
        "min not above max",
        table("{name: a, type: integer, min: 10, max: 3}"),
        "tables[0].fields[0].min",
        r"^min cannot be greater than max$",
        5,
    ),
    (
        "decimal min not above max",
        table("{name: a, type: decimal, min: 1.5, max: 0.5}"),
        "tables[0].fields[0].min",
        r"^min cannot be greater than max$",
        5,
    ),
    (
        "integer bounds fit INTEGER",
        table("{name: a, type: integer, max: 3000000000}"),
        "tables[0].fields[0].max",
        r"^Expected an integer between -2147483648 and 2147483647, got 3000000000$",
        5,
    ),
    (
        "decimal precision 1-10",
        table("{name: a, type: decimal, precision: 11}"),
        "tables[0].fields[0].precision",
        r"^Expected an integer between 1 and 10, got 11$",
        5,
    ),
    (
        "decimal precision starts at 1",
        table("{name: a, type: decimal, precision: 0}"),
        "tables[0].fields[0].precision",
        r"^Expected an integer between 1 and 10, got 0$",
        5,
    ),
    (
        "currency precision 0-10",
        table("{name: a, type: currency, currency: EUR, precision: 11}"),
        "tables[0].fields[0].precision",
        r"^Expected an integer between 0 and 10, got 11$",
        5,
    ),
    (
        "percentage precision not negative",
        table("{name: a, type: percentage, precision: -1}"),
        "tables[0].fields[0].precision",
        r"^Expected an integer between 0 and 10, got -1$",
        5,
    ),
    (
        "rating max 1-10",
        table("{name: a, type: rating, max: 11}"),
        "tables[0].fields[0].max",
        r"^Expected an integer between 1 and 10, got 11$",
        5,
    ),
    (
        "progress default 0-100",
        table("{name: a, type: progress, default: 101}"),
        "tables[0].fields[0].default",
        r"^Expected an integer between 0 and 100, got 101$",
        5,
    ),
    (
        "progress color hex",
        table("{name: a, type: progress, color: blue}"),
        "tables[0].fields[0].color",
        r"^Invalid color format - color must be a hex code \(e\.g\., #3B82F6\)$",
        5,
    ),
    (
        "numbers are finite",
        table("{name: a, type: decimal, min: .nan}"),
        "tables[0].fields[0].min",
        r"^Expected a finite number, got nan$",
        5,
    ),
    (
        "count keys positive",
        table("{name: a, type: array, maxItems: 0}"),
        "tables[0].fields[0].maxItems",
        r"^Expected a positive integer, got 0$",
        5,
    ),
    # -- options ---------------------------------------------------------------------------------------------
    (
        "options is a list",
        table('{name: a, type: single-select, options: "a"}'),
        "tables[0].fields[0].options",
        r"^Expected a list, got string$",
        5,
    ),
    (
        "at least one option",
        table("{name: a, type: single-select, options: []}"),
        "tables[0].fields[0].options",
        r"^At least one option is required$",
        5,
    ),
    (
        "options unique",
        table("{name: a, type: single-select, options: [x, y, x]}"),
        "tables[0].fields[0].options[2]",
        r"^Options must be unique \(duplicate option found\)$",
        5,
    ),
    (
        "option objects unique",
        table("{name: a, type: single-select, options: [{value: x}, {value: x, label: X}]}"),
        "tables[0].fields[0].options[1]",
        r"^Options must be unique \(duplicate option found\)$",
        5,
    ),
    (
        "option object needs value",
        table("{name: a, type: single-select, options: [{label: X}]}"),
        "tables[0].fields[0].options[0].value",
        r"^Missing required key 'value'$",
        5,
    ),
    (
        "option object keys",
        table("{name: a, type: single-select, options: [{value: x, colour: '#000000'}]}"),
        "tables[0].fields[0].options[0].colour",
        r"^Unknown key 'colour'",
        5,
    ),
    (
        "option is text or mapping",
        table("{name: a, type: single-select, options: [1]}"),
        "tables[0].fields[0].options[0]",
        r"^Expected an option \(a string or a mapping with 'value'\), got integer$",
        5,
    ),
    (
        "status color hex",
        table("{name: a, type: status, options: [{value: open, color: red}]}"),
        "tables[0].fields[0].options[0].color",
        r"^Invalid color format - color must be a hex code \(e\.g\., #3B82F6\)$",
        5,
    ),
    (
        "maxSelections within options",
        table("{name: a, type: multi-select, options: [x, y], maxSelections: 3}"),
        "tables[0].fields[0].maxSelections",
        r"^maxSelections exceeds available options$",
        5,
    ),
    (
        "option text has no NUL",
        table('{name: a, type: single-select, options: ["x\\0y"]}'),
        "tables[0].fields[0].options[0]",
        r"^Text cannot contain NUL characters$",
        5,
    ),
    # -- defaults --------------------------------------------------------------------------------------------
    (
        "checkbox default boolean",
        table("{name: a, type: checkbox, default: 'yes'}"),
        "tables[0].fields[0].default",
        r"^Expected a boolean, got string$",
        5,
    ),
    (
        "integer default integer",
        table("{name: a, type: integer, default: '1'}"),
        "tables[0].fields[0].default",
        r"^Expected an integer, got string \"1\"$",
        5,
    ),
    (
        "decimal default number",
        table("{name: a, type: decimal, default: ten}"),
        "tables[0].fields[0].default",
        r"^Expected a number, got string$",
        5,
    ),
    (
        "default within min/max",
        table("{name: a, type: integer, min: 0, max: 10, default: 11}"),
        "tables[0].fields[0].default",
        r"^Default value 11 is outside the allowed range \(min 0, max 10\)$",
        5,
    ),
    (
        "rating default within the range that starts at 1",
        table("{name: a, type: rating, max: 3, default: 0}"),
        "tables[0].fields[0].default",
        r"^Default value 0 is outside the allowed range \(min 1, max 3\)$",
        5,
    ),
    (
        "decimal default fits its precision",
        table("{name: a, type: decimal, precision: 2, default: 1000000000000000000}"),
        "tables[0].fields[0].default",
        r"^Default value 1000000000000000000 does not fit: with precision 2 a value stays below 10\^18$",
        5,
    ),
    (
        "text default fits 255 characters",
        table("{name: a, type: phone-number, default: '%s'}" % ("9" * 256)),
        "tables[0].fields[0].default",
        r"^Default value is 256 characters long: a phone-number field holds at most 255$",
        5,
    ),
    (
        "rich-text default fits maxLength",
        table("{name: a, type: rich-text, maxLength: 3, default: 'four'}"),
        "tables[0].fields[0].default",
        r"^Default value is 4 characters long, more than maxLength \(3\)$",
        5,
    ),
    (
        "barcode default matches its format",
        table("{name: a, type: barcode, format: UPC-A, default: '12345'}"),
        "tables[0].fields[0].default",
        r'^Default value "12345" is not a valid UPC-A barcode$',
        5,
    ),
    (
        "array default fits maxItems",
        table("{name: a, type: array, maxItems: 1, default: [x, y]}"),
        "tables[0].fields[0].default",
        r"^Default value has 2 items, more than maxItems \(1\)$",
        5,
    ),
    (
        "text default text",
        table("{name: a, type: single-line-text, default: 12}"),
        "tables[0].fields[0].default",
        r"^Expected a string, got integer$",
        5,
    ),
    (
        "date default is a day of the calendar",
        table("{name: a, type: date, default: '2023-02-29'}"),
        "tables[0].fields[0].default",
        r'^Default value "2023-02-29" is not a date: no such day in the calendar$',
        5,
    ),
    (
        "datetime default is a day of the calendar",
        table("{name: a, type: datetime, default: '2024-13-01T10:00:00'}"),
        "tables[0].fields[0].default",
        r'^Default value "2024-13-01T10:00:00" is not a date: no such day in the calendar$',
        5,
    ),
    (
        "select default is an option",
        table("{name: a, type: single-select, options: [x, y], default: z}"),
        "tables[0].fields[0].default",
        r'^Default value "z" is not one of the options$',
        5,
    ),
    (
        "status default is an option",
        table("{name: a, type: status, options: [{value: open}], default: shut}"),
        "tables[0].fields[0].default",
        r'^Default value "shut" is not one of the options$',
        5,
    ),
    (
        "multi-select default is a list",
        table("{name: a, type: multi-select, options: [x, y], default: x}"),
        "tables[0].fields[0].default",
        r"^Expected a list, got string$",
        5,
    ),
    (
        "multi-select default items are options",
        table("{name: a, type: multi-select, options: [x], default: [x, q]}"),
        "tables[0].fields[0].default[1]",
        r'^Default value "q" is not one of the options$',
        5,
    ),
    (
        "color default #RRGGBB",
        table("{name: a, type: color, default: '#12345'}"),
        "tables[0].fields[0].default",
        r"^Invalid color format - color must be a hex code \(e\.g\., #3B82F6\)$",
        5,
    ),
    (
        "array default list of text",
        table("{name: a, type: array, default: [1]}"),
        "tables[0].fields[0].default[0]",
        r"^Expected a string, got integer$",
        5,
    ),
    (
        "no default for types without one",
        table("{name: a, type: created-at, default: now}"),
        "tables[0].fields[0].default",
        r"^Field type 'created-at' does not take a default$",
        5,
    ),
    # -- barcode / array -------------------------------------------------------------------------------------
    (
        "barcode format is text",
        table("{name: a, type: barcode, format: 13}"),
        "tables[0].fields[0].format",
        r"^Expected a string, got integer$",
        5,
    ),
    (
        "array itemType simple",
        table('{name: a, type: array, itemType: "text[]"}'),
        "tables[0].fields[0].itemType",
        r'^Invalid itemType "text\[\]": use a simple type name',
        5,
    ),
    # -- relationships ---------------------------------------------------------------------------------------
    (
        "relatedTable exists",
        schema(USERS_AND_POSTS.replace("relatedTable: users", "relatedTable: people") % ""),
        "tables[1].fields[1].relatedTable",
        r'^Relationship field "posts.author": relatedTable "people" does not exist$',
        10,
    ),
    (
        "relationType known",
        schema(USERS_AND_POSTS % "relationType: many-to-few"),
        "tables[1].fields[1].relationType",
        r'^Invalid relationType "many-to-few" \(expected one of many-to-one, one-to-one, one-to-many, many-to-many\)$',
        10,
    ),
    (
        "onDelete known",
        schema(USERS_AND_POSTS % "onDelete: explode"),
        "tables[1].fields[1].onDelete",
        r'^Invalid onDelete action "explode" \(expected one of cascade, set-null, set-default, restrict, no-action\)$',
        10,
    ),
    (
        "onUpdate known",
        schema(USERS_AND_POSTS % "onUpdate: 7"),
        "tables[1].fields[1].onUpdate",
        r"^Expected a string, got integer$",
        10,
    ),
    (
        "set-null not on required",
        schema(USERS_AND_POSTS % "required: true, onDelete: set null"),
        "tables[1].fields[1].onDelete",
        r"^onDelete 'set-null' cannot be used on a required field$",
        10,
    ),
    (
        "relatedField exists",
        schema(USERS_AND_POSTS % "relatedField: handle"),
        "tables[1].fields[1].relatedField",
        r'^Relationship field "posts.author": relatedField "handle" does not exist in table "users"$',
        10,
    ),
    (
        "relatedField unique",
        schema(USERS_AND_POSTS % "relatedField: nickname"),
        "tables[1].fields[1].relatedField",
        r'^Relationship field "posts.author": relatedField "nickname" of table "users" is neither unique nor the '
        r"primary key",
        10,
    ),
    (
        "circular required relationships",
        schema("""
        name: app
        tables:
          - name: a
            fields: [{name: b_ref, type: relationship, relatedTable: b, required: true}]
          - name: b
            fields: [{name: a_ref, type: relationship, relatedTable: a, required: true}]
        """),
        "tables[0].fields[0]",
        r"^Circular relationship dependency detected: a -> b -> a - cannot resolve table creation order$",
        4,
    ),
    # -- primary key -----------------------------------------------------------------------------------------
    (
        "primary key type known",
        table("{name: a, type: integer}", extra="primaryKey: {type: serial}"),
        "tables[0].primaryKey.type",
        r'^Invalid primary key type "serial" \(expected one of composite, uuid',
        6,
    ),
    (
        "primary key is a mapping",
        table("{name: a, type: integer}", extra="primaryKey: uuid"),
        "tables[0].primaryKey",
        r"^Expected a mapping, got string$",
        6,
    ),
    (
        "composite needs fields",
        table("{name: a, type: integer}", extra="primaryKey: {type: composite}"),
        "tables[0].primaryKey.fields",
        r"^Missing required key 'fields'$",
        6,
    ),
    (
        "composite fields exist",
        table("{name: a, type: integer}", extra="primaryKey: {type: composite, fields: [a, b]}"),
        "tables[0].primaryKey.fields[1]",
        r'^Primary key references non-existent column "b"$',
        6,
    ),
    (
        "composite fields distinct",
        table("{name: a, type: integer}", extra="primaryKey: {type: composite, fields: [a, a]}"),
        "tables[0].primaryKey.fields",
        r'^Column "a" is listed more than once$',
        6,
    ),
    (
        "non-composite key column is id",
        table("{name: a, type: integer}", extra="primaryKey: {type: uuid, field: a}"),
        "tables[0].primaryKey.field",
        r"^The primary key column of type 'uuid' is always 'id'$",
        6,
    ),
    # -- indexes ---------------------------------------------------------------------------------------------
    (
        "index name pattern",
        table("{name: a, type: integer}", extra="indexes: [{name: Idx-A, fields: [a]}]"),
        "tables[0].indexes[0].name",
        r'^Invalid index name "Idx-A": must match',
        6,
    ),
    (
        "index names unique",
        table(
            "{name: a, type: integer}",
            extra="""
        indexes:
          - {name: idx_a, fields: [a]}
          - {name: idx_a, fields: [created_at]}
        """,
        ),
        "tables[0].indexes[1].name",
        r"^Index names must be unique within the table$",
        8,
    ),
    (
        "index columns exist",
        table("{name: email, type: email}", extra="indexes: [{name: idx_users_status, fields: [status]}]"),
        "tables[0].indexes[0].fields[0]",
        r'^Index "idx_users_status" references non-existent column "status"$',
        6,
    ),
    (
        "index fields non-empty",
        table("{name: a, type: integer}", extra="indexes: [{name: idx_a, fields: []}]"),
        "tables[0].indexes[0].fields",
        r"^Expected at least one field name$",
        6,
    ),
    (
        "index where has no ;",
        table(
            "{name: a, type: integer}", extra='indexes: [{name: idx_a, fields: [a], where: "a > 1; DROP TABLE users"}]'
        ),
        "tables[0].indexes[0].where",
        r"^where must be one SQL expression: ';' and NUL characters are not allowed$",
        6,
    ),
    (
        "index where has no comment",
        table("{name: a, type: integer}", extra='indexes: [{name: idx_a, fields: [a], where: "a > 1 -- x"}]'),
        "tables[0].indexes[0].where",
        r"^where must be one SQL expression: comments are not allowed$",
        6,
    ),
    (
        "index where parses",
        table("{name: a, type: integer}", extra='indexes: [{name: idx_a, fields: [a], where: "a >"}]'),
        "tables[0].indexes[0].where",
        r"^where is not a valid PostgreSQL expression: ",
        6,
    ),
    (
        "index where is boolean",
        table("{name: a, type: integer}", extra='indexes: [{name: idx_a, fields: [a], where: "SELECT 1"}]'),
        "tables[0].indexes[0].where",
        r'^where must be a boolean SQL expression, got "SELECT 1"$',
        6,
    ),
    (
        "index names are schema-wide",
        schema("""
        name: app
        tables:
          - {name: users, fields: [{name: a, type: integer}]}
          - {name: posts, fields: [{name: a, type: integer}], indexes: [{name: users, fields: [a]}]}
        """),
        "tables[1].indexes[0].name",
        r'^Name "users" is already used by table "users"',
        4,
    ),
    (
        "index where has no subquery",
        table("{name: a, type: integer}", extra='indexes: [{name: idx_a, fields: [a], where: "EXISTS (SELECT 1)"}]'),
        "tables[0].indexes[0].where",
        r"^where cannot contain a subquery \(PostgreSQL refuses them here\)$",
        6,
    ),
    # -- unique constraints ----------------------------------------------------------------------------------
    (
        "uniqueConstraints columns exist",
        table("{name: a, type: integer}", extra="uniqueConstraints: [{name: uq_users_a_b, fields: [a, b]}]"),
        "tables[0].uniqueConstraints[0].fields[1]",
        r'^Unique constraint "uq_users_a_b" references non-existent column "b"$',
        6,
    ),
    (
        "uniqueConstraints need a name",
        table("{name: a, type: integer}", extra="uniqueConstraints: [{fields: [a]}]"),
        "tables[0].uniqueConstraints[0].name",
        r"^Missing required key 'name'$",
        6,
    ),
    (
        "unique columns exist",
        table("{name: a, type: integer}", extra="unique: [{fields: [a, c]}]"),
        "tables[0].unique[0].fields[1]",
        r'^Unique constraint "unique\[0\]" references non-existent column "c"$',
        6,
    ),
    # -- foreign keys ----------------------------------------------------------------------------------------
    (
        "foreign key table exists",
        table(
            "{name: a, type: integer}",
            extra="""
        foreignKeys: [{name: fk_a, fields: [a], referencedTable: nowhere, referencedFields: [id]}]
        """,
        ),
        "tables[0].foreignKeys[0].referencedTable",
        r'^Foreign key "fk_a": referencedTable "nowhere" does not exist$',
        6,
    ),
    (
        "foreign key column counts",
        table(
            "{name: a, type: integer}",
            extra="""
        foreignKeys: [{name: fk_a, fields: [a], referencedTable: users, referencedFields: [id, a]}]
        """,
        ),
        "tables[0].foreignKeys[0].referencedFields",
        r'^Foreign key "fk_a": fields and referencedFields must have the same number of columns$',
        6,
    ),
    (
        "foreign key columns exist",
        table(
            "{name: a, type: integer}",
            extra="""
        foreignKeys: [{name: fk_a, fields: [b], referencedTable: users, referencedFields: [id]}]
        """,
        ),
        "tables[0].foreignKeys[0].fields[0]",
        r'^Foreign key "fk_a" references non-existent column "b"$',
        6,
    ),
    (
        "foreign key referenced columns exist",
        table(
            "{name: a, type: integer}",
            extra="""
        foreignKeys: [{name: fk_a, fields: [a], referencedTable: users, referencedFields: [zz]}]
        """,
        ),
        "tables[0].foreignKeys[0].referencedFields[0]",
        r'^Foreign key "fk_a" references non-existent column "zz" in table "users"$',
        6,
    ),
    (
        "foreign key referenced columns unique",
        table(
            "{name: a, type: integer}",
            "{name: b, type: integer}",
            extra="""
        foreignKeys: [{name: fk_a, fields: [a], referencedTable: users, referencedFields: [b]}]
        """,
        ),
        "tables[0].foreignKeys[0].referencedFields",
        r'^Foreign key "fk_a": columns \(b\) of table "users" are not its primary key or covered by a unique',
        7,
    ),
    (
        "foreign key name pattern",
        table(
            "{name: a, type: integer}",
            extra="""
        foreignKeys: [{name: FK, fields: [a], referencedTable: users, referencedFields: [id]}]
        """,
        ),
        "tables[0].foreignKeys[0].name",
        r'^Invalid foreign key name "FK": must match',
        6,
    ),
    # -- check constraints -----------------------------------------------------------------------------------
    (
        "check needed",
        table("{name: a, type: integer}", extra="constraints: [{name: c_a}]"),
        "tables[0].constraints[0].check",
        r"^Missing required key 'check'$",
        6,
    ),
    (
        "check has no ;",
        table("{name: a, type: integer}", extra='constraints: [{name: c_a, check: "a > 0; SELECT 1"}]'),
        "tables[0].constraints[0].check",
        r"^check must be one SQL expression: ';' and NUL",
        6,
    ),
    (
        "check parses",
        table("{name: a, type: integer}", extra='constraints: [{name: c_a, check: "a >> > \'x"}]'),
        "tables[0].constraints[0].check",
        r"^check is not a valid PostgreSQL expression: ",
        6,
    ),
    (
        "check is boolean",
        table("{name: a, type: integer}", extra='constraints: [{name: c_a, check: "a + 1"}]'),
        "tables[0].constraints[0].check",
        r'^check must be a boolean SQL expression, got "a \+ 1"$',
        6,
    ),
    (
        "constraint names unique",
        table(
            "{name: a, type: integer}",
            extra="""
        constraints: [{name: c_a, check: "a > 0"}, {name: c_a, check: "a < 9"}]
        """,
        ),
        "tables[0]",
        r'^Constraint names must be unique within the table \(duplicate "c_a"\)$',
        3,
    ),
]


@pytest.mark.parametrize(("rule", "text", "path", "pattern", "line"), RULES, ids=[row[0] for row in RULES])
def test_rule(rule: str, text: str, path: str, pattern: str, line: int) -> None:
    problems = problems_of(text)
    matching = [p for p in problems if p.path == path and re.search(pattern, p.message)]
    assert matching, f"{rule}: no problem at {path} matching {pattern!r}; got {problems}"
    assert matching[0].line == line


def test_every_problem_in_a_document_is_reported_at_once() -> None:
    problems = problems_of(
        schema("""
        name: app
        tables:
          - name: users
            fields:
              - {name: email, type: email, required: "yes"}
              - {name: age, type: integer, min: 10, max: 3}
              - {name: kind, type: INVALID_TYPE}
            indexes:
              - {name: idx_users_status, fields: [status]}
          - name: users
            fields:
              - {name: author, type: relationship, relatedTable: people}
        """)
    )
    assert [(p.path, p.line) for p in problems] == [
        ("tables[0].fields[0].required", 5),
        ("tables[0].fields[1].min", 6),
        ("tables[0].fields[2].type", 7),
        ("tables[0].indexes[0].fields[0]", 9),
        ("tables[1].name", 10),
        ("tables[1].fields[0].relatedTable", 12),
    ]


HOSTILE_NAMES = [
    'a"b',
    "a'b",
    "a;b",
    "a--b",
    "x/*y*/",
    "drop table users;",
    "ñame",
    "name\u200b",
    "na\x00me",
    "a" * 64,
    "é" * 32,
    "name\n",
    "",
    " name",
    "Name",
    "1abc",
    "a b",
    "a.b",
    "a(b)",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("field", "tables[0].fields[0].name"),
        ("index", "tables[0].indexes[0].name"),
        ("constraint", "tables[0].constraints[0].name"),
        ("foreign key", "tables[0].foreignKeys[0].name"),
    ],
)
def test_hostile_identifiers_are_rejected(name: str, where: str, path: str) -> None:
    fields = [{"name": name if where == "field" else "a", "type": "integer"}]
    users = {"name": "users", "fields": fields}
    if where == "index":
        users["indexes"] = [{"name": name, "fields": ["id"]}]
    if where == "constraint":
        users["constraints"] = [{"name": name, "check": "id > 0"}]
    if where == "foreign key":
        users["foreignKeys"] = [
            {"name": name, "fields": ["id"], "referencedTable": "users", "referencedFields": ["id"]}
        ]
    with pytest.raises(SchemaInvalid) as caught:
        validate_document({"name": "app", "tables": [users]})
    assert path in {problem.path for problem in caught.value.problems}


@pytest.mark.parametrize(
    "name", ['a"b', "a;b", "ünïcode", "t" * 64, "", "  ", "1users", " 1users", "a(b)", "a\x00b"], ids=repr
)
def test_hostile_table_names_are_rejected(name: str) -> None:
    with pytest.raises(SchemaInvalid) as caught:
        validate_document({"name": "app", "tables": [{"name": name, "fields": [{"name": "a", "type": "integer"}]}]})
    assert "tables[0].name" in {problem.path for problem in caught.value.problems}


@pytest.mark.parametrize("item_type", ["text); DROP TABLE x; --", "text[]", "varchar(10)", "int;", "ïnt", "a  b"])
def test_array_item_type_must_be_a_plain_type_name(item_type: str) -> None:
    fields = [{"name": "a", "type": "array", "itemType": item_type}]
    with pytest.raises(SchemaInvalid) as caught:
        validate_document({"name": "app", "tables": [{"name": "t", "fields": fields}]})
    assert [p.path for p in caught.value.problems] == ["tables[0].fields[0].itemType"]


def test_a_valid_schema_becomes_an_app() -> None:
    app = valid(
        table(
            "{name: email, type: email, required: true, unique: true}",
            "{name: role, type: single-select, options: [admin, {value: member, label: Member}], default: member}",
            "{name: flags, type: multi-select, options: [a, b, c], maxSelections: 2, default: [a]}",
            "{name: stage, type: status, options: [{value: open, color: '#3B82F6'}, {value: done}]}",
            "{name: price, type: currency, currency: EUR, precision: 2, min: 0, max: 1000, default: 10}",
            "{name: active, type: boolean, default: true}",
            "{name: tags, type: array, itemType: double precision, maxItems: 4, default: [x]}",
            "{name: code, type: barcode, format: EAN-13}",
            "{name: joined, type: date, default: 2024-01-31}",
            extra="""
            allowDestructive: true
            primaryKey: {type: composite, fields: [email]}
            indexes: [{name: idx_users_role, fields: [role, email], unique: true, where: "role <> 'admin'"}]
            uniqueConstraints: [{name: uq_users_role_flags, fields: [role, flags]}]
            unique: [{fields: [price, code]}]
            constraints: [{name: users_price_sane, check: "price < 1000 OR role = 'admin'"}]
            foreignKeys: [{name: fk_self, fields: [email], referencedTable: users, referencedFields: [email]}]
            """,
        )
    )
    (users,) = app.tables
    assert (app.name, users.id, users.name, users.allow_destructive) == ("app", 1, "users", True)
    assert [f.id for f in users.fields] == list(range(1, 10))
    role, flags, stage, price, active, tags, code, joined = users.fields[1:]
    assert (role.options, role.default) == (("admin", "member"), "member")
    assert (flags.max_selections, flags.default) == (2, ("a",))
    assert stage.options == ("open", "done")
    assert (price.precision, price.min, price.max, price.default) == (2, 0, 1000, 10)
    assert (active.type, active.default) == ("checkbox", True)
    assert (tags.item_type, tags.max_items, tags.default) == ("double precision", 4, ("x",))
    assert code.format == "EAN-13"
    assert joined.default == "2024-01-31"
    assert users.primary_key == PrimaryKey("composite", ("email",))
    assert users.indexes == (IndexSpec("idx_users_role", ("role", "email"), True, "role <> 'admin'"),)
    assert users.unique_constraints == (
        UniqueSpec(("role", "flags"), "uq_users_role_flags"),
        UniqueSpec(("price", "code")),
    )
    assert users.checks == (CheckSpec("users_price_sane", "price < 1000 OR role = 'admin'"),)
    assert users.foreign_keys == (ForeignKeySpec("fk_self", ("email",), "users", ("email",)),)


def test_tables_may_be_absent_or_empty() -> None:
    assert valid("name: app\n").tables == ()
    assert valid("name: app\ntables: []\n").document == "[]"


def test_listed_keys_are_accepted_and_ignored() -> None:
    app = valid(
        schema("""
        name: app
        version: 1.2.3
        theme: {colors: {primary: '#000000'}}
        pages: [{name: home, path: /}]
        tables:
          - name: users
            views: [{id: all_users, name: All users}]
            permissions: {read: all}
            fields:
              - {name: email, type: email, searchWeight: A, storage: {compression: lz4}}
              - {name: joined, type: date, dateFormat: ISO, includeTime: false}
        """)
    )
    assert [f.name for f in app.tables[0].fields] == ["email", "joined"]


def test_auth_marks_the_app() -> None:
    assert valid("name: app\nauth: {emailAndPassword: true}\n").auth is True
    assert valid("name: app\n").auth is False


def test_missing_ids_are_assigned_after_the_largest_numeric_id() -> None:
    app = valid(
        schema("""
        name: app
        tables:
          - id: 5
            name: a
            fields: [{name: x, type: integer}, {id: 9, name: y, type: integer}, {name: z, type: integer}]
          - {name: b, fields: [{name: x, type: integer}]}
          - {id: people, name: c, fields: [{name: x, type: integer}]}
          - {name: d, fields: [{name: x, type: integer}]}
        """)
    )
    assert [t.id for t in app.tables] == [5, 6, "people", 7]
    assert [f.id for f in app.tables[0].fields] == [10, 9, 11]


def test_relationships_default_and_normalise() -> None:
    app = valid(schema(USERS_AND_POSTS % "onDelete: SET NULL, onUpdate: No_Action"))
    author = app.tables[1].fields[1]
    assert (author.relation_type, author.on_delete, author.on_update) == ("many-to-one", "set-null", "no-action")
    stored = json.loads(app.document)[1]["fields"][1]
    assert (stored["relationType"], stored["onDelete"]) == ("many-to-one", "SET NULL")


def test_relationship_may_reference_a_unique_field() -> None:
    app = valid(schema(USERS_AND_POSTS % "relatedField: email, relationType: one-to-one"))
    assert app.tables[1].fields[1].related_field == "email"


def test_optional_and_self_referencing_cycles_are_allowed() -> None:
    app = valid(
        schema("""
        name: app
        tables:
          - name: a
            fields:
              - {name: b_ref, type: relationship, relatedTable: b, required: true}
              - {name: parent, type: relationship, relatedTable: a, required: true}
          - name: b
            fields: [{name: a_ref, type: relationship, relatedTable: a}]
        """)
    )
    assert len(app.tables) == 2


def test_cycles_are_reported_once_with_the_shortest_chain() -> None:
    problems = problems_of(
        schema("""
        name: app
        tables:
          - {name: a, fields: [{name: b, type: relationship, relatedTable: b, required: true}]}
          - {name: b, fields: [{name: c, type: relationship, relatedTable: c, required: true}]}
          - {name: c, fields: [{name: a, type: relationship, relatedTable: a, required: true}]}
        """)
    )
    assert [p.message for p in problems] == [
        "Circular relationship dependency detected: a -> b -> c -> a - cannot resolve table creation order"
    ]


def test_composite_primary_key_may_name_system_columns() -> None:
    app = valid(table("{name: a, type: integer}", extra="primaryKey: {type: composite, fields: [id, a]}"))
    assert app.tables[0].primary_key == PrimaryKey("composite", ("id", "a"))


def test_one_to_many_fields_make_no_indexable_column() -> None:
    problems = problems_of(
        schema("""
        name: app
        tables:
          - name: users
            fields: [{name: posts, type: relationship, relatedTable: posts, relationType: one-to-many}]
            indexes: [{name: idx_users_posts, fields: [posts]}]
          - {name: posts, fields: [{name: title, type: single-line-text}]}
        """)
    )
    assert [p.message for p in problems] == ['Index "idx_users_posts" references non-existent column "posts"']


def test_a_problem_in_a_field_does_not_hide_its_relationship_problem() -> None:
    problems = problems_of(table("{name: a, type: relationship, relatedTable: ghosts, required: maybe}"))
    assert {p.path for p in problems} == {"tables[0].fields[0].required", "tables[0].fields[0].relatedTable"}


def test_non_json_values_are_refused() -> None:
    problems = problems_of(table("{name: a, type: integer}", extra="permissions: {1: read, blob: !!binary aGk=}"))
    assert {(p.path, p.message) for p in problems} == {
        ("tables[0].permissions.1", "Keys must be strings"),
        ("tables[0].permissions.blob", "Expected plain JSON data, got bytes"),
    }


def test_the_top_level_must_be_a_mapping() -> None:
    with pytest.raises(SchemaInvalid) as caught:
        app_from_document(["not", "a", "mapping"])
    assert caught.value.problems == (Problem("The top level must be a mapping with 'name' and 'tables', got list", ""),)


def test_every_field_type_has_a_key_list() -> None:
    assert set(COLUMN_TYPES | NO_COLUMN_TYPES) <= set(TYPE_KEYS)
    assert set(KNOWN_TYPES) - set(LEGACY_ALIASES) <= set(TYPE_KEYS)


def test_sqlglot_is_imported_only_for_raw_sql() -> None:
    script = textwrap.dedent("""
        import sys
        from sovrium_tui.schema import parse_app
        parse_app("name: app\\ntables: [{name: t, fields: [{name: a, type: integer}]}]\\n")
        assert "sqlglot" not in sys.modules
        parse_app("name: app\\ntables: [{name: t, fields: [{name: a, type: integer}],"
                  " constraints: [{name: c, check: 'a > 0'}]}]\\n")
        assert "sqlglot" in sys.modules
    """)
    subprocess.run([sys.executable, "-c", script], check=True)


_FUZZ_KEYS = sorted(ALL_FIELD_KEYS | TABLE_KEYS | {"value", "label", "color", "check", "where", "referencedTable"})
_FUZZ_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.floats(),
    st.text(max_size=5),
    st.sampled_from([*sorted(TYPE_KEYS), "users", "id", "a > 1", "x; y", "#FFFFFF", "set null", "composite"]),
)
_FUZZ_VALUES = st.recursive(
    _FUZZ_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_FUZZ_KEYS), inner, max_size=6),
    max_leaves=15,
)
_FUZZ_FIELDS = st.dictionaries(st.sampled_from(_FUZZ_KEYS), _FUZZ_VALUES, max_size=8).map(
    lambda extra: {"name": "a", "type": "integer", **extra}
)
_FUZZ_TABLES = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "users"]), "fields": st.lists(_FUZZ_FIELDS | _FUZZ_VALUES, max_size=4)},
    optional=dict.fromkeys(("id", "primaryKey", "indexes", "unique", "foreignKeys", "constraints"), _FUZZ_VALUES),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FUZZ_TABLES, max_size=3))
def test_any_document_gives_an_app_or_problems_never_a_crash(tables: list[dict[str, object]]) -> None:
    try:
        app = validate_document({"name": "app", "tables": tables})
    except SchemaInvalid as invalid:
        assert invalid.problems
        assert all(problem.message for problem in invalid.problems)
    else:
        assert app_from_document(app_snapshot(app)) == app


_FUZZ_FIELD_SETTINGS = st.dictionaries(st.sampled_from(_FUZZ_KEYS), _FUZZ_VALUES, max_size=6).map(
    lambda extra: {key: value for key, value in extra.items() if key not in ("name", "id")}
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(TYPE_KEYS)), _FUZZ_FIELD_SETTINGS)
def test_fields_written_alike_are_read_alike(kind: str, settings_: dict[str, object]) -> None:
    """Each copy of a field (same keys, other names) is read as the first one is: same Field, same problems."""
    written = {"type": kind, **settings_}
    fields = [{"name": name, **written} for name in ("first", "second", "third")]
    try:
        app = validate_document({"name": "app", "tables": [{"name": "t", "fields": fields}]})
    except SchemaInvalid as invalid:
        by_field: dict[str, set[tuple[str, str]]] = {}
        for problem in invalid.problems:
            path = problem.path or ""
            if path.startswith("tables[0].fields["):
                index, _, rest = path.removeprefix("tables[0].fields[").partition("]")
                message = re.sub(r"\b(first|second|third)\b", "<name>", problem.message)
                by_field.setdefault(index, set()).add((rest, message))
        assert by_field.get("0") == by_field.get("1") == by_field.get("2")
    else:
        first, second, third = app.tables[0].fields
        assert (second.name, second.id, third.name, third.id) == ("second", 2, "third", 3)
        assert replace(second, name="first", id=1) == first == replace(third, name="first", id=1)


# Values a careless "written alike" key would merge: JSON writes NaN and infinities as null; 1 == 1.0 == True.
_CONFUSABLE_VALUES = [None, math.nan, math.inf, 1, 1.0, True, 0, 0.0, -0.0, False, "1", [1], [True], [1.0]]


def _second_field_read(fields: list[dict[str, object]]) -> tuple[object, set[tuple[str, str]]]:
    """How the second field was read: its Field, or the problems said about it."""
    try:
        app = validate_document({"name": "app", "tables": [{"name": "t", "fields": fields}]})
    except SchemaInvalid as invalid:
        said = {
            ((problem.path or "").removeprefix("tables[0].fields[1]"), problem.message)
            for problem in invalid.problems
            if (problem.path or "").startswith("tables[0].fields[1]")
        }
        return None, said
    return app.tables[0].fields[1], set()


_NEAR_COPIES = [
    ("integer", "min"),
    ("decimal", "precision"),
    ("checkbox", "default"),
    ("single-line-text", "required"),
    ("multi-select", "options"),
    ("autonumber", "digits"),
]


def test_a_field_is_read_on_its_own_after_one_written_almost_alike() -> None:
    """Fields written alike are read once; one that differs only by a value a weak key would merge is not."""
    for kind, key in _NEAR_COPIES:
        for before, value in itertools.product(_CONFUSABLE_VALUES, repeat=2):
            second = {"name": "second", "type": kind, key: value}
            near_copy = _second_field_read([{"name": "first", "type": kind, key: before}, second])
            alone = _second_field_read([{"name": "first", "type": "long-text"}, second])
            where = f"{kind}.{key}: {before!r} then {value!r}"
            assert near_copy[1] == alone[1], where
            if near_copy[0] is not None and alone[0] is not None:  # (a problem with the first field stops the app)
                assert near_copy[0] == alone[0], where


_PLAIN_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(alphabet=st.characters(exclude_characters="\\"), max_size=4),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy"]),
)
_PLAIN_KEYS = st.text(max_size=3) | st.sampled_from(["\x00", "\ud800"]) | st.integers(0, 3) | st.none()


def _nested(value: object, depth: int) -> object:
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        _PLAIN_SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_PLAIN_KEYS, inner, max_size=3),
        max_leaves=12,
    ),
    st.sampled_from([0, 1, 62, 63, 64, 65, 80]),
)
def test_the_quick_plain_data_answer_agrees_with_the_walk_that_names_problems(value: object, depth: int) -> None:
    from sovrium_tui.schema.validate import Problems, _check_plain_data, _is_plain_data

    document = {"fields": _nested(value, depth)}
    problems = Problems()
    _check_plain_data(problems, document, "tables[0]")  # names every problem, whatever the quick answer said
    assert _is_plain_data(document) == (len(problems) == 0)


@pytest.mark.parametrize("default", ["2024-02-29", "2024-1-5", "CURRENT_DATE", "2024/02/30 is PostgreSQL's to read"])
def test_date_defaults_that_are_days_or_not_year_month_day_text_are_accepted(default: str) -> None:
    app = valid(table(f"{{name: a, type: date, default: {default!r}}}"))
    assert app.tables[0].fields[0].default == default
