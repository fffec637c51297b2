-- One row per used order attributed to a unified customer, amounts in the reporting currency.
with

orders as (
    select * from {{ ref('stg_raw__orders') }}
),

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

attributed as (
    select
        coalesce(
            by_user_id.customer_id, by_email.customer_id, by_anonymous_id.customer_id
        ) as customer_id,
        orders.order_id,
        orders.ordered_at,
        orders.status,
        orders.status = 'completed' as is_completed,
        orders.currency,
        orders.amount,
        orders.amount_reporting
    from orders
    left join customer_identifiers as by_user_id
        on
            by_user_id.identifier_type = 'user_id'
            and orders.user_id = by_user_id.identifier_value
    left join customer_identifiers as by_email
        on
            by_email.identifier_type = 'email'
            and orders.email = by_email.identifier_value
    left join customer_identifiers as by_anonymous_id
        on
            by_anonymous_id.identifier_type = 'anonymous_id'
            and orders.anonymous_id = by_anonymous_id.identifier_value
),

final as (
    select * from attributed
    where customer_id is not null
)

select * from final
