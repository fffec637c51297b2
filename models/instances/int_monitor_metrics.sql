-- This run's monitoring metrics (score drift and matured backtests), for model_metrics.
with

score_drift as (
    select * from {{ ref('int_monitor__score_drift') }}
),

matured_action as (
    select * from {{ ref('int_monitor__matured_action') }}
),

matured_pcltv as (
    select * from {{ ref('int_monitor__matured_pcltv') }}
),

final as (
    select * from score_drift
    union all
    select * from matured_action
    union all
    select * from matured_pcltv
)

select * from final
