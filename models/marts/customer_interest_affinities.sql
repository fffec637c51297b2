-- One row per customer, interest instance and label: the customer's affinity for the label in
-- the instance's latest run up to this as-of date (the <id>_affinity records of predictions),
-- with its share of the customer's affinity at the same label depth and its rank there
-- (1 = strongest). For finer audiences than the top-k lists in customer_profile, e.g. every
-- customer whose affinity for "Apparel > Shoes" is at least 2.
with

-- Not materialized: the latest dates are found first, and only their rows are read then.
predictions as {{ pcdp_cte_not_materialized() }} (
    select * from {{ ref('predictions') }}
),

instances as (
    select * from {{ ref('int_model_instances') }}
),

interest_instances as (
    select
        instance_id,
        type as instance_type
    from instances
    where left(type, 9) = 'interest_' and configured_status != 'draft'
),

latest_as_of as (
    select
        predictions.instance_id,
        interest_instances.instance_type,
        max(predictions.as_of) as as_of
    from predictions
    inner join interest_instances
        on predictions.instance_id = interest_instances.instance_id
    where
        predictions.attribute = predictions.instance_id || '_affinity'
        and predictions.as_of <= {{ pcdp_as_of_date() }}
    group by predictions.instance_id, interest_instances.instance_type
),

-- joined on the date, the warehouse skips the rest of the predictions history
current_records as (
    select
        predictions.customer_id,
        predictions.instance_id,
        latest_as_of.instance_type,
        predictions.as_of,
        predictions.value
    from predictions
    inner join latest_as_of
        on
            predictions.instance_id = latest_as_of.instance_id
            and predictions.as_of = latest_as_of.as_of
    where predictions.attribute = predictions.instance_id || '_affinity'
),

entries as (
    select
        customer_id,
        instance_id,
        instance_type,
        as_of,
        {{ pcdp_json_object_entries('value') }} as entry
    from current_records
),

unnested as (
    select
        entries.customer_id,
        entries.instance_id,
        entries.instance_type,
        entries.as_of,
        -- The fields of a map entry are named key and value.
        entries.entry.key as label,  -- noqa: RF04
        {{ pcdp_split_count('entries.entry.key', ' > ') }} as label_depth,
        entries.entry.value as affinity
    from entries
),

final as (
    select
        customer_id,
        instance_id,
        label,
        instance_type,
        label_depth,
        affinity,
        -- Affinities are whole micros: summed as whole numbers, exactly, so the share does
        -- not depend on the order the warehouse adds them in.
        affinity / (sum(round(affinity * 1000000)) over (
            partition by customer_id, instance_id, label_depth
        ) / 1000000) as affinity_share,
        row_number() over (
            partition by customer_id, instance_id, label_depth
            order by affinity desc, label asc
        ) as label_rank,
        as_of
    from unnested
)

select * from final
