{#
  SQL that differs between warehouses, behind adapter.dispatch (DuckDB is the default target;
  Spark is the second one, tested by `make test-spark`). The variant DuckDB gets (duckdb__, else
  default__) renders the SQL the models used before they were ported, so DuckDB runs are
  unchanged.
#}


{#
  The `not materialized` hint of a CTE (DuckDB: inline it into every reference instead of
  computing it once). Other warehouses have no such hint and decide for themselves. Rendered
  from `target` rather than adapter.dispatch because it sits in the CTE header, which must stay
  parseable for sqlfluff (where `target` is undefined and the DuckDB form is linted).
#}
{% macro pcdp_cte_not_materialized() %}
    {%- if target is not defined or target.type == 'duckdb' -%}
        not materialized
    {%- endif -%}
{% endmacro %}


{# Every column of the relation except `columns` (a list of names). #}
{% macro pcdp_star_except(columns) %}
    {{ return(adapter.dispatch('pcdp_star_except', 'pcdp')(columns)) }}
{% endmacro %}

{% macro default__pcdp_star_except(columns) %}
    * except ({{ columns | join(', ') }})
{%- endmacro %}

{% macro duckdb__pcdp_star_except(columns) %}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}


{# The whole row of `relation_alias` as one struct value (its original values, for quarantine). #}
{% macro pcdp_row_struct(relation_alias) %}
    {{ return(adapter.dispatch('pcdp_row_struct', 'pcdp')(relation_alias)) }}
{% endmacro %}

{% macro default__pcdp_row_struct(relation_alias) %}
    struct({{ relation_alias }}.*)
{%- endmacro %}

{% macro duckdb__pcdp_row_struct(relation_alias) %}
    {{ relation_alias }}
{%- endmacro %}


{# `expression` (a date or timestamp) plus `days` days (an integer SQL expression), a timestamp. #}
{% macro pcdp_add_days(days, expression) %}
    {{ return(adapter.dispatch('pcdp_add_days', 'pcdp')(days, expression)) }}
{% endmacro %}

{% macro default__pcdp_add_days(days, expression) %}
    {{ return(dbt.dateadd('day', days, expression)) }}
{% endmacro %}

{#
  dbt-spark's dateadd goes through unix seconds and asserts its input is not null; timestampadd
  keeps the timestamp (at the session time zone, UTC in the profile).
#}
{% macro spark__pcdp_add_days(days, expression) %}
    timestampadd(day, {{ days }}, {{ expression }})
{%- endmacro %}


{#
  Whole days from `first` to `second` (dates or timestamps; day boundaries crossed, as DuckDB's
  date_diff('day', …)); null when either is null.
#}
{% macro pcdp_diff_days(first, second) %}
    {{ return(adapter.dispatch('pcdp_diff_days', 'pcdp')(first, second)) }}
{% endmacro %}

{% macro default__pcdp_diff_days(first, second) %}
    {{ return(dbt.datediff(first, second, 'day')) }}
{% endmacro %}

{# dbt-spark's datediff raises on a null input; Spark's own datediff returns null. #}
{% macro spark__pcdp_diff_days(first, second) %}
    datediff(cast({{ second }} as date), cast({{ first }} as date))
{%- endmacro %}


{# `text` with every character that is not a digit removed. #}
{% macro pcdp_digits_only(text) %}
    {{ return(adapter.dispatch('pcdp_digits_only', 'pcdp')(text)) }}
{% endmacro %}

{% macro default__pcdp_digits_only(text) %}
    regexp_replace({{ text }}, '[^0-9]', '', 'g')
{%- endmacro %}

{# Spark's regexp_replace replaces every match; its fourth argument is a start position. #}
{% macro spark__pcdp_digits_only(text) %}
    regexp_replace({{ text }}, '[^0-9]', '')
{%- endmacro %}
