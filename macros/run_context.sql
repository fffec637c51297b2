{#
  The run's as-of date as a SQL date literal: var `as_of`, else environment variable PCDP_AS_OF
  (how `pcdp run` passes it), else the UTC date the run started. See pcdp_run_value.
#}
{% macro pcdp_as_of_date() %}
    {% set as_of = pcdp_run_value('as_of', 'PCDP_AS_OF') %}
    {% if as_of == '' %}
        {% set as_of = run_started_at.strftime('%Y-%m-%d') %}
    {% endif %}
    {% if execute and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', as_of) %}
        {% do exceptions.raise_compiler_error(
            "as_of (var as_of or PCDP_AS_OF) must be YYYY-MM-DD, got '" ~ as_of ~ "'"
        ) %}
    {% endif %}
    {{ return("date '" ~ as_of ~ "'") }}
{% endmacro %}


{# Features are computed from data strictly before this instant: the end of the as-of day. #}
{% macro pcdp_feature_cutoff() %}
    {{ return('cast(' ~ pcdp_add_days(1, pcdp_as_of_date()) ~ ' as timestamp)') }}
{% endmacro %}


{# Rows timestamped after the as-of date plus one day are quarantined (contract: bad rows). #}
{% macro pcdp_latest_valid_date() %}
    {{ return('cast(' ~ pcdp_add_days(1, pcdp_as_of_date()) ~ ' as date)') }}
{% endmacro %}


{# This run's id: var run_id, else environment variable PCDP_RUN_ID (set by `pcdp run`), else
   dbt's invocation id. #}
{% macro pcdp_run_id() %}
    {% set run_id = pcdp_run_value('run_id', 'PCDP_RUN_ID') %}
    {{ return(pcdp_quote_text(run_id if run_id != '' else invocation_id)) }}
{% endmacro %}


{#
  A per-run value: var `name`, else environment variable `env_name`, else ''. The environment
  is read only while the run executes, never while dbt parses: dbt parses the whole project
  again when --vars change (about 4 s of every run), and when an environment variable read
  during parsing changes it parses again every model that read it; `pcdp run` passes as_of
  and run_id this way so that a nightly run reuses the previous run's parse.
#}
{% macro pcdp_run_value(name, env_name) %}
    {% set value = var(name) | string %}
    {% if value in ('', 'None', 'none') and execute %}
        {% set value = env_var(env_name, '') %}
    {% endif %}
    {{ return('' if value in ('', 'None', 'none') else value) }}
{% endmacro %}


{#
  predictions' pre-hook: a rerun of an as-of date replaces the rows of the instances that
  succeeded in this run (also of one that succeeded with no rows); an instance that failed
  keeps its earlier rows.
#}
{% macro pcdp_clear_rerun_predictions() %}
    {% if not execute or not is_incremental() %}
        {{ return('') }}
    {% endif %}
    {% set succeeded_sql = "select instance_id from " ~ ref('int_instance_records')
        ~ " where record_type = 'status' and "
        ~ pcdp_json_text('value', '$.status') ~ " = 'Complete'" %}
    {{ return(adapter.dispatch('pcdp_clear_rerun_predictions', 'pcdp')(succeeded_sql)) }}
{% endmacro %}

{% macro default__pcdp_clear_rerun_predictions(succeeded_sql) %}
    {{ return('delete from ' ~ this ~ ' where as_of = ' ~ pcdp_as_of_date()
        ~ ' and instance_id in (' ~ succeeded_sql ~ ')') }}
{% endmacro %}

{# Databricks (which would otherwise pick the Spark variant): Delta tables delete rows. #}
{% macro databricks__pcdp_clear_rerun_predictions(succeeded_sql) %}
    {{ return(default__pcdp_clear_rerun_predictions(succeeded_sql)) }}
{% endmacro %}

{#
  Spark's own (Parquet) tables cannot delete rows: there predictions is partitioned by as_of
  and instance_id, and the partitions of this date's succeeded instances are dropped.
#}
{% macro spark__pcdp_clear_rerun_predictions(succeeded_sql) %}
    {% set partitions = [] %}
    {% for instance_id in run_query(succeeded_sql).columns[0].values() | sort %}
        {% do partitions.append('partition (as_of = ' ~ pcdp_as_of_date()
            ~ ', instance_id = ' ~ pcdp_quote_text(instance_id) ~ ')') %}
    {% endfor %}
    {{ return('alter table ' ~ this ~ ' drop if exists ' ~ partitions | join(', ')
        if partitions else '') }}
{% endmacro %}


{#
  The project var `name` as a whole number >= 0. Jinja's int filter turns text it cannot read
  ('250k', 'six') into 0, which would silently mean "none" or "no limit": such a value fails
  the run with a message naming the var instead (checked when the model runs; parsing and
  linting see placeholder vars).
#}
{% macro pcdp_whole_number_var(name) %}
    {% set value = var(name) %}
    {% if execute and not modules.re.fullmatch('[0-9]+', value | string | trim) %}
        {% do exceptions.raise_compiler_error(
            'var ' ~ name ~ ' must be a whole number of at least 0, got ' ~ value
        ) %}
    {% endif %}
    {{ return(value | string | trim | int) }}
{% endmacro %}
