{# Identifier and value normalisation (contract section 1): empty strings are missing values. #}

{% macro pcdp_text(column) %}
    {{ return(adapter.dispatch('pcdp_text', 'pcdp')(column)) }}
{% endmacro %}

{% macro default__pcdp_text(column) %}
    nullif(trim(cast({{ column }} as string)), '')
{%- endmacro %}

{#
  DuckDB's trim copies every string it returns, the largest share of parsing the raw events
  (eleven text columns of 51.7 M rows: trimmed in 25 s, in 15 s this way). It strips U+0020 and
  the other Unicode space separators, all non-ASCII, so text that is ASCII and neither starts nor
  ends with a space is returned as it is and only the rest is trimmed.
#}
{% macro duckdb__pcdp_text(column) %}
    {%- set text = 'cast(' ~ column ~ ' as string)' %}
    case
        when
            starts_with({{ text }}, ' ')
            or ends_with({{ text }}, ' ')
            or length({{ text }}) != strlen({{ text }})
            then nullif(trim({{ text }}), '')
        else nullif({{ text }}, '')
    end
{%- endmacro %}


{% macro pcdp_email(column) %}
    lower({{ pcdp_text(column) }})
{%- endmacro %}


{#
  Phones become digits with a leading country code: `+` and `00` prefixes are international;
  a number of at most ten digits without one is national and gets var default_phone_country_code.
#}
{% macro pcdp_phone(column) %}
    {%- set digits = pcdp_digits_only(pcdp_text(column)) %}
    case
        when {{ digits }} = '' then null
        when {{ pcdp_text(column) }} like '+%'
            then {{ digits }}
        when {{ digits }} like '00%'
            then substr({{ digits }}, 3)
        when length({{ digits }}) <= 10
            then '{{ var("default_phone_country_code") }}'
            || {{ digits }}
        else {{ digits }}
    end
{%- endmacro %}


{# ISO 8601 text (or a native timestamp) to a UTC timestamp; null when unparseable. #}
{% macro pcdp_timestamp(column) %}
    {{ return(adapter.dispatch('pcdp_timestamp', 'pcdp')(column)) }}
{% endmacro %}

{% macro default__pcdp_timestamp(column) %}
    cast(try_cast({{ pcdp_text(column) }} as timestamp with time zone) as timestamp)
{%- endmacro %}

{#
  An instant's epoch microseconds are its UTC wall time: make_timestamp of them is
  timezone('UTC', ...) without ICU's calendar (51.7 M events: 3.5 instead of 7.6 s). Infinite
  instants have no epoch and take the ICU path.
#}
{% macro duckdb__pcdp_timestamp(column) %}
    {%- set instant = 'try_cast(' ~ pcdp_text(column) ~ ' as timestamptz)' %}
    coalesce(make_timestamp(epoch_us({{ instant }})), timezone('UTC', {{ instant }}))
{%- endmacro %}

{#
  Spark parses an offset in the text and converts to the session time zone, which the spark
  profile sets to UTC; text without an offset is read as UTC.
#}
{% macro spark__pcdp_timestamp(column) %}
    try_cast({{ pcdp_text(column) }} as timestamp)
{%- endmacro %}


{% macro pcdp_date(column) %}
    try_cast({{ pcdp_text(column) }} as date)
{%- endmacro %}


{% macro pcdp_decimal(column) %}
    try_cast({{ pcdp_text(column) }} as decimal(18, 4))
{%- endmacro %}


{# The original values of a raw row (a struct, e.g. `raw_values`), as JSON text, for the quarantine. #}
{% macro pcdp_raw_record(raw_values) %}
    {{ return(adapter.dispatch('pcdp_raw_record', 'pcdp')(raw_values)) }}
{% endmacro %}

{% macro default__pcdp_raw_record(raw_values) %}
    cast(to_json({{ raw_values }}) as varchar)
{%- endmacro %}

{# Spark leaves null fields out of JSON unless told otherwise; DuckDB writes them as null. #}
{% macro spark__pcdp_raw_record(raw_values) %}
    to_json({{ raw_values }}, map('ignoreNullFields', 'false'))
{%- endmacro %}


{#
  The distinct values of column key_hash (64-bit hashes) of `hashes` (a relation) that more
  than one row carries: a query of one column, key_hash. On DuckDB the hashes are sorted, and
  a hash repeats when it equals the one before it: grouping 51.7 M distinct hashes builds a
  hash table of them all, and sorting them is cheaper (the raw events' ids at 1 M customers:
  5.8-7.3 s and 11.3-14.2 CPU seconds grouped, 4.3-4.7 s and 8.3-9.1 sorted, the same 11
  hashes). Other warehouses group. The hashes come from a relation of their own: computed in
  the window's own select, DuckDB took 17 s. A branch on the target, not a dispatched macro:
  sqlfluff's stand-in adapter renders dispatched macros as an expression, not a query.
#}
{% macro pcdp_repeated_hashes(hashes) %}
    {% if target.type == 'duckdb' %}
        select distinct key_hash
        from (
            select
                key_hash,
                lag(key_hash) over (order by key_hash) as previous_hash
            from {{ hashes }}
        ) as sorted_hashes
        where key_hash = previous_hash
    {% else %}
        select key_hash
        from {{ hashes }}
        group by key_hash
        having count(*) > 1
    {% endif %}
{% endmacro %}


{#
  The opening CTEs of a base model with a key, after a `source` CTE of raw rows:
  - key_hashes: a hash of each raw row's key (`key_expressions`, the key columns as the model
    parses them); key_copies: the hashes that more than one raw row carries;
  - flagged: every raw row, with `raw_values` (its original values as a struct) and
    `has_copies` (its key may be shared with another row: rows with equal keys have equal
    hashes, so every duplicate is flagged; a rare hash collision only flags a few more rows).
  Only flagged rows need ranking among their copies (pcdp_quarantine_ctes), so the ranking
  and its JSON tie-break never touch the rest.
#}
{% macro pcdp_key_copies_ctes(key_expressions) %}
    key_hashes as (
        select hash({{ key_expressions | join(', ') }}) as key_hash
        from source
    ),

    key_copies as (
        {{ pcdp_repeated_hashes('key_hashes') }}
    ),

    flagged as {{ pcdp_cte_not_materialized() }} (
        select
            {{ pcdp_row_struct('source') }} as raw_values,
            source.*,
            key_copies.key_hash is not null as has_copies
        from source
        left join key_copies
            on hash({{ key_expressions | join(', ') }}) = key_copies.key_hash
    ),
{% endmacro %}


{#
  The closing CTEs of a base model, after a `checked` CTE that has `raw_values` (the original
  values as a struct), `row_problem` (the first broken rule of the row alone, or null) and, with
  key_columns, `has_copies` (from pcdp_key_copies_ctes):
  - single_rows / copied_rows / ranked: the row's rank among rows sharing `key_columns` (rows
    with a problem sort last, then by `order_by` and the raw values as JSON, so which copy is
    kept is deterministic); only rows flagged has_copies are ranked, the rest are first;
  - classified: quarantine_reason = the row problem, else duplicate_key:<key> for later copies;
  - final: helper columns dropped, raw_record (JSON text) only for quarantined rows.
  With no key_columns there is no duplicate rule.
#}
{% macro pcdp_quarantine_ctes(key_columns, order_by, helper_columns=[]) %}
    {% set dropped = ['raw_values', 'row_problem'] + helper_columns %}
    {% if key_columns %}
        single_rows as (
            select
                *,
                1 as key_occurrence
            from checked
            where not has_copies
        ),

        copied_rows as (
            select
                *,
                row_number() over (
                    partition by {{ key_columns | join(', ') }}
                    order by
                        row_problem is not null,
                        {{ order_by }} nulls last,
                        {{ pcdp_raw_record('raw_values') }}
                ) as key_occurrence
            from checked
            where has_copies
        ),

        ranked as (
            select * from single_rows
            union all
            select * from copied_rows
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
        {% do dropped.extend(['has_copies', 'key_occurrence']) %}
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
            {{ pcdp_star_except(dropped) }},
            case
                when quarantine_reason is not null then {{ pcdp_raw_record('raw_values') }}
            end as raw_record
        from classified
    )
{% endmacro %}
