{{ config(materialized='incremental', unique_key=['run_id', 'instance_id', 'metric']) }}
-- One row per instance, run and metric (append-only history). Numeric metrics are in value;
-- text metrics (such as the chosen model's name) in value_text.
with

records as (
    select * from {{ ref('int_instance_records') }}
),

final as (
    select
        run_id,
        instance_id,
        as_of,
        attribute as metric,
        case when value_type = 'number' then try_cast(value as double) end as value,
        case when value_type = 'string' then json_extract_string(value, '$') end as value_text
    from records
    where record_type = 'metric'
)

select * from final
