{{ config(materialized='table') }}
-- The monitoring checks of this run, one row per instance and checked metric; `passed` is
-- false beyond the limits set by vars (dbt tests on this model warn about those rows):
-- * score_drift: psi_<attribute> <= monitor_max_psi [0.25];
-- * matured_precision: realised precision >= monitor_min_precision_ratio [0.8] x the
--   precision the instance expected when it scored (precision_at_threshold, else
--   precision_target, of the run that wrote the matured predictions);
-- * matured_auc: realised AUC >= that run's roc_auc - monitor_max_auc_drop [0.1];
-- * matured_revenue: |actual / predicted revenue - 1| <= monitor_max_revenue_error [0.5].
with

model_metrics as (
    select * from {{ ref('model_metrics') }}
),

predictions as (
    select * from {{ ref('predictions') }}
),

run_metrics as (
    select * from model_metrics
    where run_id = {{ pcdp_run_id() }}
),

-- the run that wrote the predictions each matured metric evaluates
matured_runs as (
    select
        run_metrics.instance_id,
        max(predictions.run_id) as scoring_run_id
    from run_metrics
    inner join predictions
        on
            run_metrics.instance_id = predictions.instance_id
            and cast(predictions.as_of as string) = run_metrics.value_text
    where run_metrics.metric = 'matured_as_of'
    group by run_metrics.instance_id
),

claimed as (
    select
        matured_runs.instance_id,
        coalesce(
            max(model_metrics.value) filter (where model_metrics.metric = 'precision_at_threshold'),
            max(model_metrics.value) filter (where model_metrics.metric = 'precision_target')
        ) as expected_precision,
        max(model_metrics.value) filter (where model_metrics.metric = 'roc_auc') as expected_auc
    from matured_runs
    inner join model_metrics
        on
            matured_runs.instance_id = model_metrics.instance_id
            and matured_runs.scoring_run_id = model_metrics.run_id
    group by matured_runs.instance_id
),

drift_checks as (
    select
        instance_id,
        'score_drift' as check_name,
        metric,
        value,
        cast(null as double) as expected,
        cast({{ var('monitor_max_psi', 0.25) }} as double) as limit_value,
        value <= {{ var('monitor_max_psi', 0.25) }} as passed
    from run_metrics
    where left(metric, 4) = 'psi_' and metric != 'psi_max' and value is not null
),

precision_checks as (
    select
        run_metrics.instance_id,
        'matured_precision' as check_name,
        run_metrics.metric,
        run_metrics.value,
        claimed.expected_precision as expected,
        {{ var('monitor_min_precision_ratio', 0.8) }} * claimed.expected_precision
            as limit_value,
        run_metrics.value
        >= {{ var('monitor_min_precision_ratio', 0.8) }} * claimed.expected_precision as passed
    from run_metrics
    inner join claimed on run_metrics.instance_id = claimed.instance_id
    where
        run_metrics.metric = 'matured_precision'
        and run_metrics.value is not null
        and claimed.expected_precision is not null
),

auc_checks as (
    select
        run_metrics.instance_id,
        'matured_auc' as check_name,
        run_metrics.metric,
        run_metrics.value,
        claimed.expected_auc as expected,
        claimed.expected_auc - {{ var('monitor_max_auc_drop', 0.1) }} as limit_value,
        run_metrics.value
        >= claimed.expected_auc - {{ var('monitor_max_auc_drop', 0.1) }} as passed
    from run_metrics
    inner join claimed on run_metrics.instance_id = claimed.instance_id
    where
        run_metrics.metric = 'matured_auc'
        and run_metrics.value is not null
        and claimed.expected_auc is not null
),

revenue_checks as (
    select
        instance_id,
        'matured_revenue' as check_name,
        metric,
        value,
        1.0 as expected,
        cast({{ var('monitor_max_revenue_error', 0.5) }} as double) as limit_value,
        abs(value - 1) <= {{ var('monitor_max_revenue_error', 0.5) }} as passed
    from run_metrics
    where left(metric, 21) = 'matured_revenue_ratio' and value is not null
),

checks as (
    select * from drift_checks
    union all
    select * from precision_checks
    union all
    select * from auc_checks
    union all
    select * from revenue_checks
),

final as (
    select
        {{ pcdp_run_id() }} as run_id,
        instance_id,
        {{ pcdp_as_of_date() }} as as_of,
        check_name,
        metric,
        value,
        expected,
        limit_value,
        passed,
        case
            when passed then 'ok'
            when check_name = 'score_drift'
                then printf('%s = %.3f is above monitor_max_psi %.3f', metric, value, limit_value)
            when check_name = 'matured_revenue'
                then printf(
                    '%s = %.3f is off by more than monitor_max_revenue_error %.3f',
                    metric,
                    value,
                    limit_value
                )
            else printf(
                '%s = %.3f is below %.3f (expected %.3f when scored)',
                metric,
                value,
                limit_value,
                expected
            )
        end as message
    from checks
)

select * from final
