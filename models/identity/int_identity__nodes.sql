-- One row per distinct normalised identifier, with a dense integer id for graph work.
with

members as (
    select * from {{ ref('int_identity__set_members') }}
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
