-- One row per used order attributed to a unified customer, amounts in the reporting currency.
with

orders as (
    select * from {{ ref('stg_raw__orders') }}
),

attributed as (
    select
        {{ pcdp_attributed_customer() }} as customer_id,
        {{ pcdp_attributed_customer('customer_key') }} as customer_key,
        orders.order_id,
        orders.ordered_at,
        orders.status,
        orders.status = 'completed' as is_completed,
        orders.currency,
        orders.amount,
        orders.amount_reporting
    from orders
    {{ pcdp_customer_attribution_joins('orders') }}
),

final as (
    select * from attributed
    where customer_id is not null
)

select * from final
