-- One row per customer: point-in-time features as of the end of the run's as-of date.
with

cutoffs as (
    select {{ pcdp_feature_cutoff() }} as cutoff_at
),

customers as (
    select
        customer_id,
        customer_key
    from {{ ref('customers') }}
),

spine as (
    select
        customers.customer_id,
        customers.customer_key,
        cutoffs.cutoff_at
    from customers
    cross join cutoffs
),

features as (
    {{ pcdp_point_in_time_features('spine') }}
),

-- Sorted, so that the table's row order (which consumers may stream in) is the same every run.
final as (
    select {{ pcdp_star_except(['cutoff_at']) }} from features
    order by customer_id
)

select * from final
