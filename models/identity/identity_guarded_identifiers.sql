-- One row per identifier that is not used to join people because it is linked to more distinct
-- user ids / emails than var identity_max_degree: a shared kiosk device, a shared or placeholder
-- email (null@example.com), a QA account logged in on many people's devices.
with

edges as (
    select * from {{ ref('int_identity__edges') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

-- Rule 1: identifiers seen on the same rows as too many user ids / emails.
direct_degrees as (
    select
        src_node_id as node_id,
        count(distinct dst_node_id) filter (
            where dst_type in ('user_id', 'email')
        ) as degree
    from edges
    group by src_node_id
),

direct_guarded as (
    select
        node_id,
        degree,
        'direct_links' as guard_rule
    from direct_degrees
    where degree > {{ var('identity_max_degree') }}
),

remaining_edges as (
    select edges.*
    from edges
    where
        edges.src_node_id not in (select direct_guarded.node_id from direct_guarded)
        and edges.dst_node_id not in (select direct_guarded.node_id from direct_guarded)
),

-- Rule 2: user ids / emails that share devices or phones with too many other user ids / emails
-- (a test account logged in on many people's devices).
shared_device_degrees as (
    select
        person_link.dst_node_id as node_id,
        count(distinct other_link.dst_node_id) as degree
    from remaining_edges as person_link
    inner join remaining_edges as other_link
        on
            person_link.src_node_id = other_link.src_node_id
            and person_link.dst_node_id != other_link.dst_node_id
    where
        person_link.src_type in ('anonymous_id', 'phone')
        and person_link.dst_type in ('user_id', 'email')
        and other_link.dst_type in ('user_id', 'email')
    group by person_link.dst_node_id
),

shared_device_guarded as (
    select
        node_id,
        degree,
        'shared_device_links' as guard_rule
    from shared_device_degrees
    where degree > {{ var('identity_max_degree') }}
),

guarded as (
    select * from direct_guarded
    union all
    select * from shared_device_guarded
),

final as (
    select
        nodes.identifier_type,
        nodes.identifier_value,
        guarded.node_id,
        guarded.degree,
        guarded.guard_rule,
        {{ var('identity_max_degree') }} as degree_limit,
        nodes.first_seen_at,
        nodes.last_seen_at
    from guarded
    inner join nodes on guarded.node_id = nodes.node_id
)

select * from final
