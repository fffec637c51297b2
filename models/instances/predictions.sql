{{ config(
    materialized='incremental',
    unique_key=['as_of', 'instance_id'],
    pre_hook=(
        "{% if is_incremental() %} delete from {{ this }} where as_of = {{ pcdp_as_of_date() }}"
        ~ " and instance_id in (select instance_id from {{ ref('int_instance_records') }}"
        ~ " where record_type = 'status'"
        ~ " and {{ pcdp_json_text('value', '$.status') }} = 'Complete') {% endif %}"
    )
) }}
-- One row per customer, instance and attribute per as-of date. A rerun of an as-of date
-- replaces that date's rows of the instances that succeeded (delete+insert on as_of and
-- instance_id; the pre-hook also clears an instance that succeeded with no rows); an
-- instance that failed keeps its earlier rows. value is JSON text; value_type says how
-- customer_profile types it.
with

records as (
    select * from {{ ref('int_instance_records') }}
),

final as (
    select
        customer_id,
        instance_id,
        attribute,
        value,
        value_type,
        run_id,
        as_of
    from records
    where record_type = 'prediction'
)

select * from final
