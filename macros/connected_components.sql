{#
  CTE(s) ending in `components(node_id, component_id)`: each node labelled with the smallest
  node id in its connected component. `nodes_cte` has node_id; `edges_cte` has src_node_id and
  dst_node_id with both directions present. Used inside a WITH RECURSIVE list.
#}
{% macro pcdp_connected_components(nodes_cte, edges_cte) %}
    {{ return(adapter.dispatch('pcdp_connected_components', 'pcdp')(nodes_cte, edges_cte)) }}
{% endmacro %}


{#
  DuckDB: label propagation in one statement. USING KEY keeps one row per node and the
  recursive step only revisits nodes whose label just dropped, so the work is proportional to
  the changes, not to all paths.
#}
{% macro duckdb__pcdp_connected_components(nodes_cte, edges_cte) %}
components (node_id, component_id) using key (node_id) as (
    select
        {{ nodes_cte }}.node_id,
        least({{ nodes_cte }}.node_id, coalesce(min({{ edges_cte }}.dst_node_id), {{ nodes_cte }}.node_id))
            as component_id
    from {{ nodes_cte }}
    left join {{ edges_cte }} on {{ nodes_cte }}.node_id = {{ edges_cte }}.src_node_id
    group by {{ nodes_cte }}.node_id
    union
    select
        {{ edges_cte }}.dst_node_id as node_id,
        min(components.component_id) as component_id
    from components
    inner join {{ edges_cte }} on components.node_id = {{ edges_cte }}.src_node_id
    inner join recurring.components as known on {{ edges_cte }}.dst_node_id = known.node_id
    group by {{ edges_cte }}.dst_node_id
    having min(components.component_id) < min(known.component_id)
)
{% endmacro %}


{#
  Portable: a plain recursive walk collecting every (node, reachable label) pair, then the
  minimum. Correct on any warehouse with recursive CTEs, but its work grows with component size
  squared, so it suits modest graphs.
#}
{% macro default__pcdp_connected_components(nodes_cte, edges_cte) %}
component_walk (node_id, component_id) as (
    select
        node_id,
        node_id as component_id
    from {{ nodes_cte }}
    union
    select
        {{ edges_cte }}.dst_node_id as node_id,
        component_walk.component_id
    from component_walk
    inner join {{ edges_cte }} on component_walk.node_id = {{ edges_cte }}.src_node_id
),

components as (
    select
        node_id,
        min(component_id) as component_id
    from component_walk
    group by node_id
)
{% endmacro %}
