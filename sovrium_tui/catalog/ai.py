"""AI fields in the catalog, as Sovrium builds them: a column, and a trigger that fills a placeholder and notifies.

Calling an AI provider is the app's job: the BEFORE trigger `trigger_<t>_<field>_ai_<kind>` (function
`compute_<t>_<field>_<kind>`) writes Sovrium's deterministic placeholder for the row, keeps a value the user gave,
and sends `pg_notify('sovrium_ai_compute', <json>)` so that the app can compute the real value and write it back.
"""

from __future__ import annotations

from collections.abc import Iterable

from sovrium_tui.catalog.model import Function, Trigger
from sovrium_tui.identifiers import quote_ident, quote_literal, truncate_identifier
from sovrium_tui.schema.model import AiSettings, Field

# Column type per AI type (Sovrium's map); ai-tag defaults to an empty JSON array.
COLUMN_TYPES = {
    "ai-categorize": "character varying(255)",
    "ai-extract": "jsonb",
    "ai-generate": "text",
    "ai-sentiment": "jsonb",
    "ai-summary": "text",
    "ai-tag": "jsonb",
    "ai-translate": "text",
}
TAG_DEFAULT = "'[]'::jsonb"

# (function name suffix, trigger name suffix) per type.
_NAMES = {
    "ai-categorize": ("category", "categorize"),
    "ai-extract": ("extract", "extract"),
    "ai-generate": ("generate", "generate"),
    "ai-sentiment": ("sentiment", "sentiment"),
    "ai-summary": ("summary", "summary"),
    "ai-tag": ("tag", "tag"),
    "ai-translate": ("translate", "translate"),
}
_EMPTY_TEXT = "''"
SUMMARY_CAP = 200  # Sovrium's placeholder length when no maxLength is given
EXTRACT_EXCERPT = 500
_EXCERPT = f"left(btrim(source_content), {EXTRACT_EXCERPT})"
_EVENTS = {None: ("INSERT",), "create": ("INSERT",), "update": ("UPDATE",), "both": ("INSERT", "UPDATE")}

_BILLING_WORDS = "(charge|refund|invoic|payment|subscrip|bill|pric)"
_BILLING_CATEGORIES = "(bill|pay|financ)"
_TECH_WORDS = "(crash|error|bug|down|500|server|api|broken|fail)"
_TECH_CATEGORIES = "(tech|bug|error|issue)"
_POSITIVE = "(love|great|amazing|wonderful|excellent|awesome|outstanding|fantastic|good|happy|perfect|best|delight)"
_NEGATIVE = "(terrible|awful|bad|horrible|worst|hate|disappoint|broken|slow|lost|urgent|angry|frustrat|poor|fail)"


def ai_objects(storage: str, fields: Iterable[Field]) -> tuple[list[Function], list[Trigger]]:
    """The trigger functions and triggers of a table's AI fields (none for fields computed on demand only)."""
    functions: list[Function] = []
    triggers: list[Trigger] = []
    for field in fields:
        settings = field.ai
        if field.type not in _NAMES or settings is None or settings.compute_on == "manual":
            continue
        function_suffix, trigger_suffix = _NAMES[field.type]
        function = truncate_identifier(f"compute_{storage}_{field.name}_{function_suffix}")
        trigger = truncate_identifier(f"trigger_{storage}_{field.name}_ai_{trigger_suffix}")
        functions.append(Function(function, _body(storage, field, settings)))
        triggers.append(Trigger(trigger, storage, "BEFORE", _EVENTS[settings.compute_on], function))
    return functions, triggers


def _text(value: str | None) -> str:
    return "NULL::text" if value is None else quote_literal(value)


def _number(value: int | float | None, pg_type: str) -> str:
    return f"NULL::{pg_type}" if value is None else repr(value)


def _array(values: Iterable[str]) -> str:
    return "ARRAY[" + ",".join(quote_literal(v) for v in values) + "]::text[]"


def _body(storage: str, field: Field, settings: AiSettings) -> str:
    column = f"NEW.{quote_ident(field.name)}"
    source = " || ' ' || ".join(f"COALESCE((NEW.{quote_ident(s)})::text, '')" for s in settings.source_fields)
    declarations = [f"source_content text := {source or _EMPTY_TEXT};", "notify_payload text;"]
    kind = field.type
    text_value = kind in ("ai-summary", "ai-translate", "ai-generate", "ai-categorize")
    given = f"{column} IS NOT NULL AND {column} <> ''" if text_value else f"{column} IS NOT NULL"
    lines: list[str] = []
    if kind == "ai-categorize":
        declarations += [
            f"categories text[] := {_array(settings.categories)};",
            "chosen text := NULL;",
            "lowered text;",
            "candidate text;",
        ]
        lines += [f"  IF {given} THEN", "    RETURN NEW;", "  END IF;"]
    elif kind == "ai-tag":
        declarations += [
            f"tags text[] := {_array(settings.tags)};",
            "chosen text[] := ARRAY[]::text[];",
            "lowered text;",
        ]
        declarations += ["candidate text;"]
        lines += [
            f"  IF TG_OP = 'INSERT' AND {column} IS NOT NULL AND jsonb_typeof({column}) = 'array'",
            f"     AND jsonb_array_length({column}) > 0 THEN",
            "    RETURN NEW;",
            "  END IF;",
        ]
    else:
        changed = " OR ".join(
            f"NEW.{quote_ident(s)} IS DISTINCT FROM OLD.{quote_ident(s)}" for s in settings.source_fields
        )
        lines += [
            "  IF TG_OP = 'INSERT' THEN",
            f"    IF {given} THEN",
            "      RETURN NEW;",
            "    END IF;",
            "  ELSIF TG_OP = 'UPDATE' THEN",
            f"    IF NOT ({changed or 'false'}) THEN",
            "      RETURN NEW;",
            "    END IF;",
            f"    IF {column} IS DISTINCT FROM OLD.{quote_ident(field.name)} AND {given} THEN",
            "      RETURN NEW;",
            "    END IF;",
            "  END IF;",
        ]
        if kind == "ai-sentiment":
            declarations += ["sentiment_label text;", "sentiment_score real;", "positive boolean;", "negative boolean;"]
    empty = "'[]'::jsonb" if kind == "ai-tag" else "NULL"
    lines += [
        "  IF source_content IS NULL OR btrim(source_content) = '' THEN",
        f"    {column} := {empty};",
        "    RETURN NEW;",
        "  END IF;",
    ]
    placeholder, payload = _placeholder(storage, field, settings, column)
    lines += placeholder
    lines += [
        "  notify_payload := json_build_object(",
        "    " + ",\n    ".join(f"{quote_literal(key)}, {value}" for key, value in payload),
        "  )::text;",
        "  PERFORM pg_notify('sovrium_ai_compute', notify_payload);",
        "  RETURN NEW;",
    ]
    declare = "\n".join(f"  {line}" for line in declarations)
    return "\n".join(("DECLARE", declare, "BEGIN", *lines, "END;"))


def _placeholder(
    storage: str, field: Field, settings: AiSettings, column: str
) -> tuple[list[str], list[tuple[str, str]]]:
    """The lines that write the placeholder value, and the notification's keys and values."""
    kind = field.type
    common = [
        ("kind", quote_literal(_NAMES[kind][1] if kind != "ai-tag" else "categorize")),
        ("table", quote_literal(storage)),
        ("field", quote_literal(field.name)),
        ("record_id", "NEW.id"),
    ]
    overrides = [
        ("systemPrompt", _text(settings.system_prompt)),
        ("model", _text(settings.model)),
        ("temperature", _number(settings.temperature, "real")),
        ("maxTokens", _number(settings.max_tokens, "int")),
    ]
    if kind == "ai-categorize":
        lines = [
            "  lowered := lower(source_content);",
            "  FOREACH candidate IN ARRAY categories LOOP",
            "    IF position(lower(candidate) in lowered) > 0 THEN chosen := candidate; EXIT; END IF;",
            "  END LOOP;",
            *_heuristic(_BILLING_WORDS, _BILLING_CATEGORIES),
            *_heuristic(_TECH_WORDS, _TECH_CATEGORIES),
            "  IF chosen IS NULL AND array_length(categories, 1) > 0 THEN",
            "    chosen := categories[1];",
            "  END IF;",
            f"  {column} := chosen;",
        ]
        payload = [("value", "chosen"), ("source", "left(source_content, 500)"), ("categories", "to_jsonb(categories)")]
        return lines, common + payload
    if kind == "ai-tag":
        limit = [f"  chosen := chosen[1:{settings.max_tags}];"] if settings.max_tags is not None else []
        lines = [
            "  lowered := lower(source_content);",
            "  FOREACH candidate IN ARRAY tags LOOP",
            "    IF position(lower(candidate) in lowered) > 0 THEN chosen := array_append(chosen, candidate); END IF;",
            "  END LOOP;",
            "  IF array_length(chosen, 1) IS NULL AND array_length(tags, 1) > 0 THEN",
            "    chosen := array_append(chosen, tags[1]);",
            "  END IF;",
            *limit,
            f"  {column} := to_jsonb(chosen);",
        ]
        payload = [
            ("value", "array_to_string(chosen, ', ')"),
            ("source", "left(source_content, 500)"),
            ("categories", "to_jsonb(tags)"),
            ("model", _text(settings.model)),
        ]
        return lines, common + payload
    if kind == "ai-summary":
        cap = settings.max_length if settings.max_length is not None else SUMMARY_CAP
        prompt = settings.prompt if settings.prompt is not None else "Summarize the following content concisely"
        lines = [f"  {column} := left(btrim(source_content), {cap});"]
        payload = [
            ("value", column),
            ("source", "left(source_content, 2000)"),
            ("prompt", quote_literal(prompt)),
            *[item for item in overrides if item[0] != "systemPrompt"],
            ("maxLength", _number(settings.max_length, "int")),
        ]
        return lines, common + payload
    if kind == "ai-translate":
        lines = [f"  {column} := btrim(source_content);"]
        payload = [
            ("value", column),
            ("source", "left(source_content, 4000)"),
            ("targetLanguage", quote_literal(settings.target_language or "")),
            ("prompt", _text(settings.prompt)),
            *overrides,
        ]
        return lines, common + payload
    if kind == "ai-generate":
        prompt = quote_literal(settings.prompt or "")
        for name in settings.source_fields:
            placeholder = quote_literal("{{" + name + "}}")
            prompt = f"replace({prompt}, {placeholder}, COALESCE((NEW.{quote_ident(name)})::text, ''))"
        lines = [f"  {column} := {prompt};"]
        payload = [("value", column), ("prompt", column), ("source", "left(source_content, 4000)"), *overrides]
        return lines, common + payload
    if kind == "ai-extract":
        pairs = [
            f"{quote_literal(name)}, {'NULL::text' if numeric else _EXCERPT}"
            for name, numeric in settings.extract_properties
        ]
        value = f"jsonb_build_object({', '.join(pairs)})" if pairs else "'{}'::jsonb"
        lines = [f"  {column} := {value};"]
        payload = [
            ("value", f"({column})::text"),
            ("source", "left(source_content, 4000)"),
            ("schema", quote_literal(settings.schema_json or "{}")),
            ("prompt", _text(settings.prompt)),
            *overrides,
        ]
        return lines, common + payload
    # ai-sentiment
    lines = [
        f"  positive := lower(source_content) ~ {quote_literal(_POSITIVE)};",
        f"  negative := lower(source_content) ~ {quote_literal(_NEGATIVE)};",
        "  IF positive AND negative THEN",
        "    sentiment_label := 'mixed'; sentiment_score := 0.5;",
        "  ELSIF positive THEN",
        "    sentiment_label := 'positive'; sentiment_score := 0.9;",
        "  ELSIF negative THEN",
        "    sentiment_label := 'negative'; sentiment_score := 0.9;",
        "  ELSE",
        "    sentiment_label := 'neutral'; sentiment_score := 0.5;",
        "  END IF;",
        f"  {column} := jsonb_build_object('label', sentiment_label, 'score', sentiment_score, 'explanation',",
        "    'Deterministic placeholder based on keyword analysis of the source text.');",
    ]
    payload = [
        ("value", f"({column})::text"),
        ("source", "left(source_content, 4000)"),
        ("prompt", _text(settings.prompt)),
    ]
    return lines, common + payload + overrides


def _heuristic(words: str, categories: str) -> list[str]:
    """Sovrium's fallback: content about billing (or a technical issue) picks the matching kind of category."""
    return [
        f"  IF chosen IS NULL AND lowered ~ {quote_literal(words)} THEN",
        "    FOREACH candidate IN ARRAY categories LOOP",
        f"      IF lower(candidate) ~ {quote_literal(categories)} THEN chosen := candidate; EXIT; END IF;",
        "    END LOOP;",
        "  END IF;",
    ]
