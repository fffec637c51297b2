-- One row per configured instance with its lifecycle status: Draft and Suspended as
-- configured; otherwise Error for an invalid configuration, Ready before its first run, and
-- the outcome of its latest run (Complete or Error). `pcdp run` shows Running while it runs.
with

instances as (
    select * from {{ ref('int_model_instances') }}
),

model_runs as (
    select * from {{ ref('model_runs') }}
),

latest_runs as (
    select *
    from model_runs
    qualify row_number() over (
        partition by instance_id order by finished_at desc, run_id desc
    ) = 1
),

final as (
    select
        instances.instance_id,
        instances.type,
        case
            when instances.configured_status = 'draft' then 'Draft'
            when instances.configured_status = 'suspended' then 'Suspended'
            when instances.config_error is not null then 'Error'
            when latest_runs.status is null then 'Ready'
            else latest_runs.status
        end as status,
        instances.configured_status,
        latest_runs.finished_at as last_run_at,
        latest_runs.as_of as last_as_of,
        latest_runs.rows_scored as last_rows_scored,
        coalesce(instances.config_error, latest_runs.error) as last_error,
        instances.params,
        instances.config
    from instances
    left join latest_runs on instances.instance_id = latest_runs.instance_id
)

select * from final
