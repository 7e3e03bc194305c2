"""The one place identifiers and literals become SQL text; every other module calls these."""

from __future__ import annotations

import functools
import re

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1

# Words PostgreSQL's quote_ident() quotes (pg_get_keywords() catcode <> 'U', PostgreSQL 15 and 18 merged),
# so names we print match what the server prints in pg_get_constraintdef / pg_get_indexdef.
QUOTED_KEYWORDS = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both
    case cast char character check coalesce collate collation column concurrently constraint create cross
    current_catalog current_date current_role current_schema current_time current_timestamp current_user dec
    decimal default deferrable desc distinct do else end except exists extract false fetch float for foreign
    freeze from full grant greatest group grouping having ilike in initially inner inout int integer intersect
    interval into is isnull join json json_array json_arrayagg json_exists json_object json_objectagg
    json_query json_scalar json_serialize json_table json_value lateral leading least left like limit
    localtime localtimestamp merge_action national natural nchar none normalize not notnull null nullif
    numeric offset on only or order out outer overlaps overlay placing position precision primary real
    references returning right row select session_user setof similar smallint some substring symmetric
    system_user table tablesample then time timestamp to trailing treat trim true union unique user using
    values varchar variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists
    xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
    """.split()
)

_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


@functools.lru_cache(maxsize=16384)  # a big app's DDL quotes the same few thousand names over and over
def quote_ident(name: str) -> str:
    """Quote a name exactly when PostgreSQL's quote_ident() would; embedded quotes are doubled."""
    if "\x00" in name:
        raise ValueError("identifiers cannot contain NUL characters")
    if _PLAIN_IDENTIFIER.fullmatch(name) and name not in QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


_SQL_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*|::|.""", re.DOTALL)


def requote_identifiers(text: str, words: frozenset[str]) -> str:
    """Deparsed SQL from a server whose keyword list differs from ours in `words`, quoted as `quote_ident` does.

    PostgreSQL 15 prints a column named `json` bare, 18 prints `"json"`: names are re-quoted so that both read
    back the same text. Literals, type names after `::` and function calls are left alone.
    """
    if not words:
        return text
    tokens = _SQL_TOKENS.findall(text)
    out: list[str] = []
    for position, token in enumerate(tokens):
        quoted = token.startswith('"')
        value = token[1:-1].replace('""', '"') if quoted else token
        type_name = position > 0 and tokens[position - 1] == "::"
        call = position + 1 < len(tokens) and tokens[position + 1] == "("
        is_name = quoted or not (type_name or call)
        out.append(quote_ident(value) if is_name and value in words else token)
    return "".join(out)


def quote_literal(value: str) -> str:
    """A standard-conforming string literal: single quotes doubled, nothing else special."""
    if "\x00" in value:
        raise ValueError("string literals cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"


def truncate_identifier(name: str) -> str:
    """The name PostgreSQL stores for `name`: cut to 63 bytes of UTF-8 without splitting a character."""
    encoded = name.encode("utf-8")
    if len(encoded) <= MAX_IDENTIFIER_BYTES:
        return name
    return encoded[:MAX_IDENTIFIER_BYTES].decode("utf-8", errors="ignore")


def serial_sequence_name(table: str, column: str) -> str:
    """The name PostgreSQL gives a serial column's sequence, `<table>_<column>_seq` (its `makeObjectName`): when
    too long, the longer of the table's and the column's names is shortened, a byte at a time, never the `_seq`."""
    first, second = table.encode("utf-8"), column.encode("utf-8")
    available = MAX_IDENTIFIER_BYTES - len("_seq") - 1
    first_bytes, second_bytes = len(first), len(second)
    while first_bytes + second_bytes > available:
        if first_bytes > second_bytes:
            first_bytes -= 1
        else:
            second_bytes -= 1
    kept_first = first[:first_bytes].decode("utf-8", errors="ignore")
    kept_second = second[:second_bytes].decode("utf-8", errors="ignore")
    return f"{kept_first}_{kept_second}_seq"


class UnreadableSql(ValueError):
    """SQL text PostgreSQL's lexer refuses (the reason is the message)."""


def setting_proof(sql: str) -> str:
    """`sql` with every plain string literal that holds a backslash written as an escape string (E'…').

    A plain literal's backslash means itself only while `standard_conforming_strings` is on; with it off (a
    server, database or role setting) `'\\'; DROP …'` ends early and the rest runs as SQL. An escape string
    means the same under either setting, so generated SQL stays safe even when run outside this tool's own
    sessions (which set the setting on), e.g. `sovrium sql app.yaml | psql`.
    """
    if "\\" not in sql:
        return sql
    from pglast import parser

    pieces: list[str] = []
    written = 0
    try:
        tokens = parser.scan(sql)
    except parser.ParseError as failure:  # e.g. E'\x00': an escape that is no valid UTF-8
        raise UnreadableSql(str(failure.args[0]) if failure.args else str(failure)) from None
    for token in tokens:
        if token.name != "SCONST":
            continue
        literal = sql[token.start : token.end + 1]
        if literal.startswith("'") and "\\" in literal:
            pieces += [sql[written : token.start], "E", literal.replace("\\", "\\\\")]
            written = token.end + 1
    return "".join(pieces) + sql[written:]
