{{ config(
    materialized='incremental',
    unique_key=['as_of', 'instance_id'],
    partition_by=(['as_of', 'instance_id'] if target.type == 'spark' else none),
    pre_hook="{{ pcdp_clear_rerun_predictions() }}",
) }}
-- One row per customer, instance and attribute per as-of date. A rerun of an as-of date
-- replaces that date's rows of the instances that succeeded (delete+insert on as_of and
-- instance_id; the pre-hook also clears an instance that succeeded with no rows; on Spark,
-- whose Parquet tables cannot delete rows, the table is partitioned by both and the hook
-- drops partitions); an instance that failed keeps its earlier rows. value is JSON text;
-- value_type says how customer_profile types it.
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
