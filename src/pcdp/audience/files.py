"""Audience files: YAML with a list of audiences under the key ``audiences``.

::

    audiences:
      - name: high_value_tech_fans          # lower snake case, unique
        filter: pcltv_6m >= 100 and interest_iab contains Technology
        description: optional text
        owner: optional text
        target: customer                    # optional: customer (default) or account

``target: account`` selects accounts from ``account_profile`` instead of customers from
``customer_profile``; the filter is then checked against ``account_profile``'s columns.

:func:`parse_audiences_file` is strict (the first problem raises);
:func:`load_audience_entries` never raises and gives every entry with its own problem, so that
one bad audience does not stop the others from being built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .compiler import compile_filter, quote_ident
from .errors import AudienceFileError, FilterError
from .grammar import Node, parse_filter

NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
MAX_NAME_LENGTH = 54  # audience_<name> stays within common identifier limits (63)
_KEYS = ("name", "filter", "description", "owner", "target")
TARGETS = ("customer", "account")
# The relation an audience of each target selects from.
TARGET_RELATIONS = {"customer": "customer_profile", "account": "account_profile"}


@dataclass(frozen=True)
class AudienceDef:
    name: str
    filter: str
    description: str | None = None
    owner: str | None = None
    ast: Node | None = field(default=None, compare=False, repr=False)
    target: str = "customer"

    @property
    def view_name(self) -> str:
        return f"audience_{self.name}"

    @property
    def relation(self) -> str:
        """The table the audience selects from: customer_profile or account_profile."""
        return TARGET_RELATIONS[self.target]


@dataclass(frozen=True)
class AudienceEntry:
    """One entry of an audience file as read leniently: ``audience`` when the entry is well
    formed, else ``error``. ``entry`` is 1-based; 0 stands for a problem with the whole file.
    ``fields`` keeps the entry's text values (name, filter, description, owner, target) as
    written, for reporting."""

    entry: int
    audience: AudienceDef | None
    error: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        if self.audience is not None:
            return self.audience.name
        name = self.fields.get("name")
        return name if name and NAME_RE.match(name) and len(name) <= MAX_NAME_LENGTH else None


def _label(index: int, name: Any) -> str:
    if isinstance(name, str) and name:
        return f"audience '{name}' (entry {index + 1})"
    return f"audience entry {index + 1}"


def _audience_items(data: Any, source: str) -> list[Any]:
    """The list under ``audiences``; raises :class:`AudienceFileError` for a malformed file."""
    if data is None:
        raise AudienceFileError(f"{source}: the file is empty; expected a mapping with 'audiences'")
    if not isinstance(data, dict):
        raise AudienceFileError(
            f"{source}: expected a mapping with the key 'audiences', got {type(data).__name__}"
        )
    if "audiences" not in data:
        raise AudienceFileError(f"{source}: missing the key 'audiences'", key="audiences")
    items = data["audiences"]
    if items is None:
        return []
    if not isinstance(items, list):
        raise AudienceFileError(
            f"{source}: 'audiences' must be a list, got {type(items).__name__}", key="audiences"
        )
    return items


def _parse_entry(index: int, item: Any, source: str, seen: dict[str, int]) -> AudienceDef:
    """One entry (0-based ``index``); raises :class:`AudienceFileError` naming the problem."""
    if not isinstance(item, dict):
        raise AudienceFileError(
            f"{source}: audience entry {index + 1} must be a mapping with name and filter, "
            f"got {type(item).__name__}"
        )
    name = item.get("name")
    label = _label(index, name)
    who = name if isinstance(name, str) else None
    unknown = [k for k in item if k not in _KEYS]
    if unknown:
        raise AudienceFileError(
            f"{source}: {label}: unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})",
            who,
            str(unknown[0]),
        )
    if name is None:
        raise AudienceFileError(f"{source}: {label}: missing 'name'", None, "name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise AudienceFileError(
            f"{source}: {label}: 'name' must be lower snake case "
            f"(letters, digits, underscores, starting with a letter), got {name!r}",
            who,
            "name",
        )
    if len(name) > MAX_NAME_LENGTH:
        raise AudienceFileError(
            f"{source}: {label}: 'name' is longer than {MAX_NAME_LENGTH} characters",
            name,
            "name",
        )
    if name in seen:
        raise AudienceFileError(
            f"{source}: {label}: duplicate name (also entry {seen[name] + 1})", name, "name"
        )
    seen[name] = index
    text = item.get("filter")
    if text is None:
        raise AudienceFileError(f"{source}: {label}: missing 'filter'", name, "filter")
    if not isinstance(text, str):
        raise AudienceFileError(
            f"{source}: {label}: 'filter' must be text, got {type(text).__name__} {text!r} "
            "(quote it in YAML)",
            name,
            "filter",
        )
    for key in ("description", "owner"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise AudienceFileError(
                f"{source}: {label}: {key!r} must be text, got {type(value).__name__}",
                name,
                key,
            )
    target = item.get("target", "customer")
    if target not in TARGETS:
        raise AudienceFileError(
            f"{source}: {label}: 'target' must be one of {', '.join(TARGETS)}, got {target!r}",
            name,
            "target",
        )
    try:
        ast = parse_filter(text)
    except FilterError as exc:
        raise AudienceFileError(
            f"{source}: {label}: filter refused: {exc}", name, "filter"
        ) from exc
    return AudienceDef(name, text, item.get("description"), item.get("owner"), ast, target)


def parse_audiences(data: Any, source: str = "audience file") -> list[AudienceDef]:
    """Validate already-loaded YAML data (the structure and each filter's syntax)."""
    seen: dict[str, int] = {}
    return [
        _parse_entry(index, item, source, seen)
        for index, item in enumerate(_audience_items(data, source))
    ]


def _text_fields(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        return {}
    return {k: v for k, v in item.items() if k in _KEYS and isinstance(v, str)}


def load_audience_entries(path: str | Path) -> list[AudienceEntry]:
    """Every entry of an audience file, each with its own problem; never raises.

    A file that cannot be read, is not YAML or has no list under ``audiences`` gives a single
    entry 0 carrying that problem.
    """
    p = Path(path)
    source = str(p)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        items = _audience_items(data, source)
    except (OSError, UnicodeDecodeError) as exc:
        return [AudienceEntry(0, None, f"{source}: cannot read the audience file: {exc}")]
    except yaml.YAMLError as exc:
        return [AudienceEntry(0, None, f"{source}: not valid YAML: {exc}")]
    except AudienceFileError as exc:
        return [AudienceEntry(0, None, str(exc))]
    seen: dict[str, int] = {}
    out = []
    for index, item in enumerate(items):
        try:
            audience = _parse_entry(index, item, source, seen)
        except AudienceFileError as exc:
            out.append(AudienceEntry(index + 1, None, str(exc), _text_fields(item)))
        else:
            out.append(AudienceEntry(index + 1, audience, None, _text_fields(item)))
    return out


def parse_audiences_file(path: str | Path) -> list[AudienceDef]:
    """Read and validate an audience file; raise :class:`AudienceFileError` naming the problem.

    Filters are checked for syntax here; checking them against a schema is
    :func:`compile_audiences` / :func:`validate_audiences`.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AudienceFileError(f"{p}: cannot read the audience file: {exc}") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise AudienceFileError(f"{p}: not valid YAML: {exc}") from exc
    return parse_audiences(data, str(p))


def compile_audiences(audiences: list[AudienceDef], schema: dict[str, Any]) -> dict[str, str]:
    """Compile every audience's filter; returns name -> SQL expression.

    Raises :class:`AudienceFileError` naming the first audience whose filter is refused.
    """
    out: dict[str, str] = {}
    for aud in audiences:
        try:
            out[aud.name] = compile_filter(aud.filter, schema)
        except FilterError as exc:
            raise AudienceFileError(
                f"audience '{aud.name}': filter refused: {exc}", aud.name, "filter"
            ) from exc
    return out


def validate_audiences(audiences: list[AudienceDef], schema: dict[str, Any]) -> list[str]:
    """Every problem (one message per refused audience); an empty list means all compile."""
    problems = []
    for aud in audiences:
        try:
            compile_filter(aud.filter, schema)
        except FilterError as exc:
            problems.append(f"audience '{aud.name}': filter refused: {exc}")
    return problems


def audience_view_sql(
    name: str, filter_sql: str, profile_relation: str = "customer_profile"
) -> str:
    """``CREATE OR REPLACE VIEW audience_<name>`` selecting the profile rows the filter keeps.

    ``filter_sql`` must come from :func:`compile_filter`; ``profile_relation`` may be dotted
    (``schema.table``), each part is quoted.
    """
    if not NAME_RE.match(name):
        raise ValueError(f"audience name must be lower snake case, got {name!r}")
    relation = ".".join(quote_ident(part) for part in profile_relation.split("."))
    return (
        f"CREATE OR REPLACE VIEW {quote_ident('audience_' + name)} AS "
        f"SELECT * FROM {relation} WHERE {filter_sql}"
    )
