-- Every raw account membership, with the reason it is quarantined (null when it is used).
with

source as (
    select * from {{ source('raw', 'accounts') }}
),

parsed as (
    select
        {{ pcdp_raw_record('source') }} as raw_record,
        {{ pcdp_text('user_id') }} as user_id,
        {{ pcdp_text('account_id') }} as account_id,
        {{ pcdp_text('account_name') }} as account_name
    from source
),

checked as (
    select
        *,
        case
            when user_id is null then 'missing_required:user_id'
            when account_id is null then 'missing_required:account_id'
        end as row_problem
    from parsed
),

ranked as (
    select
        *,
        {{ pcdp_key_occurrence(['user_id'], 'account_id') }} as key_occurrence
    from checked
),

classified as (
    select
        *,
        coalesce(
            row_problem,
            case when key_occurrence > 1 then 'duplicate_key:user_id' end
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
