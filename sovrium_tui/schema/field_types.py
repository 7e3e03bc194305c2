"""The field-type vocabulary: which types exist, which make a column, which are computed in the table's view."""

from __future__ import annotations

# Types that become one physical column.
COLUMN_TYPES = frozenset(
    {
        "single-line-text",
        "long-text",
        "rich-text",
        "email",
        "url",
        "phone-number",
        "integer",
        "decimal",
        "currency",
        "percentage",
        "rating",
        "progress",
        "autonumber",
        "checkbox",
        "date",
        "datetime",
        "time",
        "duration",
        "single-select",
        "multi-select",
        "status",
        "single-attachment",
        "multiple-attachments",
        "barcode",
        "color",
        "array",
        "json",
        "geolocation",
        "code",
        "user",
        "created-by",
        "updated-by",
        "deleted-by",
        "created-at",
        "updated-at",
        "deleted-at",
        "relationship",  # one-to-many and many-to-many make no column here; see creates_column()
        "formula",  # unless it reads a lookup, rollup or count: then it is computed in the table's view
        "ai-categorize",
        "ai-extract",
        "ai-generate",
        "ai-sentiment",
        "ai-summary",
        "ai-tag",
        "ai-translate",
    }
)

# The barcode formats whose column gets a CHECK on its text (others take any text, as in Sovrium), and the pattern.
BARCODE_PATTERNS = {
    "EAN-13": r"^[0-9]{13}$",
    "EAN-8": r"^[0-9]{8}$",
    "UPC-A": r"^[0-9]{12}$",
    "UPC-E": r"^[0-9]{6,8}$",
    "CODE-128": r"^[\x00-\x7F]+$",
    "CODE-39": r"^[A-Z0-9\-\.\$\/\+\%\ ]+$",
}
COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"

# Text kinds stored as `character varying(255)`.
VARCHAR_255_TYPES = frozenset(
    {"single-line-text", "email", "url", "phone-number", "single-select", "status", "barcode"}
)

# Legacy aliases Sovrium still accepts, and the type each behaves as.
LEGACY_ALIASES = {"boolean": "checkbox", "number": "decimal", "attachment": "multiple-attachments"}

# Types that make no column at all and need nothing from the database.
NO_COLUMN_TYPES = frozenset({"button"})

# Types computed in the table's view (which makes the table view-backed): no column of their own.
VIEW_COMPUTED_TYPES = frozenset({"lookup", "rollup", "count"})

KNOWN_TYPES = COLUMN_TYPES | NO_COLUMN_TYPES | VIEW_COMPUTED_TYPES | frozenset(LEGACY_ALIASES)

NUMERIC_TYPES = frozenset({"integer", "decimal", "currency", "percentage", "rating"})
# Types whose column holds text (character varying or text).
TEXT_TYPES = frozenset(
    {"single-line-text", "long-text", "rich-text", "email", "url", "phone-number", "single-select", "status"}
    | {"barcode", "color", "code", "single-attachment", "user", "created-by", "updated-by", "deleted-by"}
)
# Types whose column holds a date or a time of day (date, timestamp with time zone, time).
DATE_TIME_TYPES = frozenset({"date", "datetime", "time", "created-at", "updated-at", "deleted-at"})
SELECT_TYPES = frozenset({"single-select", "multi-select", "status"})
FOREIGN_KEY_RELATIONS = frozenset({"many-to-one", "one-to-one"})
RELATION_TYPES = ("many-to-one", "one-to-one", "one-to-many", "many-to-many")
REFERENTIAL_ACTIONS = ("cascade", "set-null", "set-default", "restrict", "no-action")
PRIMARY_KEY_TYPES = ("composite", "uuid", "text", "bigserial", "auto-increment")

# System columns every table gets unless a field takes the name.
SYSTEM_COLUMNS = ("id", "created_at", "updated_at", "deleted_at")


def canonical_type(field_type: str) -> str:
    """The type a legacy alias behaves as; other types unchanged."""
    return LEGACY_ALIASES.get(field_type, field_type)


def creates_column(field_type: str, relation_type: str | None) -> bool:
    """Whether a field of this type (and relation type) is stored as a column of its own table."""
    kind = canonical_type(field_type)
    if kind == "relationship":
        return (relation_type or "many-to-one") in FOREIGN_KEY_RELATIONS
    return kind in COLUMN_TYPES
