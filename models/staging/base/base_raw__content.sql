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

ranked as (
    select
        *,
        {{ pcdp_key_occurrence(['page_url'], 'title') }} as key_occurrence
    from checked
),

classified as (
    select
        *,
        coalesce(
            row_problem,
            case when key_occurrence > 1 then 'duplicate_key:page_url' end
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
