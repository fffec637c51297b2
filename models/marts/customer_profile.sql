-- One row per unified customer: identity summary, headline features and every predictive
-- attribute of the configured model instances, from each instance's latest successful run
-- up to this as-of date (an instance that failed tonight keeps its last good values).
{% set attributes = pcdp_profile_attributes() %}
with

customers as (
    select * from {{ ref('customers') }}
),

customer_features as (
    select * from {{ ref('customer_features') }}
),

predictions as (
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

current_predictions as (
    select predictions.*
    from predictions
    inner join latest_as_of
        on
            predictions.instance_id = latest_as_of.instance_id
            and predictions.as_of = latest_as_of.as_of
    inner join instances on predictions.instance_id = instances.instance_id
    where instances.configured_status != 'draft'
),

attributes as (
    select
        customer_id,
        -- Numbers and booleans are typed before they are aggregated (only the attribute's own
        -- rows are cast): an aggregate over numbers is cheaper than one over text.
        {% for attribute in attributes %}
            {% set selected = "attribute = '" ~ attribute.name ~ "'" %}
            {% if attribute.value_type in ('number', 'integer', 'boolean') %}
                max(case
                    when {{ selected }}
                        then {{ pcdp_typed_value('value', attribute.value_type) }}
                end)
            {% else %}
                {{ pcdp_typed_value(
                    'max(value) filter (where ' ~ selected ~ ')', attribute.value_type
                ) }}
            {% endif %} as {{ attribute.name }},
        {% endfor %}
        count(*) as predictive_attribute_count
    from current_predictions
    group by customer_id
),

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
            attributes.{{ attribute.name }},
        {% endfor %}
        coalesce(attributes.predictive_attribute_count, 0) as predictive_attribute_count
    from customers
    left join customer_features on customers.customer_id = customer_features.customer_id
    left join attributes on customers.customer_id = attributes.customer_id
)

select * from final
