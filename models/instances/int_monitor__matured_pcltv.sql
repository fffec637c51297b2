{{ config(materialized='table') }}
-- Closing the loop for pcltv instances: predicted against actual revenue (completed orders,
-- reporting currency) of the customers each prediction scored.
-- * Elapsed: the instance's previous predictions (its latest as-of before this one), over the
--   days since then: actual revenue against the shortest horizon's prediction pro-rated by
--   days (matured_as_of, matured_days, matured_revenue_actual, matured_revenue_expected,
--   matured_revenue_ratio). Available from the second as-of date on.
-- * Matured horizons: for each horizon h whose window [as_of + 1 day, + h months) has fully
--   passed, the latest such predictions against the revenue of that window (matured_as_of_<h>m,
--   matured_revenue_actual_<h>m, matured_revenue_predicted_<h>m, matured_revenue_ratio_<h>m,
--   matured_revenue_mae_<h>m).
-- Horizons are read from the attributes <id>_<h>m found in predictions.
with

-- Not materialized: each reader below takes only the dates it needs from the history.
predictions as {{ pcdp_cte_not_materialized() }} (
    select * from {{ ref('predictions') }}
),

instances as (
    select * from {{ ref('int_model_instances') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

pcltv_instances as (
    select instance_id from instances
    where type = 'pcltv' and configured_status != 'draft'
),

-- Which horizons each earlier as-of date predicted, from the distinct attributes: the
-- predictions themselves are read only for the dates evaluated below (joined on the date, the
-- warehouse skips the rest of the history, which grows with every run).
prediction_attributes as (
    select distinct
        predictions.instance_id,
        predictions.as_of,
        predictions.attribute
    from predictions
    inner join pcltv_instances on predictions.instance_id = pcltv_instances.instance_id
    where predictions.as_of < {{ pcdp_as_of_date() }}
),

horizon_attributes as (
    select
        instance_id,
        as_of,
        attribute,
        cast(regexp_extract(attribute, '_([0-9]+)m$', 1) as integer) as horizon_months
    from prediction_attributes
    -- <instance_id>_<digits>m, tested with a constant pattern (a pattern built per row is
    -- compiled per row)
    where
        left(attribute, length(instance_id) + 1) = instance_id || '_'
        and {{ pcdp_regexp_full_match('substr(attribute, length(instance_id) + 2)', "'[0-9]+m'") }}
),

-- the windows to evaluate: one elapsed window and one per matured horizon
elapsed_windows as (
    select
        instance_id,
        'elapsed' as window_kind,
        min(horizon_months) as horizon_months,
        max(as_of) as evaluated_as_of
    from horizon_attributes
    group by instance_id
),

horizon_windows as (
    select
        instance_id,
        'horizon' as window_kind,
        horizon_months,
        max(as_of) as evaluated_as_of
    from horizon_attributes
    where
        as_of + interval 1 day + {{ pcdp_months_interval('horizon_months') }}
        <= {{ pcdp_as_of_date() }} + interval 1 day
    group by instance_id, horizon_months
),

windows as (
    select
        *,
        cast(evaluated_as_of as timestamp) + interval 1 day as window_start,
        case
            when window_kind = 'elapsed'
                then cast({{ pcdp_as_of_date() }} as timestamp) + interval 1 day
            else
                cast(evaluated_as_of as timestamp)
                + interval 1 day
                + {{ pcdp_months_interval('horizon_months') }}
        end as window_end,
        -- the share of the horizon the window covers (1 for a matured horizon)
        least(
            1.0,
            {{ pcdp_date_diff_days('evaluated_as_of', pcdp_as_of_date()) }}
            / {{ pcdp_date_diff_days(
                'cast(evaluated_as_of + interval 1 day as date)',
                'cast(evaluated_as_of + interval 1 day + '
                ~ pcdp_months_interval('horizon_months') ~ ' as date)',
            ) }}
        ) as horizon_share,
        {{ pcdp_date_diff_days('evaluated_as_of', pcdp_as_of_date()) }} as elapsed_days
    from (
        select * from elapsed_windows
        union all
        select * from horizon_windows
    ) as all_windows
),

window_predictions as (
    select
        windows.instance_id,
        windows.window_kind,
        windows.horizon_months,
        predictions.customer_id,
        try_cast(predictions.value as double) * windows.horizon_share as expected
    from windows
    inner join horizon_attributes
        on
            windows.instance_id = horizon_attributes.instance_id
            and windows.horizon_months = horizon_attributes.horizon_months
            and windows.evaluated_as_of = horizon_attributes.as_of
    inner join predictions
        on
            horizon_attributes.instance_id = predictions.instance_id
            and horizon_attributes.as_of = predictions.as_of
            and horizon_attributes.attribute = predictions.attribute
    where try_cast(predictions.value as double) is not null
),

window_revenue as (
    select
        window_predictions.instance_id,
        window_predictions.window_kind,
        window_predictions.horizon_months,
        window_predictions.customer_id,
        coalesce(sum(customer_orders.amount_reporting), 0) as actual
    from window_predictions
    inner join windows
        on
            window_predictions.instance_id = windows.instance_id
            and window_predictions.window_kind = windows.window_kind
            and window_predictions.horizon_months = windows.horizon_months
    left join customer_orders
        on
            window_predictions.customer_id = customer_orders.customer_id
            and customer_orders.is_completed
            and windows.window_start <= customer_orders.ordered_at
            and windows.window_end > customer_orders.ordered_at
    group by
        window_predictions.instance_id,
        window_predictions.window_kind,
        window_predictions.horizon_months,
        window_predictions.customer_id
),

summary as (
    select
        window_predictions.instance_id,
        window_predictions.window_kind,
        window_predictions.horizon_months,
        sum(window_revenue.actual) as actual,
        sum(window_predictions.expected) as expected,
        avg(abs(window_revenue.actual - window_predictions.expected)) as mae
    from window_predictions
    inner join window_revenue
        on
            window_predictions.instance_id = window_revenue.instance_id
            and window_predictions.window_kind = window_revenue.window_kind
            and window_predictions.horizon_months = window_revenue.horizon_months
            and window_predictions.customer_id = window_revenue.customer_id
    group by
        window_predictions.instance_id,
        window_predictions.window_kind,
        window_predictions.horizon_months
),

named as (
    select
        summary.instance_id,
        summary.actual,
        summary.expected,
        summary.mae,
        windows.evaluated_as_of,
        windows.elapsed_days,
        case
            when summary.window_kind = 'elapsed' then ''
            else '_' || cast(summary.horizon_months as string) || 'm'
        end as metric_suffix,
        summary.window_kind
    from summary
    inner join windows
        on
            summary.instance_id = windows.instance_id
            and summary.window_kind = windows.window_kind
            and summary.horizon_months = windows.horizon_months
),

metrics as (
    select
        instance_id,
        'matured_as_of' || metric_suffix as metric,
        cast(null as double) as value,
        cast(evaluated_as_of as string) as value_text
    from named
    union all
    select
        instance_id,
        'matured_days' as metric,
        cast(elapsed_days as double) as value,
        cast(null as string) as value_text
    from named
    where window_kind = 'elapsed'
    union all
    select
        instance_id,
        'matured_revenue_actual' || metric_suffix as metric,
        actual as value,
        cast(null as string) as value_text
    from named
    union all
    select
        instance_id,
        case
            when window_kind = 'elapsed' then 'matured_revenue_expected'
            else 'matured_revenue_predicted' || metric_suffix
        end as metric,
        expected as value,
        cast(null as string) as value_text
    from named
    union all
    select
        instance_id,
        'matured_revenue_ratio' || metric_suffix as metric,
        actual / nullif(expected, 0) as value,
        cast(null as string) as value_text
    from named
    union all
    select
        instance_id,
        'matured_revenue_mae' || metric_suffix as metric,
        mae as value,
        cast(null as string) as value_text
    from named
    where window_kind = 'horizon'
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
