-- One row per customer and training cutoff: the same point-in-time features as
-- customer_features, at var training_cutoff_count earlier cutoffs spaced
-- var training_cutoff_step_days apart before the as-of cutoff, for customers first seen before
-- each cutoff. Model instances train on these and take labels from after each cutoff.
with

as_of_cutoff as (
    select {{ pcdp_feature_cutoff() }} as cutoff_at
),

cutoffs as (
    select
        {{ dbt.dateadd(
            'day',
            '-1 * cutoff_numbers.cutoff_number * ' ~ (var('training_cutoff_step_days') | int),
            'as_of_cutoff.cutoff_at'
        ) }} as cutoff_at
    from as_of_cutoff
    cross join
        range(1, {{ (var('training_cutoff_count') | int) + 1 }})
            as cutoff_numbers (cutoff_number)
),

customers as (
    select * from {{ ref('customers') }}
),

spine as (
    select
        customers.customer_id,
        cutoffs.cutoff_at
    from customers
    inner join cutoffs on customers.first_seen_at < cutoffs.cutoff_at
),

features as (
    {{ pcdp_point_in_time_features('spine') }}
),

-- Sorted, so that the table's row order (which consumers may stream in) is the same every run.
final as (
    select * from features
    order by cutoff_at, customer_id
)

select * from final
