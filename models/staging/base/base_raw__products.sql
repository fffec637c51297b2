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

{{ pcdp_quarantine_ctes(['product_id'], 'product_name') }}

select * from final
