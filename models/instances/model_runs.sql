{{ config(materialized='incremental', unique_key=['run_id', 'instance_id']) }}
-- One row per instance per run (append-only history): when it ran, how it ended, what it scored.
with

records as (
    select * from {{ ref('int_instance_records') }}
),

final as (
    select
        run_id,
        instance_id,
        as_of,
        cast({{ pcdp_json_text('value', '$.started_at') }} as timestamp) as started_at,
        cast({{ pcdp_json_text('value', '$.finished_at') }} as timestamp) as finished_at,
        {{ pcdp_json_text('value', '$.status') }} as status,
        message as error,
        cast({{ pcdp_json_value('value', '$.rows_scored') }} as bigint) as rows_scored
    from records
    where record_type = 'status'
)

select * from final
