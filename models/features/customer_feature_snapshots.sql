-- One row per customer and training cutoff: the same point-in-time features as
-- customer_features, at var training_cutoff_count earlier cutoffs spaced
-- var training_cutoff_step_days apart before the as-of cutoff, for customers first seen before
-- each cutoff. Model instances train on these and take labels from after each cutoff.
-- Training needs a sample, not everybody: with more customers than var
-- training_max_customers (0 = no limit), the snapshots hold that many, chosen by the md5 of
-- customer_id, so the same customers are chosen every run (1 M customers without the limit:
-- 4.3 M labelled rows per instance for a training budget of 100 k rows).
-- Built after customer_features (the line below): the two are the largest models of a run and,
-- built side by side under one DuckDB memory limit, both spill to disk (1 M customers:
-- customer_features 62 s alone, 483 s next to this model).
-- depends_on: {{ ref('customer_features') }}
-- On DuckDB it is also built after the interest instances (which are built after
-- customer_features): each of the three takes most of DuckDB's memory limit, and side by side
-- the snapshots spilled (1 M customers: the three one after another 44-52 s, side by side
-- 52-57 s, and up to 72 s when the snapshots spilled 1.6 GB). Where Python models do not run
-- (dbt-spark) the interest node is not built, so there is no such edge.
{% if target.type == 'duckdb' %}
-- depends_on: {{ ref('instance_outputs__interest') }}
{% endif %}
{% set max_customers = pcdp_whole_number_var('training_max_customers') %}
with

as_of_cutoff as (
    select {{ pcdp_feature_cutoff() }} as cutoff_at
),

cutoffs as (
    select
        {{ pcdp_add_days(
            '-1 * cutoff_numbers.cutoff_number * ' ~ pcdp_whole_number_var('training_cutoff_step_days'),
            'as_of_cutoff.cutoff_at'
        ) }} as cutoff_at
    from as_of_cutoff
    cross join
        range(1, {{ pcdp_whole_number_var('training_cutoff_count') + 1 }})
            -- Used inside pcdp_add_days, which the linter renders as null.
            as cutoff_numbers (cutoff_number)  -- noqa: AL05
),

customers as (
    select * from {{ ref('customers') }}
),

training_customers as (
    select
        customer_id,
        customer_key,
        first_seen_at
    from customers
    {% if max_customers > 0 %}
        order by md5(customer_id), customer_id
        limit {{ max_customers }}
    {% endif %}
),

spine as (
    select
        training_customers.customer_id,
        training_customers.customer_key,
        cutoffs.cutoff_at
    from training_customers
    inner join cutoffs on training_customers.first_seen_at < cutoffs.cutoff_at
),

features as (
    {{ pcdp_point_in_time_features('spine', 'training_customers') }}
),

-- Not sorted: the action instances sample and order their training rows themselves, and at
-- 1 M customers a sort held the whole result beside the aggregation (under DuckDB's 2 GB
-- limit it spilled 1.1-1.2 GB: 15.1 s instead of 8.5 s alone).
final as (
    select * from features
)

select * from final
