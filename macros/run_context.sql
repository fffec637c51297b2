{# The run's as-of date as a SQL date literal: var `as_of`, else the UTC date the run started. #}
{% macro pcdp_as_of_date() %}
    {% set as_of = var('as_of') | string %}
    {% if as_of in ('', 'None', 'none') %}
        {% set as_of = run_started_at.strftime('%Y-%m-%d') %}
    {% endif %}
    {% if execute and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', as_of) %}
        {% do exceptions.raise_compiler_error("var as_of must be YYYY-MM-DD, got '" ~ as_of ~ "'") %}
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


{# This run's id: var run_id (set by `pcdp run`), else dbt's invocation id. #}
{% macro pcdp_run_id() %}
    {% set run_id = var('run_id') | string %}
    {{ return(pcdp_quote_text(run_id if run_id not in ('', 'None', 'none') else invocation_id)) }}
{% endmacro %}
