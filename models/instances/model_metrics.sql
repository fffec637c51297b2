{{ config(materialized='incremental', unique_key=['run_id', 'instance_id', 'metric']) }}
-- One row per instance, run and metric (append-only history): the metrics each instance
-- reported, and the monitoring metrics of the run (psi_*, drift_*, matured_*: see
-- int_monitor_metrics). Numeric metrics are in value; text metrics (such as the chosen
-- model's name) in value_text.
with

records as (
    select * from {{ ref('int_instance_records') }}
),

monitor_metrics as (
    select * from {{ ref('int_monitor_metrics') }}
),

instance_metrics as (
    select
        run_id,
        instance_id,
        as_of,
        attribute as metric,
        case when value_type = 'number' then try_cast(value as double) end as value,
        case when value_type = 'string' then {{ pcdp_json_text('value', '$') }} end as value_text
    from records
    where record_type = 'metric'
),

final as (
    select * from instance_metrics
    union all
    select * from monitor_metrics
)

select * from final
