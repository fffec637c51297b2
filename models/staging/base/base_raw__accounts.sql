-- Every raw account membership, with the reason it is quarantined (null when it is used).
with

source as {{ pcdp_cte_not_materialized() }} (
    select * from {{ source('raw', 'accounts') }}
),

{{ pcdp_key_copies_ctes([pcdp_text('user_id')]) }}

parsed as (
    select
        raw_values,
        has_copies,
        {{ pcdp_text('user_id') }} as user_id,
        {{ pcdp_text('account_id') }} as account_id,
        {{ pcdp_text('account_name') }} as account_name
    from flagged
),

checked as {{ pcdp_cte_not_materialized() }} (
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
