"""The audience filter language: parse, type-check and compile marketer-written filters.

>>> compile_filter("pcltv_6m >= 100", {"pcltv_6m": "number"})
'COALESCE(("pcltv_6m" >= 100), FALSE)'

The grammar, the bare-value rule and the semantics are documented in :mod:`pcdp.audience.grammar`
and :mod:`pcdp.audience.compiler`, and for users in ``GRAMMAR.md`` next to this file.
"""

from .compiler import (
    check_filter,
    compile_filter,
    filter_attributes,
    quote_ident,
    quote_literal,
)
from .errors import AudienceFileError, FilterError
from .files import (
    AudienceDef,
    audience_view_sql,
    compile_audiences,
    parse_audiences,
    parse_audiences_file,
    validate_audiences,
)
from .grammar import (
    And,
    Attribute,
    Comparison,
    Contains,
    InList,
    IsNull,
    Node,
    Not,
    Or,
    Value,
    format_filter,
    parse_filter,
    tokenize,
)
from .schema import AttrType, Schema, attr_type_for_db_type, normalize_schema, schema_from_duckdb

__all__ = [
    "And",
    "AttrType",
    "Attribute",
    "AudienceDef",
    "AudienceFileError",
    "Comparison",
    "Contains",
    "FilterError",
    "InList",
    "IsNull",
    "Node",
    "Not",
    "Or",
    "Schema",
    "Value",
    "attr_type_for_db_type",
    "audience_view_sql",
    "check_filter",
    "compile_audiences",
    "compile_filter",
    "filter_attributes",
    "format_filter",
    "normalize_schema",
    "parse_audiences",
    "parse_audiences_file",
    "parse_filter",
    "quote_ident",
    "quote_literal",
    "schema_from_duckdb",
    "tokenize",
    "validate_audiences",
]
