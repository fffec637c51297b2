-- One row per usable normalised identifier with the unified customer it belongs to. The
-- customer_id is derived from the component's earliest-seen identifier, so it stays the same
-- across runs unless that person's identifiers change. customer_key is the customer's rank in
-- customer_id order: a dense integer that the feature and interest aggregations group by, since
-- hashing and comparing a 20-character id costs them up to twice as much (it changes when
-- customers come or go, so it is only for joins inside one run). Guarded identifiers are not
-- here (see identity_guarded_identifiers).
with

components as (
    select * from {{ ref('int_identity__components') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

labelled as (
    select
        nodes.*,
        components.component_id
    from components
    inner join nodes on components.node_id = nodes.node_id
),

anchors as (
    select
        component_id,
        identifier_type as anchor_type,
        identifier_value as anchor_value
    from labelled
    qualify row_number() over (
        partition by component_id
        order by first_seen_at, identifier_type, identifier_value
    ) = 1
),

component_customers as (
    select
        component_id,
        'cus_' || left(md5(anchor_type || ':' || anchor_value), 16) as customer_id
    from anchors
),

-- dense_rank: two components whose ids collide are one customer, so they share the key too
keyed_customers as (
    select
        component_id,
        customer_id,
        dense_rank() over (order by customer_id) as customer_key
    from component_customers
),

final as (
    select
        labelled.identifier_type,
        labelled.identifier_value,
        keyed_customers.customer_id,
        keyed_customers.customer_key,
        labelled.first_seen_at,
        labelled.last_seen_at
    from labelled
    inner join keyed_customers on labelled.component_id = keyed_customers.component_id
)

select * from final
