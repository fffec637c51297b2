-- Every raw identify call, normalised, with the reason it is quarantined (null when used).
with

source as (
    select * from {{ source('raw', 'identifies') }}
),

parsed as (
    select
        {{ pcdp_row_struct('source') }} as raw_values,
        {{ pcdp_text('anonymous_id') }} as anonymous_id,
        {{ pcdp_text('user_id') }} as user_id,
        {{ pcdp_email('email') }} as email,
        {{ pcdp_phone('phone') }} as phone,
        {{ pcdp_text('observed_at') }} as observed_at_text,
        {{ pcdp_timestamp('observed_at') }} as observed_at
    from source
),

checked as (
    select
        *,
        case
            when observed_at_text is null then 'missing_required:observed_at'
            when observed_at is null then 'unparseable:observed_at'
            when cast(observed_at as date) > {{ pcdp_latest_valid_date() }}
                then 'future_timestamp:observed_at'
            when
                anonymous_id is null and user_id is null and email is null and phone is null
                then 'no_identifier'
        end as row_problem
    from parsed
),

{{ pcdp_quarantine_ctes([], 'observed_at', ['observed_at_text']) }}

select * from final
