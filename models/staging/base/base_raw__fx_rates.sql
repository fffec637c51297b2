-- Every raw exchange rate, parsed, with the reason it is quarantined (null when used).
with

source as {{ pcdp_cte_not_materialized() }} (
    select * from {{ source('raw', 'fx_rates') }}
),

{{ pcdp_key_copies_ctes(['upper(' ~ pcdp_text('currency') ~ ')', pcdp_date('rate_date')]) }}

parsed as (
    select
        raw_values,
        has_copies,
        upper({{ pcdp_text('currency') }}) as currency,
        {{ pcdp_text('rate_date') }} as rate_date_text,
        {{ pcdp_date('rate_date') }} as rate_date,
        {{ pcdp_text('rate_to_reporting') }} as rate_text,
        try_cast({{ pcdp_text('rate_to_reporting') }} as double) as rate_to_reporting
    from flagged
),

checked as {{ pcdp_cte_not_materialized() }} (
    select
        *,
        case
            when currency is null then 'missing_required:currency'
            when rate_date_text is null then 'missing_required:rate_date'
            when rate_date is null then 'unparseable:rate_date'
            when rate_text is null then 'missing_required:rate_to_reporting'
            when rate_to_reporting is null then 'unparseable:rate_to_reporting'
            when rate_to_reporting <= 0 then 'non_positive_rate'
        end as row_problem
    from parsed
),

{{ pcdp_quarantine_ctes(
    ['currency', 'rate_date'], 'rate_to_reporting', ['rate_date_text', 'rate_text']
) }}

select * from final
