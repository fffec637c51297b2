-- One row per usable normalised identifier with the unified customer it belongs to. The
-- customer_id is derived from the component's earliest-seen identifier, so it stays the same
-- across runs unless that person's identifiers change. Guarded identifiers are not here (see
-- identity_guarded_identifiers).
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

final as (
    select
        labelled.identifier_type,
        labelled.identifier_value,
        'cus_' || left(md5(anchors.anchor_type || ':' || anchors.anchor_value), 16)
            as customer_id,
        labelled.first_seen_at,
        labelled.last_seen_at
    from labelled
    inner join anchors on labelled.component_id = anchors.component_id
)

select * from final
