-- The orders rows that pass every contract check (the rest are in quarantine).
with

source as (
    select * from {{ ref('base_raw__orders') }}
),

renamed as (
    select {{ pcdp_star_except(['quarantine_reason', 'raw_record']) }}
    from source
    where quarantine_reason is null
)

select * from renamed
