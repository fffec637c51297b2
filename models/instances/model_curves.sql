{{ config(materialized='incremental', unique_key=['run_id', 'instance_id', 'curve', 'point']) }}
-- One row per point of each instance's curves per run (append-only): precision curves,
-- decile calibration and the like; `value` is the point as a JSON object.
with

records as (
    select * from {{ ref('int_instance_records') }}
),

final as (
    select
        run_id,
        instance_id,
        as_of,
        attribute as curve,
        cast(message as integer) as point,
        value
    from records
    where record_type = 'curve'
)

select * from final
