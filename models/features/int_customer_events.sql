-- One row per used event attributed to a unified customer. Events whose only identifiers are
-- guarded (a shared kiosk device with nobody logged in) belong to nobody and are left out here;
-- they stay in stg_raw__events.
with

events as (
    select * from {{ ref('stg_raw__events') }}
),

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

products as (
    select * from {{ ref('stg_raw__products') }}
),

attributed as (
    select
        coalesce(
            by_user_id.customer_id, by_email.customer_id, by_anonymous_id.customer_id
        ) as customer_id,
        events.event_id,
        events.event_name,
        events.occurred_at,
        events.product_id,
        coalesce(events.product_category, products.category) as product_category,
        events.page_url,
        events.revenue,
        events.properties
    from events
    left join customer_identifiers as by_user_id
        on
            by_user_id.identifier_type = 'user_id'
            and events.user_id = by_user_id.identifier_value
    left join customer_identifiers as by_email
        on
            by_email.identifier_type = 'email'
            and events.email = by_email.identifier_value
    left join customer_identifiers as by_anonymous_id
        on
            by_anonymous_id.identifier_type = 'anonymous_id'
            and events.anonymous_id = by_anonymous_id.identifier_value
    left join products on events.product_id = products.product_id
),

final as (
    select * from attributed
    where customer_id is not null
)

select * from final
