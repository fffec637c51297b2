-- Every link between two usable identifiers stays inside one customer.
with

edges as (
    select * from {{ ref('int_identity__edges') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

node_customers as (
    select
        nodes.node_id,
        customer_identifiers.customer_id
    from nodes
    inner join customer_identifiers
        on
            nodes.identifier_type = customer_identifiers.identifier_type
            and nodes.identifier_value = customer_identifiers.identifier_value
)

select
    edges.src_node_id,
    edges.dst_node_id,
    source_customer.customer_id as src_customer_id,
    target_customer.customer_id as dst_customer_id
from edges
inner join node_customers as source_customer on edges.src_node_id = source_customer.node_id
inner join node_customers as target_customer on edges.dst_node_id = target_customer.node_id
where source_customer.customer_id != target_customer.customer_id
