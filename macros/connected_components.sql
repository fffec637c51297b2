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


{#
  Spark (and any warehouse without an efficient recursive CTE): label propagation unrolled into
  var identity_propagation_rounds rounds (default 16). Each round gives every node the smallest
  label among itself and its neighbours, reading the previous round once (the edges get a self
  loop per node), so the plan grows linearly with the rounds. A component whose diameter
  exceeds the rounds would keep two labels: the data test pcdp_components_converged on
  int_identity__components (every usable link joins nodes of one component) fails the build then,
  and the var must be raised.
#}
{% macro spark__pcdp_connected_components(nodes_cte, edges_cte) %}
    {% set rounds = var('identity_propagation_rounds') | int %}
components_links as (
    select
        src_node_id,
        dst_node_id
    from {{ edges_cte }}
    union all
    select
        node_id as src_node_id,
        node_id as dst_node_id
    from {{ nodes_cte }}
),

components_round_0 as (
    select
        node_id,
        node_id as component_id
    from {{ nodes_cte }}
),
    {% for round in range(1, rounds + 1) %}

components_round_{{ round }} as (
    select
        components_links.dst_node_id as node_id,
        min(components_round_{{ round - 1 }}.component_id) as component_id
    from components_round_{{ round - 1 }}
    inner join components_links
        on components_round_{{ round - 1 }}.node_id = components_links.src_node_id
    group by components_links.dst_node_id
),
    {% endfor %}

components as (
    select
        node_id,
        component_id
    from components_round_{{ rounds }}
)
{% endmacro %}


{#
  Convergence of connected components: rows are usable links (both ends labelled in `model`)
  whose ends carry different component ids. Empty when every component has one label.
#}
{% test pcdp_components_converged(model, edges) %}
    select
        edges.src_node_id,
        edges.dst_node_id,
        source_component.component_id as src_component_id,
        target_component.component_id as dst_component_id
    from {{ edges }} as edges
    inner join {{ model }} as source_component
        on edges.src_node_id = source_component.node_id
    inner join {{ model }} as target_component
        on edges.dst_node_id = target_component.node_id
    where source_component.component_id != target_component.component_id
{% endtest %}
