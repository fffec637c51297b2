-- One row per ordered pair of identifiers seen together (both directions present).
{% set type_pairs = [] %}
{% for source_type in pcdp_identifier_types() %}
    {% for target_type in pcdp_identifier_types() if target_type != source_type %}
        {% do type_pairs.append((source_type, target_type)) %}
    {% endfor %}
{% endfor %}
with

identifier_sets as (
    select * from {{ ref('int_identity__identifier_sets') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

-- every ordered pair of identifiers of one set, read from the set's columns (no set ids)
pairs as (
    {% for source_type, target_type in type_pairs %}
        select
            '{{ source_type }}' as src_type,
            {{ source_type }} as src_value,
            '{{ target_type }}' as dst_type,
            {{ target_type }} as dst_value
        from identifier_sets
        where {{ source_type }} is not null and {{ target_type }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select distinct
        source_nodes.node_id as src_node_id,
        pairs.src_type,
        target_nodes.node_id as dst_node_id,
        pairs.dst_type
    from pairs
    inner join nodes as source_nodes
        on
            pairs.src_type = source_nodes.identifier_type
            and pairs.src_value = source_nodes.identifier_value
    inner join nodes as target_nodes
        on
            pairs.dst_type = target_nodes.identifier_type
            and pairs.dst_value = target_nodes.identifier_value
)

select * from final
