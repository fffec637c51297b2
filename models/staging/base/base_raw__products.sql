-- Every raw product, with the reason it is quarantined (null when it is used).
with

source as (
    select * from {{ source('raw', 'products') }}
),

parsed as (
    select
        {{ pcdp_raw_record('source') }} as raw_record,
        {{ pcdp_text('product_id') }} as product_id,
        {{ pcdp_text('product_name') }} as product_name,
        {{ pcdp_text('category') }} as category
    from source
),

checked as (
    select
        *,
        case when product_id is null then 'missing_required:product_id' end as row_problem
    from parsed
),

ranked as (
    select
        *,
        {{ pcdp_key_occurrence(['product_id'], 'product_name') }} as key_occurrence
    from checked
),

classified as (
    select
        *,
        coalesce(
            row_problem,
            case when key_occurrence > 1 then 'duplicate_key:product_id' end
        ) as quarantine_reason
    from ranked
),

final as (
    select
        * exclude (raw_record, row_problem, key_occurrence),
        case when quarantine_reason is not null then raw_record end as raw_record
    from classified
)

select * from final
