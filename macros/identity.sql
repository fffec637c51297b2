{#
  The identifier columns the identity graph links, in the order its sets list them (see
  int_identity__identifier_sets).
#}
{% macro pcdp_identifier_types() %}
    {{ return(['anonymous_id', 'user_id', 'email', 'phone']) }}
{% endmacro %}
