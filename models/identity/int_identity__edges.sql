-- One row per ordered pair of identifiers seen together (both directions present).
with

members as (
    select * from {{ ref('int_identity__set_members') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

member_nodes as (
    select
        members.identifier_set_id,
        nodes.node_id,
        nodes.identifier_type
    from members
    inner join nodes
        on
            members.identifier_type = nodes.identifier_type
            and members.identifier_value = nodes.identifier_value
),

final as (
    select distinct
        source_member.node_id as src_node_id,
        source_member.identifier_type as src_type,
        target_member.node_id as dst_node_id,
        target_member.identifier_type as dst_type
    from member_nodes as source_member
    inner join member_nodes as target_member
        on
            source_member.identifier_set_id = target_member.identifier_set_id
            and source_member.node_id != target_member.node_id
)

select * from final
