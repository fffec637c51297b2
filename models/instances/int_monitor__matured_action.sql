{{ config(materialized='table') }}
-- Closing the loop for action_prediction instances: the latest earlier predictions whose
-- future window has fully passed by this as-of date (as_of + future_window_days <= this
-- as-of) are compared with what the scored customers then did. The outcome follows the
-- instance's configuration as written (model_instances.config): `positive` / `negative` (an
-- event name, a list, or {event, properties, min_count} filters), `outcome` (did / did_not)
-- and `future_window_days` [30]; the window is [as_of + 1 day, as_of + 1 + future_window_days).
-- One row per instance and metric: matured_as_of (text), matured_customers, matured_positives,
-- matured_base_rate, matured_segment_count, matured_precision (realised precision of the
-- segment), matured_recall and matured_auc.
with

-- Not materialized: each reader below takes only the dates it needs from the history.
predictions as {{ pcdp_cte_not_materialized() }} (
    select * from {{ ref('predictions') }}
),

instances as (
    select * from {{ ref('int_model_instances') }}
),

customer_events as (
    select * from {{ ref('int_customer_events') }}
),

customers as (
    select * from {{ ref('customers') }}
),

action_instances as (
    select
        instance_id,
        coalesce(
            try_cast({{ pcdp_json_text('config', '$.future_window_days') }} as integer), 30
        ) as future_window_days,
        coalesce({{ pcdp_json_text('config', '$.outcome') }}, 'did') as outcome,
        {{ pcdp_json_node('config', '$.positive') }} as positive,
        {{ pcdp_json_node('config', '$.negative') }} as negative
    from instances
    where type = 'action_prediction' and configured_status != 'draft'
),

matured_dates as (
    select
        predictions.instance_id,
        max(predictions.as_of) as matured_as_of
    from predictions
    inner join action_instances on predictions.instance_id = action_instances.instance_id
    where
        predictions.attribute = predictions.instance_id || '_score'
        and predictions.as_of + action_instances.future_window_days <= {{ pcdp_as_of_date() }}
    group by predictions.instance_id
),

-- The matured date's predictions only: joined on the date, the warehouse skips the rest of
-- the predictions history (which grows with every run).
matured_predictions as (
    select predictions.*
    from predictions
    inner join matured_dates
        on
            predictions.instance_id = matured_dates.instance_id
            and predictions.as_of = matured_dates.matured_as_of
),

windows as (
    select
        action_instances.*,
        matured_dates.matured_as_of,
        cast(matured_dates.matured_as_of as timestamp) + interval 1 day as window_start,
        cast(matured_dates.matured_as_of as timestamp)
        + {{ pcdp_days_interval('1 + action_instances.future_window_days') }} as window_end
    from action_instances
    inner join matured_dates on action_instances.instance_id = matured_dates.instance_id
),

scored as (
    select
        scores.instance_id,
        scores.customer_id,
        try_cast(scores.value as double) as score,
        coalesce(try_cast(segments.value as boolean), false) as in_segment
    from matured_predictions as scores
    left join matured_predictions as segments
        on
            scores.instance_id = segments.instance_id
            and scores.customer_id = segments.customer_id
            and segments.attribute = scores.instance_id || '_segment'
    where
        scores.attribute = scores.instance_id || '_score'
        and try_cast(scores.value as double) is not null
),

-- each outcome filter: (instance, side, position) → event, properties, min_count
filter_items as (
    select
        instance_id,
        'positive' as side,
        {{ pcdp_json_node_items('positive') }} as item
    from windows
    where positive is not null
    union all
    select
        instance_id,
        'negative' as side,
        {{ pcdp_json_node_items('negative') }} as item
    from windows
    where negative is not null and {{ pcdp_json_node_type('negative') }} != 'NULL'
),

filters as (
    select
        instance_id,
        side,
        row_number() over (
            partition by instance_id, side order by {{ pcdp_json_node_sort_key('item') }}
        ) as filter_number,
        case
            when {{ pcdp_json_node_type('item') }} = 'VARCHAR'
                then trim({{ pcdp_json_node_text('item', '$') }})
            else trim({{ pcdp_json_node_text('item', '$.event') }})
        end as event_name,
        case
            when {{ pcdp_json_node_type('item') }} = 'OBJECT'
                then {{ pcdp_json_node_at('item', '$.properties') }}
        end as properties,
        case
            when {{ pcdp_json_node_type('item') }} = 'OBJECT'
                then coalesce(
                    try_cast({{ pcdp_json_node_text('item', '$.min_count') }} as integer), 1
                )
            else 1
        end as min_count
    from filter_items
),

filter_properties as (
    select
        instance_id,
        side,
        filter_number,
        property_key,
        {{ pcdp_json_node_field('properties', 'property_key') }} as expected
    from (
        select
            *,
            {{ pcdp_json_node_keys('properties') }} as property_key
        from filters
        where {{ pcdp_json_node_type('properties') }} = 'OBJECT'
    ) as object_filters
),

window_events as (
    select
        filters.instance_id,
        filters.side,
        filters.filter_number,
        customers.customer_id,
        customer_events.properties
    from customer_events
    inner join filters on customer_events.event_name = filters.event_name
    inner join windows
        on
            filters.instance_id = windows.instance_id
            and customer_events.occurred_at >= windows.window_start
            and customer_events.occurred_at < windows.window_end
    -- the events name their customer by this run's key; predictions by the stable id
    inner join customers on customer_events.customer_key = customers.customer_key
),

-- A customer's window events of one filter with the same properties match it alike, so they
-- are checked once per group (the events carry no id to tell them apart, and need none).
window_event_groups as (
    select
        instance_id,
        side,
        filter_number,
        customer_id,
        properties,
        count(*) as event_count
    from window_events
    group by instance_id, side, filter_number, customer_id, properties
),

-- a group matches its filter when every property of the filter equals the events' (as text,
-- or as numbers when both are numbers; a null expects a JSON null); a filter without
-- properties matches every group
matching_groups as (
    select
        window_event_groups.instance_id,
        window_event_groups.side,
        window_event_groups.filter_number,
        window_event_groups.customer_id,
        window_event_groups.event_count
    from window_event_groups
    left join filter_properties
        on
            window_event_groups.instance_id = filter_properties.instance_id
            and window_event_groups.side = filter_properties.side
            and window_event_groups.filter_number = filter_properties.filter_number
    group by
        window_event_groups.instance_id,
        window_event_groups.side,
        window_event_groups.filter_number,
        window_event_groups.customer_id,
        window_event_groups.properties,
        window_event_groups.event_count
    having bool_and(
        filter_properties.property_key is null
        or coalesce(
            {{ pcdp_event_property_matches(
                'window_event_groups.properties',
                'filter_properties.property_key',
                'filter_properties.expected',
            ) }},
            false
        )
    )
),

filter_counts as (
    select
        instance_id,
        side,
        filter_number,
        customer_id,
        sum(event_count) as matched_events
    from matching_groups
    group by instance_id, side, filter_number, customer_id
),

reached as (
    select
        filter_counts.instance_id,
        filter_counts.customer_id,
        bool_or(filter_counts.side = 'positive') as did_positive,
        bool_or(filter_counts.side = 'negative') as did_negative
    from filter_counts
    inner join filters
        on
            filter_counts.instance_id = filters.instance_id
            and filter_counts.side = filters.side
            and filter_counts.filter_number = filters.filter_number
    where filter_counts.matched_events >= filters.min_count
    group by filter_counts.instance_id, filter_counts.customer_id
),

labelled as (
    select
        scored.instance_id,
        scored.customer_id,
        scored.score,
        scored.in_segment,
        case
            when coalesce(reached.did_positive, false) then 1
            -- with `negative`, a customer who did neither has no outcome
            when windows.negative is not null and not coalesce(reached.did_negative, false)
                then null
            else 0
        end as label_did,
        windows.outcome
    from scored
    inner join windows on scored.instance_id = windows.instance_id
    left join reached
        on scored.instance_id = reached.instance_id and scored.customer_id = reached.customer_id
),

outcomes as (
    select
        instance_id,
        score,
        in_segment,
        case when outcome = 'did_not' then 1 - label_did else label_did end as outcome_label,
        -- average rank of the score (ties share their mean rank), for the AUC
        rank() over (partition by instance_id order by score)
        + (count(*) over (partition by instance_id, score) - 1) / cast(2 as double) as score_rank
    from labelled
    where label_did is not null
),

summary as (
    select
        instance_id,
        cast(count(*) as double) as matured_customers,
        cast(sum(outcome_label) as double) as matured_positives,
        avg(outcome_label) as matured_base_rate,
        cast(count(*) filter (where in_segment) as double) as matured_segment_count,
        avg(outcome_label) filter (where in_segment) as matured_precision,
        sum(outcome_label) filter (where in_segment)
        / nullif(sum(outcome_label), 0) as matured_recall,
        (
            sum(score_rank) filter (where outcome_label = 1)
            - sum(outcome_label) * (sum(outcome_label) + 1) / cast(2 as double)
        ) / nullif(sum(outcome_label) * (count(*) - sum(outcome_label)), 0) as matured_auc
    from outcomes
    group by instance_id
),

metrics as (
    select
        windows.instance_id,
        'matured_as_of' as metric,
        cast(null as double) as value,
        cast(windows.matured_as_of as string) as value_text
    from windows
    inner join summary on windows.instance_id = summary.instance_id
    union all
    select
        instance_id,
        metric,
        value,
        cast(null as string) as value_text
    from summary
    unpivot (
        value for metric in (
            matured_customers,
            matured_positives,
            matured_base_rate,
            matured_segment_count,
            matured_precision,
            matured_recall,
            matured_auc
        )
    )
),

final as (
    select
        {{ pcdp_run_id() }} as run_id,
        instance_id,
        {{ pcdp_as_of_date() }} as as_of,
        metric,
        value,
        value_text
    from metrics
)

select * from final
