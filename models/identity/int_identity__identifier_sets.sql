-- One row per distinct combination of identifiers seen together on a row of identifies, events
-- or orders: the evidence that those identifiers belong to one person.
with

identifies as (
    select
        anonymous_id,
        user_id,
        email,
        phone,
        observed_at
    from {{ ref('stg_raw__identifies') }}
),

events as (
    select
        anonymous_id,
        user_id,
        email,
        cast(null as string) as phone,
        occurred_at as observed_at
    from {{ ref('stg_raw__events') }}
),

orders as (
    select
        anonymous_id,
        user_id,
        email,
        cast(null as string) as phone,
        ordered_at as observed_at
    from {{ ref('stg_raw__orders') }}
),

observations as (
    select * from identifies
    union all
    select * from events
    union all
    select * from orders
),

final as (
    select
        anonymous_id,
        user_id,
        email,
        phone,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at,
        count(*) as observation_count
    from observations
    group by anonymous_id, user_id, email, phone
)

select * from final
