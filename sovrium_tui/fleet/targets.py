"""The databases of a fleet: a targets file read strictly into typed targets, and the `--only` selection.

```yaml
targets:
  - name: tenant-a
    url: postgresql://app@db1/tenant_a
    labels: {region: eu, tier: canary}
  - name: tenant-b
    url_env: TENANT_B_URL          # the URL is read from this environment variable
```

A URL may hold a password (`user:password@`, `?password=`); a target never shows it: its repr leaves the URL
out, `display_url` hides the password, and `scrub` hides it in any text (an error message, say).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

import yaml

from sovrium_tui.errors import Problem, TargetsInvalid
from sovrium_tui.execution.connect import redact_url
from sovrium_tui.records import record
from sovrium_tui.text import line_within

TARGET_KEYS = ("name", "url", "url_env", "labels")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LABEL_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
URL_SCHEMES = ("postgresql", "postgres")
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


@record
class Target:
    """One database of the fleet: its name, its URL (never in the repr: it may hold a password), its labels."""

    name: str
    url: str = field(repr=False)
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @property
    def server(self) -> str:
        return server_of(self.url)

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)

    def scrub(self, text: str) -> str:
        """`text` with this target's URL shown redacted and its password, in any spelling, as `***`."""
        text = text.replace(self.url, self.display_url)
        for secret in sorted(_secrets_of(self.url), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def _secrets_of(url: str) -> set[str]:
    """The password of a URL as written and as decoded, from `user:password@` and from secret parameters."""
    secrets: set[str] = set()
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return secrets
    if password:
        secrets |= {password, unquote(password)}
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if unquote_plus(key).lower() in _SECRET_PARAMETERS and value:
            secrets |= {value, unquote(value), unquote_plus(value)}
    return {secret for secret in secrets if secret}


def server_of(url: str) -> str:
    """The server a URL points at, as `host:port` (a socket directory counts as a host): what shares connections."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    parameters = dict(parse_qsl(parts.query))
    port = parameters.get("port", "5432")
    hostport = parts.netloc.rsplit("@", 1)[-1]
    if hostport:
        return hostport if ":" in hostport.rsplit("]", 1)[-1] else f"{hostport}:{port}"
    return f"{parameters.get('host', 'localhost')}:{port}"


# --- reading the file ------------------------------------------------------------------------------------------


def load_targets(path: str | Path, environ: Mapping[str, str] | None = None) -> tuple[Target, ...]:
    """Read a targets file; every problem (unknown key, missing URL, unset variable, duplicate name) is reported.

    `environ` is where `url_env` variables are looked up (default: this process's environment).
    """
    from sovrium_tui.schema.load import PositionIndex

    source = str(path)
    environ = os.environ if environ is None else environ
    text = _read_text(Path(path), source)
    root = _compose(text, source)
    positions = PositionIndex(root)
    problems = [Problem(message, where, positions.get(where)) for where, message in _duplicate_keys(root)]
    targets: tuple[Target, ...] = ()
    if not problems:
        targets = _read_document(_construct(text, source), environ, problems)
    if problems:
        for index, problem in enumerate(problems):
            if problem.line is None:
                problems[index] = Problem(problem.message, problem.path, _line_of(positions, problem.path))
        raise TargetsInvalid(problems, source=source)
    return targets


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_text(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        message = "targets file not found"
    except IsADirectoryError:
        message = "is a directory, not a targets file"
    except (OSError, UnicodeDecodeError) as failure:
        message = f"cannot read the targets file: {failure}"
    raise TargetsInvalid([Problem(message)], source=source)


def _compose(text: str, source: str) -> yaml.Node:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as failure:
        mark = failure.problem_mark
        line = line_within(text, mark.line) if mark is not None else None
        raise TargetsInvalid([Problem(f"not valid YAML: {failure.problem}", line=line)], source=source) from None
    except yaml.YAMLError as failure:
        raise TargetsInvalid([Problem(f"not valid YAML: {failure}")], source=source) from None
    if root is None:
        raise TargetsInvalid([Problem("the targets file is empty: it needs `targets:` and a list")], source=source)
    return root


def _construct(text: str, source: str) -> object:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as failure:
        mark = getattr(failure, "problem_mark", None)
        line = line_within(text, mark.line) if mark is not None else None
        raise TargetsInvalid([Problem(f"not valid YAML: {failure}", line=line)], source=source) from None


def _duplicate_keys(root: yaml.Node) -> list[tuple[str, str]]:
    """Keys written twice in one mapping (YAML would silently keep the last), as (path, message)."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                if key in seen:
                    found.append((child, f"key {key!r} is written twice"))
                seen.add(key)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value))
    return sorted(found)


def _line_of(positions: Mapping[str, int], path: str) -> int | None:
    """The line of `path`, or of its nearest parent the file has (a missing key is reported at its item)."""
    while path:
        if path in positions:
            return positions[path]
        parent = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", path)
        path = "" if parent == path else parent
    return positions.get("")


def _read_document(document: object, environ: Mapping[str, str], problems: list[Problem]) -> tuple[Target, ...]:
    if not isinstance(document, dict):
        problems.append(Problem("the top level must be a mapping with `targets:`"))
        return ()
    for key in document:
        if key != "targets":
            problems.append(Problem(f"unknown key {key!r}{_hint(key, ('targets',))}", str(key)))
    entries = document.get("targets")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem("`targets` must be a non-empty list of {name, url | url_env, labels}", "targets"))
        return ()
    targets: list[Target] = []
    first_at: dict[str, int] = {}
    for index, entry in enumerate(entries):
        target = _read_target(entry, f"targets[{index}]", environ, problems)
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in first_at:
            message = f"duplicate target name {name!r} (first at targets[{first_at[name]}])"
            problems.append(Problem(message, f"targets[{index}].name"))
        elif isinstance(name, str):
            first_at[name] = index
        if target is not None:
            targets.append(target)
    return tuple(targets)


def _read_target(entry: object, path: str, environ: Mapping[str, str], problems: list[Problem]) -> Target | None:
    if not isinstance(entry, dict):
        problems.append(Problem("each target must be a mapping with name and url or url_env", path))
        return None
    before = len(problems)
    for key in entry:
        if key not in TARGET_KEYS:
            problems.append(Problem(f"unknown key {key!r}{_hint(key, TARGET_KEYS)}", f"{path}.{key}"))
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        shown = "missing" if name is None else repr(name)
        problems.append(
            Problem(f"name is {shown}: a target needs a name of letters, digits, '.', '_' or '-'", f"{path}.name")
        )
    url = _read_url(entry, path, environ, problems)
    labels = _read_labels(entry.get("labels"), f"{path}.labels", problems)
    if len(problems) > before or url is None or not isinstance(name, str):
        return None
    return Target(name, url, labels)


def _read_url(
    entry: dict[object, object], path: str, environ: Mapping[str, str], problems: list[Problem]
) -> str | None:
    """The URL, written in the file or read from the variable `url_env` names; never quoted in a message."""
    if "url" in entry and "url_env" in entry:
        problems.append(Problem("give either url or url_env, not both", path))
        return None
    if "url" in entry:
        url, where = entry["url"], f"{path}.url"
    elif "url_env" in entry:
        variable, where = entry["url_env"], f"{path}.url_env"
        if not isinstance(variable, str) or not ENV_NAME_PATTERN.match(variable):
            problems.append(Problem("url_env must be the name of an environment variable", where))
            return None
        url = environ.get(variable)
        if not url:
            problems.append(Problem(f"environment variable {variable} is not set (or empty)", where))
            return None
        if not _is_postgres_url(url):
            problems.append(Problem(f"environment variable {variable} does not hold a postgresql:// URL", where))
            return None
        return url
    else:
        problems.append(Problem("no database: give url or url_env", path))
        return None
    if not isinstance(url, str) or not _is_postgres_url(url):
        problems.append(Problem("url must be a postgresql:// URL", where))
        return None
    return url


def _is_postgres_url(url: str) -> bool:
    try:
        return urlsplit(url).scheme in URL_SCHEMES
    except ValueError:
        return False


def _read_labels(labels: object, path: str, problems: list[Problem]) -> tuple[tuple[str, str], ...]:
    if labels is None:
        return ()
    if not isinstance(labels, dict):
        problems.append(Problem("labels must be a mapping of names to values ({region: eu})", path))
        return ()
    read: list[tuple[str, str]] = []
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_KEY_PATTERN.match(key):
            problems.append(Problem(f"label name {key!r} must be letters, digits, '.', '_', '/' or '-'", path))
        elif key == "name":
            problems.append(Problem("'name' is the target's name (--only name=… selects it); use another label", path))
        elif isinstance(value, bool) or not isinstance(value, str | int):
            problems.append(Problem(f"label {key!r} must be text or a whole number (quote it)", f"{path}.{key}"))
        else:
            read.append((key, str(value)))
    return tuple(sorted(read))


def _hint(word: object, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(choices)})"
