{#
  The raw datasets of the contract (section 1): which are required, which columns they carry,
  which columns must exist in the file, and which groups need at least one member present.
#}
{% macro pcdp_raw_datasets() %}
    {{ return({
        'events': {
            'required': true,
            'columns': ['event_id', 'event_name', 'occurred_at', 'anonymous_id', 'user_id', 'email',
                        'product_id', 'product_category', 'page_url', 'page_title', 'revenue',
                        'currency', 'properties'],
            'must_have': ['event_id', 'event_name', 'occurred_at'],
            'any_of': ['anonymous_id', 'user_id', 'email'],
        },
        'identifies': {
            'required': true,
            'columns': ['anonymous_id', 'user_id', 'email', 'phone', 'observed_at'],
            'must_have': ['observed_at'],
            'any_of': ['anonymous_id', 'user_id', 'email', 'phone'],
        },
        'orders': {
            'required': true,
            'columns': ['order_id', 'user_id', 'email', 'anonymous_id', 'ordered_at', 'amount',
                        'currency', 'status'],
            'must_have': ['order_id', 'ordered_at', 'amount', 'currency'],
            'any_of': ['user_id', 'email', 'anonymous_id'],
        },
        'products': {
            'required': false,
            'columns': ['product_id', 'product_name', 'category'],
            'must_have': ['product_id'],
            'any_of': [],
        },
        'content': {
            'required': false,
            'columns': ['page_url', 'title', 'description', 'keywords'],
            'must_have': ['page_url'],
            'any_of': [],
        },
        'accounts': {
            'required': false,
            'columns': ['user_id', 'account_id', 'account_name'],
            'must_have': ['user_id', 'account_id'],
            'any_of': [],
        },
        'fx_rates': {
            'required': false,
            'columns': ['currency', 'rate_date', 'rate_to_reporting'],
            'must_have': ['currency', 'rate_date', 'rate_to_reporting'],
            'any_of': [],
        },
    }) }}
{% endmacro %}


{#
  Creates one view per raw dataset in schema `raw`, so that the staging models read them as
  ordinary dbt sources (on other warehouses they are source tables already).
#}
{% macro register_raw_sources() %}
    {{ return(adapter.dispatch('register_raw_sources', 'pcdp')()) }}
{% endmacro %}


{% macro default__register_raw_sources() %}
    {{ return('') }}
{% endmacro %}


{% macro duckdb__register_raw_sources() %}
    {% if not execute %}
        {{ return('') }}
    {% endif %}
    {% set raw_path = var('raw_path') | string %}
    {% set statements = ['create schema if not exists raw'] %}
    {% for name, spec in pcdp_raw_datasets().items() %}
        {% set found = pcdp_find_raw_dataset(raw_path, name) %}
        {% if found is none %}
            {% if spec.required %}
                {% do exceptions.raise_compiler_error(
                    "raw dataset '" ~ name ~ "' is required but " ~ raw_path ~ " has no "
                    ~ name ~ ".parquet, " ~ name ~ ".csv or " ~ name ~ "/ folder of Parquet parts"
                ) %}
            {% endif %}
            {% set typed_nulls = [] %}
            {% for column in spec.columns %}
                {% do typed_nulls.append('cast(null as varchar) as ' ~ column) %}
            {% endfor %}
            {% do statements.append(
                'create or replace view raw.' ~ name ~ ' as select '
                ~ typed_nulls | join(', ') ~ ' where false'
            ) %}
        {% else %}
            {% set present = run_query('describe select * from ' ~ found.reader).columns[0].values() %}
            {% set missing = [] %}
            {% for column in spec.must_have if column not in present %}
                {% do missing.append(column) %}
            {% endfor %}
            {% if missing %}
                {% do exceptions.raise_compiler_error(
                    "raw dataset '" ~ name ~ "' (" ~ found.location ~ ") lacks required column(s): "
                    ~ missing | join(', ') ~ "; it has: " ~ present | join(', ')
                ) %}
            {% endif %}
            {% set identifiers_present = [] %}
            {% for column in spec.any_of if column in present %}
                {% do identifiers_present.append(column) %}
            {% endfor %}
            {% if spec.any_of and not identifiers_present %}
                {% do exceptions.raise_compiler_error(
                    "raw dataset '" ~ name ~ "' (" ~ found.location ~ ") needs at least one of the "
                    ~ "columns " ~ spec.any_of | join(', ')
                ) %}
            {% endif %}
            {% set absent_columns = [] %}
            {% for column in spec.columns if column not in present %}
                {% do absent_columns.append('cast(null as varchar) as ' ~ column) %}
            {% endfor %}
            {% do statements.append(
                'create or replace view raw.' ~ name ~ ' as select *'
                ~ (', ' ~ absent_columns | join(', ') if absent_columns else '')
                ~ ' from ' ~ found.reader
            ) %}
        {% endif %}
    {% endfor %}
    {{ return(statements | join(';\n')) }}
{% endmacro %}


{# Locates NAME.parquet, NAME.csv or a folder NAME/ of Parquet parts; none when absent. #}
{% macro pcdp_find_raw_dataset(raw_path, name) %}
    {% set base = raw_path.rstrip('/') ~ '/' ~ name %}
    {% set candidates = [
        (base ~ '.parquet', "read_parquet(" ~ pcdp_quote_text(base ~ '.parquet') ~ ")"),
        (base ~ '.csv', "read_csv(" ~ pcdp_quote_text(base ~ '.csv')
            ~ ", header = true, all_varchar = true)"),
        (base ~ '/*.parquet', "read_parquet(" ~ pcdp_quote_text(base ~ '/*.parquet')
            ~ ", union_by_name = true)"),
    ] %}
    {% set matches = [] %}
    {% for pattern, reader in candidates %}
        {% set files = run_query('select file from glob(' ~ pcdp_quote_text(pattern) ~ ')') %}
        {% if files.rows | length > 0 %}
            {% do matches.append({'location': pattern, 'reader': reader}) %}
        {% endif %}
    {% endfor %}
    {% if matches | length > 1 %}
        {% do exceptions.raise_compiler_error(
            "raw dataset '" ~ name ~ "' is ambiguous: found "
            ~ matches | map(attribute='location') | join(' and ') ~ "; keep one"
        ) %}
    {% endif %}
    {{ return(matches[0] if matches else none) }}
{% endmacro %}


{# A SQL string literal for text the project controls (paths, names): quotes are doubled. #}
{% macro pcdp_quote_text(text) %}
    {{ return("'" ~ (text | string).replace("'", "''") ~ "'") }}
{% endmacro %}
