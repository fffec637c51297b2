-- One row per rejected raw row: its dataset, why it was rejected, its key where it has one, and
-- its original values as JSON text.
{% set dataset_keys = {
    'events': 'event_id',
    'identifies': 'cast(null as string)',
    'orders': 'order_id',
    'products': 'product_id',
    'content': 'page_url',
    'accounts': 'user_id',
    'fx_rates': "currency || ' ' || cast(rate_date as string)",
} %}
with

{% for dataset, key in dataset_keys.items() %}
    {{ dataset }} as (
        select
            '{{ dataset }}' as dataset,
            quarantine_reason as reason,
            {{ key }} as record_key,
            raw_record as raw
        from {{ ref('base_raw__' ~ dataset) }}
        where quarantine_reason is not null
    ),
{% endfor %}

final as (
    {% for dataset in dataset_keys %}
        select * from {{ dataset }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
