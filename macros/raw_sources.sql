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
            {% do statements.append(
                'create or replace view raw.' ~ name ~ ' as select '
                ~ pcdp_absent_raw_dataset_columns(name, spec, raw_path) | join(', ')
                ~ ' where false'
            ) %}
        {% else %}
            {% set present = run_query('describe select * from ' ~ found.reader).columns[0].values() %}
            {% set absent_columns = pcdp_absent_raw_columns(name, spec, found, present) %}
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
    {{ return(pcdp_single_raw_match(name, matches)) }}
{% endmacro %}


{# The one location found for raw dataset `name` (none when absent); several fail the run. #}
{% macro pcdp_single_raw_match(name, matches) %}
    {% if matches | length > 1 %}
        {% do exceptions.raise_compiler_error(
            "raw dataset '" ~ name ~ "' is ambiguous: found "
            ~ matches | map(attribute='location') | join(' and ') ~ "; keep one"
        ) %}
    {% endif %}
    {{ return(matches[0] if matches else none) }}
{% endmacro %}


{#
  Spark: one table per raw dataset in schema `raw`, over the files in var raw_path, so the
  staging models read them as the same dbt sources. Files are listed through Spark itself (the
  binaryFile source, paths only), a dataset is NAME.parquet, NAME.csv or a folder NAME/ of Parquet
  parts as on DuckDB, CSV is read with a header and every column as text (DuckDB reads it
  all_varchar), and a contract column the file lacks is added as a null text column. The
  external table raw.NAME__files reads the files in place; raw.NAME is a view over it. Paths are
  local to the Spark driver. With var raw_path empty nothing is registered (on Databricks, say,
  where the raw datasets already are tables in schema `raw`).
#}
{% macro spark__register_raw_sources() %}
    {% if not execute or (var('raw_path') | string) in ('', 'None', 'none') %}
        {{ return('') }}
    {% endif %}
    {% set raw_root = pcdp_spark_absolute_path(var('raw_path') | string) %}
    {% do run_query(
        'create or replace temporary view pcdp_raw_listing using binaryFile options (path '
        ~ pcdp_quote_text(raw_root) ~ ", recursiveFileLookup 'true')"
    ) %}
    {% set listed = run_query('select path from pcdp_raw_listing').columns[0].values() %}
    {% set relative_paths = [] %}
    {% for path in listed %}
        {% set local_path = path[5:] if path.startswith('file:') else path %}
        {% set local_path = '/' ~ local_path.lstrip('/') %}
        {% if local_path.startswith(raw_root ~ '/') %}
            {% do relative_paths.append(local_path[(raw_root | length) + 1:]) %}
        {% endif %}
    {% endfor %}
    {% if listed and not relative_paths %}
        {% do exceptions.raise_compiler_error(
            "var raw_path " ~ raw_root ~ " lists files outside itself (" ~ listed[0]
            ~ "); give raw_path as an absolute path without symbolic links"
        ) %}
    {% endif %}
    {% do run_query('create schema if not exists raw') %}
    {% for name, spec in pcdp_raw_datasets().items() %}
        {% set matches = [] %}
        {% if name ~ '.parquet' in relative_paths %}
            {% do matches.append({
                'location': raw_root ~ '/' ~ name ~ '.parquet', 'format': 'parquet', 'options': {},
            }) %}
        {% endif %}
        {% if name ~ '.csv' in relative_paths %}
            {% do matches.append({
                'location': raw_root ~ '/' ~ name ~ '.csv',
                'format': 'csv',
                'options': {'header': 'true', 'multiLine': 'true', 'escape': '"'},
            }) %}
        {% endif %}
        {% set parts = [] %}
        {% for relative_path in relative_paths
            if relative_path.startswith(name ~ '/') and relative_path.endswith('.parquet') %}
            {% do parts.append(relative_path) %}
        {% endfor %}
        {% if parts %}
            {% do matches.append({
                'location': raw_root ~ '/' ~ name,
                'format': 'parquet',
                'options': {'mergeSchema': 'true', 'pathGlobFilter': '*.parquet'},
            }) %}
        {% endif %}
        {% set found = pcdp_single_raw_match(name, matches) %}
        {% do run_query('drop view if exists raw.' ~ name) %}
        {% do run_query('drop table if exists raw.' ~ name ~ '__files') %}
        {% if found is none %}
            {% do run_query(
                'create view raw.' ~ name ~ ' as select '
                ~ pcdp_absent_raw_dataset_columns(name, spec, raw_root) | join(', ')
                ~ ' where false'
            ) %}
        {% else %}
            {% set options = ['path ' ~ pcdp_quote_text(found.location)] %}
            {% for key, value in found.options.items() %}
                {% do options.append(key ~ ' ' ~ pcdp_quote_text(value)) %}
            {% endfor %}
            {% do run_query(
                'create table raw.' ~ name ~ '__files using ' ~ found.format
                ~ ' options (' ~ options | join(', ') ~ ')'
            ) %}
            {% set present = [] %}
            {% for column in adapter.get_columns_in_relation(
                api.Relation.create(schema='raw', identifier=name ~ '__files')
            ) %}
                {% do present.append(column.name | lower) %}
            {% endfor %}
            {% set absent_columns = pcdp_absent_raw_columns(name, spec, found, present) %}
            {% do run_query(
                'create view raw.' ~ name ~ ' as select *'
                ~ (', ' ~ absent_columns | join(', ') if absent_columns else '')
                ~ ' from raw.' ~ name ~ '__files'
            ) %}
        {% endif %}
    {% endfor %}
    {# Spark runs one statement per hook; the work is done above. #}
    {{ return('') }}
{% endmacro %}


{#
  `path` as an absolute path without `.` / `..` segments or a trailing slash; a relative path is
  taken from the working directory of the process (the JVM's user.dir, the dbt process itself in
  session mode).
#}
{% macro pcdp_spark_absolute_path(path) %}
    {% if not path.startswith('/') %}
        {% set working_directory = run_query(
            "select reflect('java.lang.System', 'getProperty', 'user.dir')"
        ).columns[0].values()[0] %}
        {% set path = working_directory ~ '/' ~ path %}
    {% endif %}
    {% set segments = [] %}
    {% for segment in path.split('/') if segment not in ('', '.') %}
        {% if segment == '..' %}
            {% if segments %}
                {% do segments.pop() %}
            {% endif %}
        {% else %}
            {% do segments.append(segment) %}
        {% endif %}
    {% endfor %}
    {{ return('/' ~ segments | join('/')) }}
{% endmacro %}


{#
  The contract's columns of raw dataset `name` that its file lacks, as null text columns to
  add to its view (`present`: the file's column names). Fails the run, naming the file, when a
  required column or every one of the identifier columns is missing.
#}
{% macro pcdp_absent_raw_columns(name, spec, found, present) %}
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
        {% do absent_columns.append('cast(null as string) as ' ~ column) %}
    {% endfor %}
    {{ return(absent_columns) }}
{% endmacro %}


{#
  The columns of the empty view standing in for raw dataset `name`, absent from `raw_root`:
  every contract column as null text. Fails the run when the dataset is required.
#}
{% macro pcdp_absent_raw_dataset_columns(name, spec, raw_root) %}
    {% if spec.required %}
        {% do exceptions.raise_compiler_error(
            "raw dataset '" ~ name ~ "' is required but " ~ raw_root ~ " has no "
            ~ name ~ ".parquet, " ~ name ~ ".csv or " ~ name ~ "/ folder of Parquet parts"
        ) %}
    {% endif %}
    {% set typed_nulls = [] %}
    {% for column in spec.columns %}
        {% do typed_nulls.append('cast(null as string) as ' ~ column) %}
    {% endfor %}
    {{ return(typed_nulls) }}
{% endmacro %}
