{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['as_of', 'instance_id'],
    pre_hook=(
        "{% if is_incremental() %}delete from {{ this }}"
        " where as_of = {{ pcdp_as_of_date() }}{% endif %}"
    ),
) }}
-- One row per customer, rfm instance and run (as-of date) where the customer had a segment in
-- that run or in the instance's previous run: the previous run's as-of date and segment, this
-- run's segment, and whether it changed. previous_segment is null for a customer who had no
-- segment then (no completed order yet, or the instance's first run: previous_as_of is null);
-- segment is null for a customer who lost theirs; is_changed is null on the instance's first
-- run. "Slipped from Loyal Customers to At Risk this week" is: previous_segment = 'Loyal
-- Customers' and segment = 'At Risk' at the latest as_of.
-- Incremental (delete+insert on as_of and instance_id): a run recomputes only its own as-of
-- date and the run after it, whose previous run it may have become (a backfill); the pre-hook
-- first clears this date, in case its segments are gone. Other dates keep their rows, so the
-- run does not grow with the predictions history. On Spark, whose Parquet tables cannot delete
-- rows, it is rebuilt whole.
with

-- Not materialized: the readers below take only the dates they need from the history.
predictions as {{ pcdp_cte_not_materialized() }} (
    select * from {{ ref('predictions') }}
),

instances as (
    select * from {{ ref('int_model_instances') }}
),

rfm_instances as (
    select instance_id
    from instances
    where type = 'rfm'
),

-- every run of each rfm instance: a narrow scan of the history
runs as (
    select distinct
        predictions.instance_id,
        predictions.as_of
    from predictions
    inner join rfm_instances on predictions.instance_id = rfm_instances.instance_id
    where predictions.attribute = predictions.instance_id || '_cluster'
),

run_pairs as (
    select
        instance_id,
        as_of,
        lag(as_of) over (partition by instance_id order by as_of) as previous_as_of
    from runs
),

{% if is_incremental() %}
    -- each instance's first run after this as-of date: its previous run may now be this one
    next_runs as (
        select
            instance_id,
            min(as_of) as next_as_of
        from runs
        where as_of > {{ pcdp_as_of_date() }}
        group by instance_id
    ),
{% endif %}

-- the runs whose rows this run writes: all of them on a full build, else this as-of date
-- and the run after it
computed_runs as (
    select
        run_pairs.instance_id,
        run_pairs.as_of,
        run_pairs.previous_as_of
    from run_pairs
    {% if is_incremental() %}
        left join next_runs on run_pairs.instance_id = next_runs.instance_id
        where
            run_pairs.as_of = {{ pcdp_as_of_date() }}
            or run_pairs.as_of = next_runs.next_as_of
    {% endif %}
),

-- the dates whose segments those runs compare
segment_dates as (
    select
        instance_id,
        as_of
    from computed_runs
    union
    select
        instance_id,
        previous_as_of as as_of
    from computed_runs
    where previous_as_of is not null
),

segments as (
    select
        predictions.customer_id,
        predictions.instance_id,
        predictions.as_of,
        {{ pcdp_json_text('predictions.value', '$') }} as segment
    from predictions
    inner join segment_dates
        on
            predictions.instance_id = segment_dates.instance_id
            and predictions.as_of = segment_dates.as_of
    where predictions.attribute = predictions.instance_id || '_cluster'
),

current_segments as (
    select
        segments.customer_id,
        computed_runs.instance_id,
        computed_runs.as_of,
        computed_runs.previous_as_of,
        segments.segment
    from computed_runs
    inner join segments
        on
            computed_runs.instance_id = segments.instance_id
            and computed_runs.as_of = segments.as_of
),

previous_segments as (
    select
        segments.customer_id,
        computed_runs.instance_id,
        computed_runs.as_of,
        computed_runs.previous_as_of,
        segments.segment as previous_segment
    from computed_runs
    inner join segments
        on
            computed_runs.instance_id = segments.instance_id
            and computed_runs.previous_as_of = segments.as_of
),

joined as (
    select
        coalesce(current_segments.customer_id, previous_segments.customer_id) as customer_id,
        coalesce(current_segments.instance_id, previous_segments.instance_id) as instance_id,
        coalesce(current_segments.as_of, previous_segments.as_of) as as_of,
        coalesce(current_segments.previous_as_of, previous_segments.previous_as_of)
            as previous_as_of,
        previous_segments.previous_segment,
        current_segments.segment
    from current_segments
    full outer join previous_segments
        on
            current_segments.customer_id = previous_segments.customer_id
            and current_segments.instance_id = previous_segments.instance_id
            and current_segments.as_of = previous_segments.as_of
),

final as (
    select
        customer_id,
        instance_id,
        as_of,
        previous_as_of,
        previous_segment,
        segment,
        case
            when previous_as_of is not null
                then coalesce(previous_segment, '') != coalesce(segment, '')
        end as is_changed
    from joined
)

select * from final
