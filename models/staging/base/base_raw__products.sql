-- Every raw product, with the reason it is quarantined (null when it is used).
with

source as {{ pcdp_cte_not_materialized() }} (
    select * from {{ source('raw', 'products') }}
),

{{ pcdp_key_copies_ctes([pcdp_text('product_id')]) }}

parsed as (
    select
        raw_values,
        has_copies,
        {{ pcdp_text('product_id') }} as product_id,
        {{ pcdp_text('product_name') }} as product_name,
        {{ pcdp_text('category') }} as category
    from flagged
),

checked as {{ pcdp_cte_not_materialized() }} (
    select
        *,
        case when product_id is null then 'missing_required:product_id' end as row_problem
    from parsed
),

{{ pcdp_quarantine_ctes(['product_id'], 'product_name') }}

select * from final
