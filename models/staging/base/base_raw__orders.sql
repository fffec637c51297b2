-- Every raw order, parsed and converted to the reporting currency, with the reason it is
-- quarantined (null when it is used).
with

source as {{ pcdp_cte_not_materialized() }} (
    select * from {{ source('raw', 'orders') }}
),

fx_rates as (
    select * from {{ ref('stg_raw__fx_rates') }}
),

{{ pcdp_key_copies_ctes([pcdp_text('order_id')]) }}

parsed as (
    select
        raw_values,
        has_copies,
        {{ pcdp_text('order_id') }} as order_id,
        {{ pcdp_text('user_id') }} as user_id,
        {{ pcdp_email('email') }} as email,
        {{ pcdp_text('anonymous_id') }} as anonymous_id,
        {{ pcdp_text('ordered_at') }} as ordered_at_text,
        {{ pcdp_timestamp('ordered_at') }} as ordered_at,
        {{ pcdp_text('amount') }} as amount_text,
        {{ pcdp_decimal('amount') }} as amount,
        upper({{ pcdp_text('currency') }}) as currency,
        coalesce(lower({{ pcdp_text('status') }}), 'completed') as status
    from flagged
),

-- The rate of each order's currency on its date, or the latest before it (an as-of lookup,
-- written as a join to the latest rate date so that every warehouse runs it).
order_dates as (
    select distinct
        currency,
        cast(ordered_at as date) as order_date
    from parsed
    where currency is not null and ordered_at is not null
),

order_rate_dates as (
    select
        order_dates.currency,
        order_dates.order_date,
        max(fx_rates.rate_date) as rate_date
    from order_dates
    inner join fx_rates
        on
            order_dates.currency = fx_rates.currency
            and order_dates.order_date >= fx_rates.rate_date
    group by order_dates.currency, order_dates.order_date
),

order_rates as (
    select
        order_rate_dates.currency,
        order_rate_dates.order_date,
        fx_rates.rate_to_reporting
    from order_rate_dates
    inner join fx_rates
        on
            order_rate_dates.currency = fx_rates.currency
            and order_rate_dates.rate_date = fx_rates.rate_date
),

converted as (
    select
        parsed.*,
        case
            when parsed.currency = '{{ var("reporting_currency") }}' then 1.0
            else order_rates.rate_to_reporting
        end as rate_to_reporting
    from parsed
    left join order_rates
        on
            parsed.currency = order_rates.currency
            and cast(parsed.ordered_at as date) = order_rates.order_date
),

checked as {{ pcdp_cte_not_materialized() }} (
    select
        *,
        cast(amount * rate_to_reporting as decimal(18, 4)) as amount_reporting,
        case
            when order_id is null then 'missing_required:order_id'
            when ordered_at_text is null then 'missing_required:ordered_at'
            when ordered_at is null then 'unparseable:ordered_at'
            when cast(ordered_at as date) > {{ pcdp_latest_valid_date() }}
                then 'future_timestamp:ordered_at'
            when amount_text is null then 'missing_required:amount'
            when amount is null then 'unparseable:amount'
            when currency is null then 'missing_required:currency'
            when status not in ('completed', 'refunded', 'cancelled') then 'invalid_status'
            when anonymous_id is null and user_id is null and email is null then 'no_identifier'
            when status = 'completed' and amount < 0 then 'negative_amount'
            when rate_to_reporting is null then 'no_fx_rate'
        end as row_problem
    from converted
),

{{ pcdp_quarantine_ctes(['order_id'], 'ordered_at', ['ordered_at_text', 'amount_text']) }}

select * from final
