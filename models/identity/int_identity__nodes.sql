-- One row per distinct normalised identifier, with a dense integer id for graph work.
with

identifier_sets as (
    select * from {{ ref('int_identity__identifier_sets') }}
),

-- the sets unpivoted: one row per identifier of each set
members as (
    {% for identifier_type in pcdp_identifier_types() %}
        select
            '{{ identifier_type }}' as identifier_type,
            {{ identifier_type }} as identifier_value,
            first_seen_at,
            last_seen_at
        from identifier_sets
        where {{ identifier_type }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

identifiers as (
    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from members
    group by identifier_type, identifier_value
),

final as (
    select
        *,
        row_number() over (order by identifier_type, identifier_value) as node_id
    from identifiers
)

select * from final
