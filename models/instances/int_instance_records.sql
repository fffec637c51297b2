-- One row per record of this run's model instances: predictions, metrics and one status per
-- instance (instances whose configuration is invalid get an Error status here).
{% set outputs = [
    'instance_outputs__action_prediction',
    'instance_outputs__byom',
    'instance_outputs__interest',
    'instance_outputs__pcltv',
    'instance_outputs__rfm',
] %}
with

instances as (
    select * from {{ ref('int_model_instances') }}
),

{% for output in outputs %}
    {{ output }} as (
        select * from {{ ref(output) }}
    ),
{% endfor %}

configuration_errors as (
    select
        instance_id,
        'status' as record_type,
        cast(null as string) as customer_id,
        'status' as attribute,
        {{ pcdp_error_status_json() }} as value,
        'record' as value_type,
        config_error as message
    from instances
    where config_error is not null and configured_status = 'ready'
),

unioned as (
    select * from configuration_errors
    {% for output in outputs %}
        union all
        select * from {{ output }}
    {% endfor %}
),

final as (
    select
        *,
        {{ pcdp_run_id() }} as run_id,
        {{ pcdp_as_of_date() }} as as_of
    from unioned
)

select * from final
