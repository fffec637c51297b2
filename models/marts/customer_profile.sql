-- One row per unified customer: who they are, their headline features as of the run, and the
-- predictive attributes of every model instance.
with

customers as (
    select * from {{ ref('customers') }}
),

customer_features as (
    select * from {{ ref('customer_features') }}
),

final as (
    select
        customers.customer_id,
        customers.first_seen_at,
        customers.last_seen_at,
        customers.is_known,
        customers.identifier_count,
        customer_features.recency_days,
        customer_features.frequency,
        customer_features.monetary,
        customer_features.tenure_days,
        customer_features.days_since_last_event,
        customer_features.events_30d,
        customer_features.events_90d
    from customers
    left join customer_features on customers.customer_id = customer_features.customer_id
)

select * from final
