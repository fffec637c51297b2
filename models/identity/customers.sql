-- One row per unified customer: when they were first and last seen and what identifies them.
with

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

final as (
    select
        customer_id,
        customer_key,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as identifier_count,
        count(*) filter (where identifier_type = 'anonymous_id') as anonymous_id_count,
        count(*) filter (where identifier_type = 'user_id') as user_id_count,
        count(*) filter (where identifier_type = 'email') as email_count,
        count(*) filter (where identifier_type = 'phone') as phone_count,
        bool_or(identifier_type in ('user_id', 'email', 'phone')) as is_known
    from customer_identifiers
    group by customer_id, customer_key
)

select * from final
