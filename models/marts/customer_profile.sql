-- One row per unified customer: identity summary, headline features and every predictive
-- attribute of the configured model instances, from each instance's latest successful run
-- up to this as-of date (an instance that failed tonight keeps its last good values).
-- Built after customer_interest_affinities (the line below), the other large reader of this
-- night's predictions: side by side under one DuckDB memory limit the two took 26 s at 1 M
-- customers, one after the other 19 s.
-- depends_on: {{ ref('customer_interest_affinities') }}
{% set attributes = pcdp_profile_attributes() %}
{% set scalar_types = ('number', 'integer', 'boolean') %}
with

customers as (
    select * from {{ ref('customers') }}
),

customer_features as (
    select * from {{ ref('customer_features') }}
),

-- Not materialized: each text attribute below reads its own rows from the table.
predictions as {{ pcdp_cte_not_materialized() }} (
    select * from {{ ref('predictions') }}
),

instances as (
    select * from {{ ref('int_model_instances') }}
),

latest_as_of as (
    select
        instance_id,
        max(as_of) as as_of
    from predictions
    where as_of <= {{ pcdp_as_of_date() }}
    group by instance_id
),

current_predictions as {{ pcdp_cte_not_materialized() }} (
    select predictions.*
    from predictions
    inner join latest_as_of
        on
            predictions.instance_id = latest_as_of.instance_id
            and predictions.as_of = latest_as_of.as_of
    inner join instances on predictions.instance_id = instances.instance_id
    where instances.configured_status != 'draft'
),

-- Numbers and booleans are typed, then pivoted by one aggregation; text values (strings,
-- label lists, affinity records) are joined one attribute at a time instead: carried through
-- the aggregation they made its state large enough to spill (1 M customers: 24 s of CPU).
attributes as (
    select
        customer_id,
        {% for attribute in attributes if attribute.value_type in scalar_types %}
            max(case
                when attribute = '{{ attribute.name }}'
                    then {{ pcdp_typed_value('value', attribute.value_type) }}
            end) as {{ attribute.name }},
        {% endfor %}
        count(*) as predictive_attribute_count
    from current_predictions
    group by customer_id
),

{% for attribute in attributes if attribute.value_type not in scalar_types %}
    values__{{ attribute.name }} as (
        select
            customer_id,
            {{ pcdp_typed_value('value', attribute.value_type) }} as {{ attribute.name }}
        from current_predictions
        where attribute = '{{ attribute.name }}'
    ),

{% endfor %}
final as (
    select
        customers.customer_id,
        customers.first_seen_at,
        customers.last_seen_at,
        customers.is_known,
        customers.identifier_count,
        customer_features.recency_days,
        customer_features.frequency,
        customer_features.monetary,
        customer_features.tenure_days,
        customer_features.days_since_last_event,
        customer_features.events_30d,
        customer_features.events_90d,
        {% for attribute in attributes %}
            {% if attribute.value_type in scalar_types %}
                attributes.{{ attribute.name }},
            {% else %}
                values__{{ attribute.name }}.{{ attribute.name }},
            {% endif %}
        {% endfor %}
        coalesce(attributes.predictive_attribute_count, 0) as predictive_attribute_count
    from customers
    left join customer_features on customers.customer_id = customer_features.customer_id
    left join attributes on customers.customer_id = attributes.customer_id
    {% for attribute in attributes if attribute.value_type not in scalar_types %}
        left join values__{{ attribute.name }}
            on customers.customer_id = values__{{ attribute.name }}.customer_id
    {% endfor %}
)

select * from final
