{{ config(materialized='table') }}
-- Score drift of this run: for every non-draft instance with predictions at this as-of date
-- and at an earlier one, the population stability index (PSI) of each attribute against the
-- instance's latest earlier as-of (the baseline). Numbers are binned at the baseline's deciles
-- (the top bin is open); booleans, text, the first label of a list and the field of a record
-- with the largest number (the first on ties: e.g. the strongest interest, the most likely
-- class) are categories (at most var monitor_max_categories of them). One row per instance
-- and metric: psi_<attribute>, psi_max, and drift_baseline_as_of (text).
{% set monitored_types = "'number', 'integer', 'boolean', 'string', 'array', 'record'" %}
with

-- Not materialized: each reader below takes only the dates it needs from the history.
predictions as {{ pcdp_cte_not_materialized() }} (
    select * from {{ ref('predictions') }}
),

instances as (
    select * from {{ ref('int_model_instances') }}
),

monitored_instances as (
    select instance_id from instances
    where configured_status != 'draft'
),

baseline_dates as (
    select
        predictions.instance_id,
        max(predictions.as_of) as baseline_as_of
    from predictions
    inner join monitored_instances
        on predictions.instance_id = monitored_instances.instance_id
    where
        predictions.as_of < {{ pcdp_as_of_date() }}
        and predictions.value_type in ({{ monitored_types }})
    group by predictions.instance_id
),

-- The two dates compared, so that only their rows are read: joined on the date, the
-- warehouse skips the rest of the predictions history (which grows with every run).
compared_dates as (
    select
        instance_id,
        baseline_as_of,
        baseline_as_of as as_of,
        'baseline' as side
    from baseline_dates
    union all
    select
        instance_id,
        baseline_as_of,
        {{ pcdp_as_of_date() }} as as_of,
        'current' as side
    from baseline_dates
),

monitored as (
    select
        predictions.*,
        compared_dates.baseline_as_of,
        compared_dates.side,
        -- a record's field names and, in the same order, their values when they are JSON
        -- numbers (else null)
        case
            when predictions.value_type = 'record'
                then {{ pcdp_record_keys('predictions.value') }}
        end as record_keys,
        case
            when predictions.value_type = 'record'
                then {{ pcdp_record_numbers('predictions.value') }}
        end as record_numbers
    from predictions
    inner join compared_dates
        on
            predictions.instance_id = compared_dates.instance_id
            and predictions.as_of = compared_dates.as_of
    where predictions.value_type in ({{ monitored_types }})
),

sides as (
    select
        instance_id,
        attribute,
        customer_id,
        value_type,
        baseline_as_of,
        side,
        case
            when value_type in ('number', 'integer') then try_cast(value as double)
        end as number_value,
        case
            when value_type = 'array'
                then coalesce({{ pcdp_json_text('value', '$[0]') }}, '(none)')
            when value_type = 'string'
                then coalesce({{ pcdp_json_text('value', '$') }}, '(none)')
            when value_type = 'boolean' then coalesce(value, '(none)')
            when
                value_type = 'record'
                and {{ pcdp_list_max('record_numbers') }} is null
                then '(none)'
            when value_type = 'record'
                then {{ pcdp_key_of_max('record_keys', 'record_numbers') }}
        end as category
    from monitored
),

-- attributes present on both sides
compared as (
    select
        instance_id,
        attribute,
        max(value_type) as value_type
    from sides
    group by instance_id, attribute
    having
        count(*) filter (where side = 'current') > 0
        and count(*) filter (where side = 'baseline') > 0
        and count(distinct value_type) = 1
        and (
            max(value_type) in ('number', 'integer')
            or count(distinct category) filter (where side = 'baseline')
            <= {{ var('monitor_max_categories', 50) }}
        )
),

baseline_tiles as (
    select
        sides.instance_id,
        sides.attribute,
        sides.number_value,
        ntile(10) over (
            partition by sides.instance_id, sides.attribute order by sides.number_value
        ) as tile
    from sides
    inner join compared
        on sides.instance_id = compared.instance_id and sides.attribute = compared.attribute
    where
        sides.side = 'baseline'
        and compared.value_type in ('number', 'integer')
        and sides.number_value is not null
),

tile_tops as (
    select
        instance_id,
        attribute,
        tile,
        max(number_value) as top_value
    from baseline_tiles
    group by instance_id, attribute, tile
),

-- the cut points: each tile's top value but the last (so the top bin is open above)
cuts as (
    select distinct
        tile_tops.instance_id,
        tile_tops.attribute,
        tile_tops.top_value as cut
    from tile_tops
    where
        tile_tops.top_value < (
            select max(all_tops.top_value)
            from tile_tops as all_tops
            where
                all_tops.instance_id = tile_tops.instance_id
                and all_tops.attribute = tile_tops.attribute
        )
),

numeric_bins as (
    select
        sides.instance_id,
        sides.attribute,
        sides.side,
        sides.customer_id,
        case
            when sides.number_value is null then 'null'
            else cast(count(cuts.cut) as string)
        end as bin
    from sides
    inner join compared
        on sides.instance_id = compared.instance_id and sides.attribute = compared.attribute
    left join cuts
        on
            sides.instance_id = cuts.instance_id
            and sides.attribute = cuts.attribute
            and sides.number_value > cuts.cut
    where compared.value_type in ('number', 'integer')
    group by sides.instance_id, sides.attribute, sides.side, sides.customer_id, sides.number_value
),

category_bins as (
    select
        sides.instance_id,
        sides.attribute,
        sides.side,
        sides.customer_id,
        sides.category as bin
    from sides
    inner join compared
        on sides.instance_id = compared.instance_id and sides.attribute = compared.attribute
    where compared.value_type not in ('number', 'integer')
),

binned as (
    select * from numeric_bins
    union all
    select * from category_bins
),

shares as (
    select
        instance_id,
        attribute,
        bin,
        count(*) filter (where side = 'current') as current_count,
        count(*) filter (where side = 'baseline') as baseline_count
    from binned
    group by instance_id, attribute, bin
),

proportions as (
    select
        instance_id,
        attribute,
        bin,
        -- a floor keeps an empty bin from making the index infinite
        greatest(
            current_count / sum(current_count) over (partition by instance_id, attribute), 0.0001
        ) as current_share,
        greatest(
            baseline_count / sum(baseline_count) over (partition by instance_id, attribute), 0.0001
        ) as baseline_share
    from shares
),

psi as (
    select
        instance_id,
        attribute,
        sum((current_share - baseline_share) * ln(current_share / baseline_share)) as psi
    from proportions
    group by instance_id, attribute
),

metrics as (
    select
        instance_id,
        'psi_' || attribute as metric,
        psi as value,
        cast(null as string) as value_text
    from psi
    union all
    select
        instance_id,
        'psi_max' as metric,
        max(psi) as value,
        cast(null as string) as value_text
    from psi
    group by instance_id
    union all
    select
        baseline_dates.instance_id,
        'drift_baseline_as_of' as metric,
        cast(null as double) as value,
        cast(baseline_dates.baseline_as_of as string) as value_text
    from baseline_dates
    where baseline_dates.instance_id in (select psi.instance_id from psi)
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
