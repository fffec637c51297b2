{#
  The predictive attributes customer_profile publishes: (attribute, value_type) of every
  non-draft configured instance that has predictions. Read from the data at run time.
#}
{% macro pcdp_profile_attributes() %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set rows = run_query(
        'select distinct predictions.attribute, predictions.value_type from '
        ~ ref('predictions') ~ ' as predictions inner join ' ~ ref('int_model_instances')
        ~ " as instances on predictions.instance_id = instances.instance_id"
        ~ " where instances.configured_status != 'draft' order by 1"
    ).rows %}
    {% set attributes = [] %}
    {% for attribute, value_type in rows %}
        {% if modules.re.fullmatch('[a-z][a-z0-9_]*', attribute) %}
            {% do attributes.append({'name': attribute, 'value_type': value_type}) %}
        {% endif %}
    {% endfor %}
    {{ return(attributes) }}
{% endmacro %}
