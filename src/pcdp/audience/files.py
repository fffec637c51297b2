"""Audience files: YAML with a list of audiences under the key ``audiences``.

::

    audiences:
      - name: high_value_tech_fans          # lower snake case, unique
        filter: pcltv_6m >= 100 and interest_iab contains Technology
        description: optional text
        owner: optional text
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
_KEYS = ("name", "filter", "description", "owner")


@dataclass(frozen=True)
class AudienceDef:
    name: str
    filter: str
    description: str | None = None
    owner: str | None = None
    ast: Node | None = field(default=None, compare=False, repr=False)

    @property
    def view_name(self) -> str:
        return f"audience_{self.name}"


def _label(index: int, name: Any) -> str:
    if isinstance(name, str) and name:
        return f"audience '{name}' (entry {index + 1})"
    return f"audience entry {index + 1}"


def parse_audiences(data: Any, source: str = "audience file") -> list[AudienceDef]:
    """Validate already-loaded YAML data (the structure and each filter's syntax)."""
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
    out: list[AudienceDef] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
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
        try:
            ast = parse_filter(text)
        except FilterError as exc:
            raise AudienceFileError(
                f"{source}: {label}: filter refused: {exc}", name, "filter"
            ) from exc
        out.append(AudienceDef(name, text, item.get("description"), item.get("owner"), ast))
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
