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
  parseable for sqlfluff (whose stand-in target, .sqlfluff_jinja/target.py, is DuckDB).
#}
{% macro pcdp_cte_not_materialized() %}
    {%- if target.type == 'duckdb' -%}
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


{#
  A JSON value at `path` (a JSONPath literal such as '$.status' or '$[0]'; '$' is the whole
  document) of the JSON text `json`, as text: a string without its quotes, a number, boolean,
  array or object as its JSON text; null for a JSON null or a missing path.
#}
{% macro pcdp_json_text(json, path) %}
    {{ return(adapter.dispatch('pcdp_json_text', 'pcdp')(json, path)) }}
{% endmacro %}

{% macro default__pcdp_json_text(json, path) %}
    json_extract_string({{ json }}, '{{ path }}')
{%- endmacro %}

{% macro spark__pcdp_json_text(json, path) %}
    get_json_object({{ json }}, '{{ path }}')
{%- endmacro %}


{# The JSON value at `path` of `json` (DuckDB: of type JSON; Spark: its JSON text). #}
{% macro pcdp_json_value(json, path) %}
    {{ return(adapter.dispatch('pcdp_json_value', 'pcdp')(json, path)) }}
{% endmacro %}

{% macro default__pcdp_json_value(json, path) %}
    json_extract({{ json }}, '{{ path }}')
{%- endmacro %}

{% macro spark__pcdp_json_value(json, path) %}
    get_json_object({{ json }}, '{{ path }}')
{%- endmacro %}


{#
  The JSON text of an instance's Error status record (record_type 'status') for a
  configuration that cannot run: status, started_at and finished_at (now) and rows_scored 0.
#}
{% macro pcdp_error_status_json() %}
    {{ return(adapter.dispatch('pcdp_error_status_json', 'pcdp')()) }}
{% endmacro %}

{% macro default__pcdp_error_status_json() %}
    cast(to_json({
            'status': 'Error',
            'started_at': cast(current_timestamp as timestamp),
            'finished_at': cast(current_timestamp as timestamp),
            'rows_scored': 0
        }) as varchar)
{%- endmacro %}

{% macro spark__pcdp_error_status_json() %}
    to_json(named_struct(
            'status', 'Error',
            'started_at', cast(current_timestamp as timestamp),
            'finished_at', cast(current_timestamp as timestamp),
            'rows_scored', 0
        ))
{%- endmacro %}


{# The lower-case hex SHA-256 of `text`. #}
{% macro pcdp_sha256(text) %}
    {{ return(adapter.dispatch('pcdp_sha256', 'pcdp')(text)) }}
{% endmacro %}

{% macro default__pcdp_sha256(text) %}
    sha256({{ text }})
{%- endmacro %}

{% macro spark__pcdp_sha256(text) %}
    sha2({{ text }}, 256)
{%- endmacro %}


{# How many parts `text` has when split at the literal `separator` (a plain string). #}
{% macro pcdp_split_count(text, separator) %}
    {{ return(adapter.dispatch('pcdp_split_count', 'pcdp')(text, separator)) }}
{% endmacro %}

{% macro default__pcdp_split_count(text, separator) %}
    len(string_split({{ text }}, {{ pcdp_quote_text(separator) }}))
{%- endmacro %}

{# Spark's split takes a regular expression: count the separators instead. #}
{% macro spark__pcdp_split_count(text, separator) %}
    ((length({{ text }}) - length(replace({{ text }}, {{ pcdp_quote_text(separator) }}, '')))
    div {{ separator | length }} + 1)
{%- endmacro %}


{#
  A select-list item that makes one row per field of the JSON object `json` (text): a struct
  with .key (text) and .value (a double; the callers read numbers). A set-returning function in
  the select list (DuckDB's unnest, Spark's explode), not a lateral join: DuckDB plans
  json_each in a lateral join as a dependent join, grouping and re-joining the rows on the JSON
  text (customer_interest_affinities at 1 M customers: 63 s that way, 16 s this way).
#}
{% macro pcdp_json_object_entries(json) %}
    {{ return(adapter.dispatch('pcdp_json_object_entries', 'pcdp')(json)) }}
{% endmacro %}

{% macro default__pcdp_json_object_entries(json) %}
    unnest(map_entries(json_transform({{ json }}, '"MAP(VARCHAR, DOUBLE)"')))
{%- endmacro %}

{% macro spark__pcdp_json_object_entries(json) %}
    explode(map_entries(from_json({{ json }}, 'map<string, double>')))
{%- endmacro %}


{# `text` matches the regular expression `pattern` (an SQL expression) as a whole. #}
{% macro pcdp_regexp_full_match(text, pattern) %}
    {{ return(adapter.dispatch('pcdp_regexp_full_match', 'pcdp')(text, pattern)) }}
{% endmacro %}

{% macro default__pcdp_regexp_full_match(text, pattern) %}
    regexp_full_match(
            {{ text }}, {{ pattern }}
        )
{%- endmacro %}

{% macro spark__pcdp_regexp_full_match(text, pattern) %}
    ({{ text }} rlike ('^(?:' || {{ pattern }} || ')$'))
{%- endmacro %}


{# An interval of `days` days / `months` months (integer SQL expressions), to add to a date. #}
{% macro pcdp_days_interval(days) %}
    {{ return(adapter.dispatch('pcdp_days_interval', 'pcdp')(days)) }}
{% endmacro %}

{% macro default__pcdp_days_interval(days) %}
    to_days({{ days }})
{%- endmacro %}

{% macro spark__pcdp_days_interval(days) %}
    make_dt_interval({{ days }})
{%- endmacro %}

{% macro pcdp_months_interval(months) %}
    {{ return(adapter.dispatch('pcdp_months_interval', 'pcdp')(months)) }}
{% endmacro %}

{% macro default__pcdp_months_interval(months) %}
    to_months({{ months }})
{%- endmacro %}

{% macro spark__pcdp_months_interval(months) %}
    make_ym_interval(0, {{ months }})
{%- endmacro %}


{# Days from date `first` to date `second` (DuckDB's date_diff('day', first, second)). #}
{% macro pcdp_date_diff_days(first, second) %}
    {{ return(adapter.dispatch('pcdp_date_diff_days', 'pcdp')(first, second)) }}
{% endmacro %}

{% macro default__pcdp_date_diff_days(first, second) %}
    date_diff('day', {{ first }}, {{ second }})
{%- endmacro %}

{% macro spark__pcdp_date_diff_days(first, second) %}
    datediff({{ second }}, {{ first }})
{%- endmacro %}


{#
  JSON documents parsed once and read many times (outcome filters, records): a node is DuckDB
  JSON, Spark VARIANT (parse_json). pcdp_json_node: the node at `path` of JSON text (null when
  the text is not JSON or the path is missing). pcdp_json_node_type: DuckDB's json_type names
  (VARCHAR, OBJECT, ARRAY, NULL, BIGINT, DOUBLE, ...). pcdp_json_node_text: the value at `path`
  as text (json_extract_string). pcdp_json_node_at: the node at `path` of a node.
#}
{% macro pcdp_json_node(json, path) %}
    {{ return(adapter.dispatch('pcdp_json_node', 'pcdp')(json, path)) }}
{% endmacro %}

{% macro default__pcdp_json_node(json, path) %}
    json_extract({{ json }}, '{{ path }}')
{%- endmacro %}

{% macro spark__pcdp_json_node(json, path) %}
    try_variant_get(try_parse_json({{ json }}), '{{ path }}')
{%- endmacro %}

{% macro pcdp_json_node_type(node) %}
    {{ return(adapter.dispatch('pcdp_json_node_type', 'pcdp')(node)) }}
{% endmacro %}

{% macro default__pcdp_json_node_type(node) %}
    json_type({{ node }})
{%- endmacro %}

{% macro spark__pcdp_json_node_type(node) %}
    case
        when {{ node }} is null then null
        when is_variant_null({{ node }}) then 'NULL'
        when schema_of_variant({{ node }}) = 'STRING' then 'VARCHAR'
        when schema_of_variant({{ node }}) like 'OBJECT%' then 'OBJECT'
        when schema_of_variant({{ node }}) like 'ARRAY%' then 'ARRAY'
        when schema_of_variant({{ node }}) like 'DECIMAL%' then 'DOUBLE'
        else schema_of_variant({{ node }})
    end
{%- endmacro %}

{% macro pcdp_json_node_text(node, path) %}
    {{ return(adapter.dispatch('pcdp_json_node_text', 'pcdp')(node, path)) }}
{% endmacro %}

{% macro default__pcdp_json_node_text(node, path) %}
    json_extract_string({{ node }}, '{{ path }}')
{%- endmacro %}

{% macro spark__pcdp_json_node_text(node, path) %}
    try_variant_get({{ node }}, '{{ path }}', 'string')
{%- endmacro %}

{% macro pcdp_json_node_at(node, path) %}
    {{ return(adapter.dispatch('pcdp_json_node_at', 'pcdp')(node, path)) }}
{% endmacro %}

{% macro default__pcdp_json_node_at(node, path) %}
    json_extract({{ node }}, '{{ path }}')
{%- endmacro %}

{% macro spark__pcdp_json_node_at(node, path) %}
    try_variant_get({{ node }}, '{{ path }}')
{%- endmacro %}


{#
  In a select list: one row per item of the JSON array `node` (a node that is not an array is
  one item), each a node.
#}
{% macro pcdp_json_node_items(node) %}
    {{ return(adapter.dispatch('pcdp_json_node_items', 'pcdp')(node)) }}
{% endmacro %}

{% macro default__pcdp_json_node_items(node) %}
    unnest(
            from_json(
                case
                    when json_type({{ node }}) = 'ARRAY' then {{ node }}
                    else json_array({{ node }})
                end,
                '["JSON"]'
            )
        )
{%- endmacro %}

{% macro spark__pcdp_json_node_items(node) %}
    explode(
        case
            when schema_of_variant({{ node }}) like 'ARRAY%'
                then cast({{ node }} as array<variant>)
            else array({{ node }})
        end
    )
{%- endmacro %}


{# A node as a value rows can be ordered by (Spark cannot order by VARIANT). #}
{% macro pcdp_json_node_sort_key(node) %}
    {{ return(adapter.dispatch('pcdp_json_node_sort_key', 'pcdp')(node)) }}
{% endmacro %}

{% macro default__pcdp_json_node_sort_key(node) %}
    {{ node }}
{%- endmacro %}

{% macro spark__pcdp_json_node_sort_key(node) %}
    to_json({{ node }})
{%- endmacro %}


{# In a select list: one row per field name of the JSON object `node`. #}
{% macro pcdp_json_node_keys(node) %}
    {{ return(adapter.dispatch('pcdp_json_node_keys', 'pcdp')(node)) }}
{% endmacro %}

{% macro default__pcdp_json_node_keys(node) %}
    unnest(json_keys({{ node }}))
{%- endmacro %}

{% macro spark__pcdp_json_node_keys(node) %}
    explode(map_keys(try_cast({{ node }} as map<string, variant>)))
{%- endmacro %}


{# The field named by the text `key` (an SQL expression, any characters) of the object `node`. #}
{% macro pcdp_json_node_field(node, key) %}
    {{ return(adapter.dispatch('pcdp_json_node_field', 'pcdp')(node, key)) }}
{% endmacro %}

{% macro default__pcdp_json_node_field(node, key) %}
    json_extract({{ node }}, '/' || replace(replace({{ key }}, '~', '~0'), '/', '~1'))
{%- endmacro %}

{% macro spark__pcdp_json_node_field(node, key) %}
    try_element_at(try_cast({{ node }} as map<string, variant>), {{ key }})
{%- endmacro %}


{#
  An event matches one property of an outcome filter: the event's JSON properties (text) have
  the field `key` equal to the node `expected` (as text, or as numbers when both are numbers;
  a JSON null expects a JSON null). Null when it cannot tell (the caller coalesces to false).
#}
{% macro pcdp_event_property_matches(properties, key, expected) %}
    {{ return(adapter.dispatch('pcdp_event_property_matches', 'pcdp')(properties, key, expected)) }}
{% endmacro %}

{% macro default__pcdp_event_property_matches(properties, key, expected) %}
    case
            when json_type({{ expected }}) = 'NULL'
                then json_type(
                    try_cast({{ properties }} as json),
                    '/' || replace(replace({{ key }}, '~', '~0'), '/', '~1')
                ) = 'NULL'
            else
                json_extract_string(
                    try_cast({{ properties }} as json),
                    '/' || replace(replace({{ key }}, '~', '~0'), '/', '~1')
                ) = json_extract_string({{ expected }}, '$')
                or try_cast(
                    json_extract_string(
                        try_cast({{ properties }} as json),
                        '/'
                        || replace(replace({{ key }}, '~', '~0'), '/', '~1')
                    ) as double
                ) = try_cast(json_extract_string({{ expected }}, '$') as double)
        end
{%- endmacro %}

{% macro spark__pcdp_event_property_matches(properties, key, expected) %}
    {%- set field -%}
        try_element_at(
            try_cast(try_parse_json({{ properties }}) as map<string, variant>), {{ key }}
        )
    {%- endset -%}
    case
        when is_variant_null({{ expected }}) then is_variant_null({{ field }})
        else
            try_variant_get({{ field }}, '$', 'string')
            = try_variant_get({{ expected }}, '$', 'string')
            or try_cast(try_variant_get({{ field }}, '$', 'string') as double)
            = try_cast(try_variant_get({{ expected }}, '$', 'string') as double)
    end
{%- endmacro %}


{#
  A record's (JSON object text `value`) field names, and in the same order their values when
  they are JSON numbers (else null); pcdp_list_max: the largest non-null item of a list;
  pcdp_key_of_max: the first of `keys` whose number in `numbers` is the largest.
#}
{% macro pcdp_record_keys(value) %}
    {{ return(adapter.dispatch('pcdp_record_keys', 'pcdp')(value)) }}
{% endmacro %}

{% macro default__pcdp_record_keys(value) %}
    json_keys(try_cast({{ value }} as json))
{%- endmacro %}

{% macro spark__pcdp_record_keys(value) %}
    json_object_keys({{ value }})
{%- endmacro %}

{% macro pcdp_record_numbers(value) %}
    {{ return(adapter.dispatch('pcdp_record_numbers', 'pcdp')(value)) }}
{% endmacro %}

{% macro default__pcdp_record_numbers(value) %}
    list_transform(
                    json_extract(try_cast({{ value }} as json), '$.*'),
                    lambda field: case
                        when json_type(field) in ('BIGINT', 'UBIGINT', 'DOUBLE')
                            then cast(field as double)
                    end
                )
{%- endmacro %}

{% macro spark__pcdp_record_numbers(value) %}
    transform(
        json_object_keys({{ value }}),
        field_name -> case
            when {{ pcdp_json_node_type(
                'try_element_at(try_cast(try_parse_json(' ~ value
                ~ ') as map<string, variant>), field_name)'
            ) }} in ('BIGINT', 'INT', 'SMALLINT', 'TINYINT', 'DOUBLE', 'FLOAT')
                then try_variant_get(
                    try_element_at(
                        try_cast(try_parse_json({{ value }}) as map<string, variant>), field_name
                    ),
                    '$',
                    'double'
                )
        end
    )
{%- endmacro %}

{% macro pcdp_list_max(list) %}
    {{ return(adapter.dispatch('pcdp_list_max', 'pcdp')(list)) }}
{% endmacro %}

{% macro default__pcdp_list_max(list) %}
    list_max({{ list }})
{%- endmacro %}

{% macro spark__pcdp_list_max(list) %}
    array_max({{ list }})
{%- endmacro %}

{% macro pcdp_key_of_max(keys, numbers) %}
    {{ return(adapter.dispatch('pcdp_key_of_max', 'pcdp')(keys, numbers)) }}
{% endmacro %}

{% macro default__pcdp_key_of_max(keys, numbers) %}
    {{ keys }}[
                    list_position({{ numbers }}, list_max({{ numbers }}))
                ]
{%- endmacro %}

{% macro spark__pcdp_key_of_max(keys, numbers) %}
    try_element_at(
        {{ keys }}, cast(array_position({{ numbers }}, array_max({{ numbers }})) as int)
    )
{%- endmacro %}


{#
  A SQL string literal for text the project controls (paths, names, seed values). Spark and
  Databricks read a backslash in a string literal as an escape: there it is escaped, and the
  quote with it; elsewhere quotes are doubled. Rendered from `target` rather than
  adapter.dispatch so that sqlfluff (whose stand-in target is DuckDB) lints a real literal.
#}
{% macro pcdp_quote_text(text) %}
    {% if target.type in ('spark', 'databricks') %}
        {{ return("'" ~ (text | string).replace("\\", "\\\\").replace("'", "\\'") ~ "'") }}
    {% endif %}
    {{ return("'" ~ (text | string).replace("'", "''") ~ "'") }}
{% endmacro %}


{#
  What `count(distinct ...)` of a text column counts. DuckDB: the value's 64-bit hash (null
  stays null, so it is not counted): grouping the training snapshots' 12.9 M recent events by
  customer, cutoff and a 40-character page url made DuckDB spill 2.4 GB under its 2 GB limit
  (22.6 s at 1 M customers; 19.1 s by hash). Two different values of one customer's 90 days
  would count once only if their 64-bit hashes collided. Elsewhere: the value itself.
#}
{% macro pcdp_distinct_key(column) %}
    {{ return(adapter.dispatch('pcdp_distinct_key', 'pcdp')(column)) }}
{% endmacro %}

{% macro default__pcdp_distinct_key(column) -%}
    {{ column }}
{%- endmacro %}

{% macro duckdb__pcdp_distinct_key(column) -%}
    case when {{ column }} is not null then hash({{ column }}) end
{%- endmacro %}
