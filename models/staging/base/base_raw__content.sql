-- Every raw content page, with the reason it is quarantined (null when it is used).
with

source as {{ pcdp_cte_not_materialized() }} (
    select * from {{ source('raw', 'content') }}
),

{{ pcdp_key_copies_ctes([pcdp_text('page_url')]) }}

parsed as (
    select
        raw_values,
        has_copies,
        {{ pcdp_text('page_url') }} as page_url,
        {{ pcdp_text('title') }} as title,
        {{ pcdp_text('description') }} as description,
        {{ pcdp_text('keywords') }} as keywords
    from flagged
),

checked as {{ pcdp_cte_not_materialized() }} (
    select
        *,
        case when page_url is null then 'missing_required:page_url' end as row_problem
    from parsed
),

{{ pcdp_quarantine_ctes(['page_url'], 'title') }}

select * from final
