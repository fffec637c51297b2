{#
  Each combination of the columns held by more than one row (with its count); with
  row_condition, among the rows that meet it. Unlike a `where` config, which dbt renders while
  parsing, a test argument is rendered again when the test runs, so the condition may use
  per-run values (pcdp_as_of_date) without making dbt parse the project again each run.
#}
{% test unique_combination_of_columns(model, combination_of_columns, row_condition=none) %}
    {% set rows = model if row_condition is none
        else '(select * from ' ~ model ~ ' where ' ~ row_condition ~ ') as rows_tested' %}
    {{ return(adapter.dispatch('test_unique_combination_of_columns', 'pcdp')(
        rows, combination_of_columns
    )) }}
{% endtest %}
