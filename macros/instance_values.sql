{# An instance record's value (JSON text) as a typed SQL value, by its declared value type. #}
{% macro pcdp_typed_value(column, value_type) %}
    {{ return(adapter.dispatch('pcdp_typed_value', 'pcdp')(column, value_type)) }}
{% endmacro %}

{% macro default__pcdp_typed_value(column, value_type) %}
    {%- if value_type == 'number' -%} cast({{ column }} as double)
    {%- elif value_type == 'integer' -%} cast({{ column }} as bigint)
    {%- elif value_type == 'boolean' -%} cast({{ column }} as boolean)
    {%- elif value_type == 'string' -%} json_extract_string({{ column }}, '$')
    {%- elif value_type == 'array' -%} from_json({{ column }}, '["VARCHAR"]')
    {%- else -%} cast({{ column }} as json)
    {%- endif -%}
{% endmacro %}

{#
  Spark: a string is read with get_json_object, a list of labels with from_json; a record is
  parsed as VARIANT (Spark 4's counterpart of DuckDB's JSON type).
#}
{% macro spark__pcdp_typed_value(column, value_type) %}
    {%- if value_type == 'number' -%} cast({{ column }} as double)
    {%- elif value_type == 'integer' -%} cast({{ column }} as bigint)
    {%- elif value_type == 'boolean' -%} cast({{ column }} as boolean)
    {%- elif value_type == 'string' -%} get_json_object({{ column }}, '$')
    {%- elif value_type == 'array' -%} from_json({{ column }}, 'array<string>')
    {%- else -%} parse_json({{ column }})
    {%- endif -%}
{% endmacro %}
