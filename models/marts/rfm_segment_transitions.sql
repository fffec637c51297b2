-- One row per customer, rfm instance and run (as-of date) where the customer had a segment in
-- that run or in the instance's previous run: the previous run's as-of date and segment, this
-- run's segment, and whether it changed. previous_segment is null for a customer who had no
-- segment then (no completed order yet, or the instance's first run: previous_as_of is null);
-- segment is null for a customer who lost theirs; is_changed is null on the instance's first
-- run. "Slipped from Loyal Customers to At Risk this week" is: previous_segment = 'Loyal
-- Customers' and segment = 'At Risk' at the latest as_of.
with

predictions as (
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

segments as (
    select
        predictions.customer_id,
        predictions.instance_id,
        predictions.as_of,
        {{ pcdp_json_text('predictions.value', '$') }} as segment
    from predictions
    inner join rfm_instances on predictions.instance_id = rfm_instances.instance_id
    where predictions.attribute = predictions.instance_id || '_cluster'
),

runs as (
    select distinct
        instance_id,
        as_of
    from segments
),

run_pairs as (
    select
        instance_id,
        as_of,
        lag(as_of) over (partition by instance_id order by as_of) as previous_as_of
    from runs
),

current_segments as (
    select
        segments.customer_id,
        run_pairs.instance_id,
        run_pairs.as_of,
        run_pairs.previous_as_of,
        segments.segment
    from run_pairs
    inner join segments
        on
            run_pairs.instance_id = segments.instance_id
            and run_pairs.as_of = segments.as_of
),

previous_segments as (
    select
        segments.customer_id,
        run_pairs.instance_id,
        run_pairs.as_of,
        run_pairs.previous_as_of,
        segments.segment as previous_segment
    from run_pairs
    inner join segments
        on
            run_pairs.instance_id = segments.instance_id
            and run_pairs.previous_as_of = segments.as_of
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
