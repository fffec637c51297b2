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

-- Not materialized (nor number_values): numbers and categories each read their own rows,
-- rather than all of them written out and read back.
monitored as {{ pcdp_cte_not_materialized() }} (
    select
        predictions.instance_id,
        predictions.attribute,
        predictions.value_type,
        predictions.value,
        compared_dates.side
    from predictions
    inner join compared_dates
        on
            predictions.instance_id = compared_dates.instance_id
            and predictions.as_of = compared_dates.as_of
    where predictions.value_type in ({{ monitored_types }})
),

number_values as {{ pcdp_cte_not_materialized() }} (
    select
        instance_id,
        attribute,
        value_type,
        side,
        try_cast(value as double) as number_value
    from monitored
    where value_type in ('number', 'integer')
),

baseline_tiles as (
    select
        instance_id,
        attribute,
        number_value,
        ntile(10) over (partition by instance_id, attribute order by number_value) as tile
    from number_values
    where side = 'baseline' and number_value is not null
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

positioned_cuts as (
    select
        instance_id,
        attribute,
        cut,
        row_number() over (partition by instance_id, attribute order by cut) as cut_position
    from cuts
),

-- An attribute's (at most nine) cuts side by side, so that binning a value is arithmetic on
-- its row: no range join, and no regrouping per customer afterwards.
cut_columns as (
    select
        {% for position in range(1, 10) %}
            max(case when cut_position = {{ position }} then cut end) as cut_{{ position }},
        {% endfor %}
        instance_id,
        attribute
    from positioned_cuts
    group by instance_id, attribute
),

number_bins as (
    select
        number_values.instance_id,
        number_values.attribute,
        number_values.value_type,
        number_values.side,
        case
            when number_values.number_value is null then 'null'
            else cast(
                0
                {% for position in range(1, 10) %}
                    + case
                        when number_values.number_value > cut_columns.cut_{{ position }} then 1
                        else 0
                    end
                {% endfor %}
                as string
            )
        end as bin
    from number_values
    left join cut_columns
        on
            number_values.instance_id = cut_columns.instance_id
            and number_values.attribute = cut_columns.attribute
),

-- a record's field names and, in the same order, their values when they are JSON numbers
-- (else null)
category_values as (
    select
        instance_id,
        attribute,
        value_type,
        side,
        value,
        case
            when value_type = 'record' then {{ pcdp_record_keys('value') }}
        end as record_keys,
        case
            when value_type = 'record' then {{ pcdp_record_numbers('value') }}
        end as record_numbers
    from monitored
    where value_type not in ('number', 'integer')
),

category_bins as (
    select
        instance_id,
        attribute,
        value_type,
        side,
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
        end as bin
    from category_values
),

binned as (
    select * from number_bins
    union all
    select * from category_bins
),

bin_counts as (
    select
        instance_id,
        attribute,
        value_type,
        side,
        bin,
        count(*) as row_count
    from binned
    group by instance_id, attribute, value_type, side, bin
),

-- attributes present on both sides, with one type
compared as (
    select
        instance_id,
        attribute
    from bin_counts
    group by instance_id, attribute
    having
        count(*) filter (where side = 'current') > 0
        and count(*) filter (where side = 'baseline') > 0
        and count(distinct value_type) = 1
        and (
            max(value_type) in ('number', 'integer')
            or count(distinct bin) filter (where side = 'baseline')
            <= {{ var('monitor_max_categories', 50) }}
        )
),

shares as (
    select
        bin_counts.instance_id,
        bin_counts.attribute,
        bin_counts.bin,
        coalesce(sum(bin_counts.row_count) filter (where bin_counts.side = 'current'), 0)
            as current_count,
        coalesce(sum(bin_counts.row_count) filter (where bin_counts.side = 'baseline'), 0)
            as baseline_count
    from bin_counts
    inner join compared
        on
            bin_counts.instance_id = compared.instance_id
            and bin_counts.attribute = compared.attribute
    group by bin_counts.instance_id, bin_counts.attribute, bin_counts.bin
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
