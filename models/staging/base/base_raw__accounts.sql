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

{{ pcdp_quarantine_ctes(['user_id'], 'account_id') }}

select * from final
