-- noqa: disable=PRS
-- One row per usable identifier with the connected component it belongs to (the smallest node id
-- reachable from it), over links that avoid guarded identifiers.
with recursive

guarded as (
    select node_id from {{ ref('identity_guarded_identifiers') }}
),

linkable_nodes as (
    select node_id
    from {{ ref('int_identity__nodes') }}
    where node_id not in (select guarded.node_id from guarded)
),

linkable_edges as (
    select
        src_node_id,
        dst_node_id
    from {{ ref('int_identity__edges') }}
    where
        src_node_id not in (select guarded.node_id from guarded)
        and dst_node_id not in (select guarded.node_id from guarded)
),

{{ pcdp_connected_components('linkable_nodes', 'linkable_edges') }}

select
    node_id,
    component_id
from components
