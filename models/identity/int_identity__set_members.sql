-- One row per identifier per identifier set (unpivoted), the shape both nodes and edges need.
with

identifier_sets as (
    select
        *,
        row_number() over (
            order by anonymous_id, user_id, email, phone
        ) as identifier_set_id
    from {{ ref('int_identity__identifier_sets') }}
),

members as (
    {% for identifier_type in ['anonymous_id', 'user_id', 'email', 'phone'] %}
        select
            identifier_set_id,
            '{{ identifier_type }}' as identifier_type,
            {{ identifier_type }} as identifier_value,
            first_seen_at,
            last_seen_at
        from identifier_sets
        where {{ identifier_type }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select * from members
)

select * from final
