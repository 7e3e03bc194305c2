"""JSON text exactly as JavaScript's `JSON.stringify` prints it, so checksums match the ones Sovrium computes.

Python's `json.dumps` differs in two ways that change a hash: numbers (`1e-07` and `1e+21` where JavaScript
prints `1e-7` and `1e+21`, `100000000000000000000` for `1e20`, `1.0` for `1`) and key order (JavaScript lists
integer-like keys first, in numeric order, and compares other keys by UTF-16 code units). Strings escape alike.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

# Beyond 2**53 a JavaScript number is a double, so a Python int prints as the double nearest to it.
_EXACT_INTEGER_LIMIT = 2**53
# Array-index keys (0 .. 2**32 - 2, written canonically) come first in a JavaScript object, in numeric order.
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")
_MAX_ARRAY_INDEX = 2**32 - 2


def number_text(value: int | float) -> str:
    """ECMAScript Number::toString for a finite number; `null` where JSON.stringify would print it."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        if -_EXACT_INTEGER_LIMIT <= value <= _EXACT_INTEGER_LIMIT:
            return str(value)
        try:
            value = float(value)
        except OverflowError:  # beyond the largest double: Infinity in JavaScript
            return "null"
    if not math.isfinite(value):
        return "null"
    return _double_text(value)


def _double_text(value: float) -> str:
    """The spec's algorithm (ECMA-262 §6.1.6.1.20) over the shortest round-trip digits Python's repr finds."""
    if value == 0:
        return "0"  # -0 too
    if value < 0:
        return "-" + _double_text(-value)
    _, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # value = 0.digits × 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    power = n - 1
    sign = "+" if power >= 0 else "-"
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e{sign}{abs(power)}"


def sorted_keys(keys: Sequence[str]) -> list[str]:
    """Keys in the order JavaScript lists them after `Object.keys(o).toSorted()` rebuilt the object."""
    indexes: list[tuple[int, str]] = []
    others: list[str] = []
    for key in keys:
        if _ARRAY_INDEX.fullmatch(key) and int(key) <= _MAX_ARRAY_INDEX:
            indexes.append((int(key), key))
        else:
            others.append(key)
    if all(key.isascii() for key in others):
        others.sort()
    else:  # code units, not code points: an astral character sorts before U+E000..U+FFFF
        others.sort(key=lambda key: key.encode("utf-16-be", "surrogatepass"))
    return [key for _, key in sorted(indexes)] + others


def stringify(value: object, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """`JSON.stringify(value, null, indent)`; with `sort_keys`, as if every object's keys had been sorted first."""
    if sort_keys and indent in (None, 0, 2):
        text = _by_orjson(value, indented=bool(indent))
        if text is not None:
            return text
    parts: list[str] = []
    _Writer(parts, " " * (indent or 0), sort_keys).write(value, "\n" if indent else "")
    return "".join(parts)


# Where orjson's compact, key-sorted output may differ from JavaScript's: a number that is not a plain safe
# integer (only possible right after `:`, `,` or `[`, as a quote inside a string is always escaped), and a key that
# is an array index (and astral characters next to U+E000..U+FFFF, UTF-16 order, below). Non-finite numbers need
# no search: both write null. False alarms only cost time; two simple patterns scan twice as fast as one with both.
_MAYBE_NOT_SAFE_INTEGER = re.compile(r"[:,\[]-?[0-9]+(?:[.eE]|[0-9]{15})")
_MAYBE_INDEX_KEY = re.compile(r'[{,]"(?:0|[1-9][0-9]*)":')
# Both patterns need an ASCII digit followed by `.`, `e`, `E`, 15 more digits, or `":`: those clues are looked
# for first (`number_clues`: bytes.translate and substring search run at memory speed, while the patterns, led by
# characters JSON is full of, take about 15 ms per MB each). Only text with a clue is searched with the patterns.
_DIGITS_AND_EXPONENTS = bytes.maketrans(b"123456789eE", b"000000000..")
_MAYBE_CLUES = (b'0":', b"0.", b"0" * 16)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_PRIVATE_USE_AND_UP = re.compile("[\ue000-\uffff]")


def _by_orjson(value: object, *, indented: bool) -> str | None:
    """The text from orjson (Rust; 10 to 30 times faster than this module's writer) when it is provably
    JavaScript's text, else None. orjson escapes as JSON.stringify does and indents by two spaces as
    `JSON.stringify(v, null, 2)`; numbers and key order are checked on its compact text below."""
    import orjson

    if type(value) is not list and type(value) is not dict:
        return None  # the search below needs every number inside brackets
    try:
        compact = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None  # keys that are not text, integers beyond 64 bits, lone surrogates …
    if _may_differ_from_javascript(compact):
        return None
    if not compact.isascii() and _ASTRAL.search(compact) and _PRIVATE_USE_AND_UP.search(compact):
        return None
    if not indented:
        return compact
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode()


def number_clues(text: bytes) -> bytes:
    """`text` with every digit made `0` and every `.`, `e` and `E` made `.`: a number with a fraction or an exponent
    leaves `0.` in it, one of 16 digits or more sixteen zeros, a key ending in a digit `0":`. A substring search of
    the clues is a quick no before a regular expression over megabytes of JSON."""
    return text.translate(_DIGITS_AND_EXPONENTS)


_FRACTION_TOKEN = re.compile(rb"[:,\[]-?[0-9]+[.eE]")


def may_hold_fraction(written: bytes) -> bool:
    """Whether compact JSON may hold a number with a fraction or an exponent (a float). Such text inside a string
    (`"a:1e"`) is a false alarm; a float is never missed."""
    return b"0." in number_clues(written) and _FRACTION_TOKEN.search(written) is not None


def read_json(text: str) -> Any:
    """`json.loads(text)`, by orjson (about five times faster on a big app's megabytes) where it reads the same.

    orjson turns integers beyond 64 bits into floats, which a digit run of 19 or more in the text's clues rules
    out; anything else it reads differently (NaN, lone surrogates) it refuses, and the standard library reads it.
    """
    import orjson

    if b"0" * 19 not in number_clues(text.encode("utf-8", "surrogatepass")):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _may_differ_from_javascript(compact: str) -> bool:
    """Whether orjson's compact text may hold a number that is not a plain safe integer, or an index-like key."""
    clues = number_clues(compact.encode("utf-8", "surrogatepass"))
    if not any(clue in clues for clue in _MAYBE_CLUES):
        return False
    return bool(_MAYBE_NOT_SAFE_INTEGER.search(compact) or _MAYBE_INDEX_KEY.search(compact))


def _key_text(key: object) -> str:
    """An object key as JavaScript turns it into a property name."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return "null" if key is None else "true" if key else "false"
    if isinstance(key, int | float):
        return number_text(key)
    raise TypeError(f"not a JSON key: {key!r}")


class _Writer:
    """A recursive writer into one list of text parts; checksummed documents run to megabytes, so it is lean."""

    def __init__(self, parts: list[str], step: str, sort_keys: bool) -> None:
        self.parts = parts
        self.step = step
        self.sort_keys = sort_keys
        self.separator = ": " if step else ":"

    def keys(self, mapping: Mapping[str, object]) -> list[str]:
        """The keys in writing order; TypeError when one is not text."""
        if not self.sort_keys:
            keys = list(mapping)
            if not all(type(key) is str for key in keys):
                raise TypeError("a key that is not text")
            return keys
        keys = sorted(mapping)
        if all(map(str.isascii, keys)) and not any(map(str.isdigit, keys)):
            return keys  # plain text keys: code point order is JavaScript's order
        return sorted_keys(keys)

    def write(self, value: object, newline: str) -> None:
        kind = type(value)
        if kind is str:
            self.parts.append(encode_basestring(value))  # type: ignore[arg-type]
        elif kind is int:
            self.parts.append(number_text(value))  # type: ignore[arg-type]
        elif kind is dict:
            self.write_mapping(value, newline)  # type: ignore[arg-type]
        elif kind is list or kind is tuple:
            self.write_sequence(value, newline)  # type: ignore[arg-type]
        elif value is None:
            self.parts.append("null")
        elif value is True or value is False:
            self.parts.append("true" if value else "false")
        elif isinstance(value, int | float):
            self.parts.append(number_text(value))
        elif isinstance(value, Mapping):
            self.write_mapping(value, newline)
        else:
            raise TypeError(f"not JSON data: {kind.__name__}")

    def write_mapping(self, mapping: Mapping[str, object], newline: str) -> None:
        if not mapping:
            self.parts.append("{}")
            return
        try:
            keys = self.keys(mapping)
        except TypeError:
            mapping = {_key_text(key): item for key, item in mapping.items()}
            keys = self.keys(mapping)
        parts, separator, write = self.parts, self.separator, self.write
        inner = newline + self.step if newline else ""
        between = "," + inner
        parts.append("{" + inner + encode_basestring(keys[0]) + separator)
        write(mapping[keys[0]], inner)
        for key in keys[1:]:
            parts.append(between + encode_basestring(key) + separator)
            write(mapping[key], inner)
        parts.append(newline + "}")

    def write_sequence(self, items: Sequence[object], newline: str) -> None:
        if not items:
            self.parts.append("[]")
            return
        parts, write = self.parts, self.write
        inner = newline + self.step if newline else ""
        between = "," + inner
        parts.append("[" + inner)
        write(items[0], inner)
        for item in items[1:]:
            parts.append(between)
            write(item, inner)
        parts.append(newline + "]")
