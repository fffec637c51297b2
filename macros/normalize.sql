{# Identifier and value normalisation (contract section 1): empty strings are missing values. #}

{% macro pcdp_text(column) %}
    nullif(trim(cast({{ column }} as varchar)), '')
{%- endmacro %}


{% macro pcdp_email(column) %}
    lower({{ pcdp_text(column) }})
{%- endmacro %}


{#
  Phones become digits with a leading country code: `+` and `00` prefixes are international;
  a number of at most ten digits without one is national and gets var default_phone_country_code.
#}
{% macro pcdp_phone(column) %}
    case
        when regexp_replace({{ pcdp_text(column) }}, '[^0-9]', '', 'g') = '' then null
        when starts_with({{ pcdp_text(column) }}, '+')
            then regexp_replace({{ pcdp_text(column) }}, '[^0-9]', '', 'g')
        when starts_with(regexp_replace({{ pcdp_text(column) }}, '[^0-9]', '', 'g'), '00')
            then substr(regexp_replace({{ pcdp_text(column) }}, '[^0-9]', '', 'g'), 3)
        when length(regexp_replace({{ pcdp_text(column) }}, '[^0-9]', '', 'g')) <= 10
            then '{{ var("default_phone_country_code") }}'
            || regexp_replace({{ pcdp_text(column) }}, '[^0-9]', '', 'g')
        else regexp_replace({{ pcdp_text(column) }}, '[^0-9]', '', 'g')
    end
{%- endmacro %}


{# ISO 8601 text (or a native timestamp) to a UTC timestamp; null when unparseable. #}
{% macro pcdp_timestamp(column) %}
    {{ return(adapter.dispatch('pcdp_timestamp', 'pcdp')(column)) }}
{% endmacro %}

{% macro default__pcdp_timestamp(column) %}
    cast(try_cast({{ pcdp_text(column) }} as timestamp with time zone) as timestamp)
{%- endmacro %}

{% macro duckdb__pcdp_timestamp(column) %}
    timezone('UTC', try_cast({{ pcdp_text(column) }} as timestamptz))
{%- endmacro %}


{% macro pcdp_date(column) %}
    try_cast({{ pcdp_text(column) }} as date)
{%- endmacro %}


{% macro pcdp_decimal(column) %}
    try_cast({{ pcdp_text(column) }} as decimal(18, 4))
{%- endmacro %}


{# The original values of a raw row, as JSON text, for the quarantine output. #}
{% macro pcdp_raw_record(relation_alias) %}
    cast(to_json({{ relation_alias }}) as varchar)
{%- endmacro %}


{#
  The closing CTEs of a base model, after a `checked` CTE that has `raw_record` (the original
  values as JSON) and `row_problem` (the first broken row-level rule, or null):
  - ranked: the row's rank among rows sharing `key_columns` (rows with a problem sort last, then
    by `order_by` and the raw values, so which copy is kept is deterministic);
  - classified: quarantine_reason = the row problem, else duplicate_key:<key> for later copies;
  - final: helper columns dropped, raw_record kept only for quarantined rows.
  With no key_columns there is no duplicate rule.
#}
{% macro pcdp_quarantine_ctes(key_columns, order_by, helper_columns=[]) %}
    {% set dropped = ['raw_record', 'row_problem'] + helper_columns %}
    {% if key_columns %}
        ranked as (
            select
                *,
                row_number() over (
                    partition by {{ key_columns | join(', ') }}
                    order by row_problem is not null, {{ order_by }}, raw_record
                ) as key_occurrence
            from checked
        ),

        classified as (
            select
                *,
                coalesce(
                    row_problem,
                    case
                        when key_occurrence > 1
                            then 'duplicate_key:{{ key_columns | join(",") }}'
                    end
                ) as quarantine_reason
            from ranked
        ),
        {% do dropped.append('key_occurrence') %}
    {% else %}
        classified as (
            select
                *,
                row_problem as quarantine_reason
            from checked
        ),
    {% endif %}

    final as (
        select
            * exclude ({{ dropped | join(', ') }}),
            case when quarantine_reason is not null then raw_record end as raw_record
        from classified
    )
{% endmacro %}
