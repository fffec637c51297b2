-- One row per used event attributed to a unified customer. Events whose only identifiers are
-- guarded (a shared kiosk device with nobody logged in) belong to nobody and are left out here;
-- they stay in stg_raw__events. Customers are named by their integer key (customers.customer_key),
-- which every reader groups and joins by. Neither the event id, the text customer id nor the
-- revenue is carried: nothing downstream reads them, and writing 50 M unique ids (then testing
-- them again) took a third of this model's time at 1 M, the text ids and revenue another 15 %.
with

events as (
    select * from {{ ref('stg_raw__events') }}
),

products as (
    select * from {{ ref('stg_raw__products') }}
),

attributed as (
    select
        {{ pcdp_attributed_customer('customer_key') }} as customer_key,
        events.event_name,
        events.occurred_at,
        events.product_id,
        coalesce(events.product_category, products.category) as product_category,
        events.page_url,
        events.properties
    from events
    {{ pcdp_customer_attribution_joins('events') }}
    left join products on events.product_id = products.product_id
),

final as (
    select * from attributed
    where customer_key is not null
)

select * from final
