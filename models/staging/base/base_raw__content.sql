-- Every raw content page, with the reason it is quarantined (null when it is used).
with

source as (
    select * from {{ source('raw', 'content') }}
),

parsed as (
    select
        {{ pcdp_raw_record('source') }} as raw_record,
        {{ pcdp_text('page_url') }} as page_url,
        {{ pcdp_text('title') }} as title,
        {{ pcdp_text('description') }} as description,
        {{ pcdp_text('keywords') }} as keywords
    from source
),

checked as (
    select
        *,
        case when page_url is null then 'missing_required:page_url' end as row_problem
    from parsed
),

{{ pcdp_quarantine_ctes(['page_url'], 'title') }}

select * from final
