-- For every raw dataset: rows read = rows used + rows quarantined (contract: bad rows).
{% set datasets = [
    'events', 'identifies', 'orders', 'products', 'content', 'accounts', 'fx_rates',
] %}
with

{% for dataset in datasets %}
    {{ dataset }}_counts as (
        select
            '{{ dataset }}' as dataset,
            (select count(*) from {{ source('raw', dataset) }}) as rows_read,
            (select count(*) from {{ ref('stg_raw__' ~ dataset) }}) as rows_used,
            (
                select count(*) from {{ ref('quarantine') }}
                where dataset = '{{ dataset }}'
            ) as rows_quarantined
    ),
{% endfor %}

counts as (
    {% for dataset in datasets %}
        select * from {{ dataset }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from counts
where rows_read != rows_used + rows_quarantined
