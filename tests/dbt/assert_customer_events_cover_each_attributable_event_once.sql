-- int_customer_events holds each used event attributed to somebody exactly once: as many rows
-- as stg_raw__events has events with at least one identifier that is not guarded (every
-- identifier of a used event is in the identity graph, and only guarded ones belong to
-- nobody). A fan-out in its joins adds rows, a lost event removes one. This stands in for a
-- unique test on an event id that int_customer_events does not carry.
with

events as (
    select * from {{ ref('stg_raw__events') }}
),

guarded as (
    select * from {{ ref('identity_guarded_identifiers') }}
),

attributable_events as (
    select count(*) as expected_rows
    from events
    where not (
        {% for identifier_type in pcdp_attribution_identifier_types() %}
            (
                events.{{ identifier_type }} is null
                or events.{{ identifier_type }} in (
                    select guarded.identifier_value
                    from guarded
                    where guarded.identifier_type = '{{ identifier_type }}'
                )
            )
            {% if not loop.last %}and{% endif %}
        {% endfor %}
    )
),

customer_events as (
    select count(*) as actual_rows from {{ ref('int_customer_events') }}
),

final as (
    select
        attributable_events.expected_rows,
        customer_events.actual_rows
    from attributable_events
    cross join customer_events
    where attributable_events.expected_rows != customer_events.actual_rows
)

select * from final
