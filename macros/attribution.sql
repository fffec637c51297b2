{#
  Left joins that attribute a row of `relation_alias` (with user_id, email, anonymous_id) to a
  unified customer: by user id, then email, then anonymous id. Use with
  pcdp_attributed_customer() (customer_id) and pcdp_attributed_customer('customer_key') in the
  select list.
#}
{% macro pcdp_customer_attribution_joins(relation_alias) %}
    {% for identifier_type in pcdp_attribution_identifier_types() %}
        left join {{ ref('customer_identifiers') }} as by_{{ identifier_type }}
            on
                by_{{ identifier_type }}.identifier_type = '{{ identifier_type }}'
                and {{ relation_alias }}.{{ identifier_type }}
                = by_{{ identifier_type }}.identifier_value
    {% endfor %}
{% endmacro %}


{% macro pcdp_attributed_customer(column='customer_id') %}
    {%- set candidates = [] %}
    {%- for identifier_type in pcdp_attribution_identifier_types() %}
        {%- do candidates.append('by_' ~ identifier_type ~ '.' ~ column) %}
    {%- endfor %}
    coalesce({{ candidates | join(', ') }})
{%- endmacro %}


{# The identifiers a row is attributed by, in order of precedence. #}
{% macro pcdp_attribution_identifier_types() %}
    {{ return(['user_id', 'email', 'anonymous_id']) }}
{% endmacro %}
