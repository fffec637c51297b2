{#
  dbt's built-in `unique` test, on DuckDB: the same failing rows (each value held by more than
  one row, with its count), found in two passes. Grouping 51.7 M event ids as text took 8.0 s
  at 1 M customers; grouping their 64-bit hashes and then only the rows whose hash repeats
  takes 4.4 s. Equal values have equal hashes, so no duplicate is missed; a hash collision
  between different values only sends those few rows to the exact second pass.
#}
{% macro duckdb__test_unique(model, column_name) %}

with

repeated_hashes as (
    select hash({{ column_name }}) as value_hash
    from {{ model }}
    where {{ column_name }} is not null
    group by value_hash
    having count(*) > 1
),

candidates as (
    select tested.{{ column_name }} as unique_field
    from {{ model }} as tested
    semi join repeated_hashes on hash(tested.{{ column_name }}) = repeated_hashes.value_hash
    where tested.{{ column_name }} is not null
)

select
    unique_field,
    count(*) as n_records
from candidates
group by unique_field
having count(*) > 1

{% endmacro %}
