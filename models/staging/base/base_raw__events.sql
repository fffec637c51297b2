-- Every raw event, parsed, with the reason it is quarantined (null when it is used).
with

source as {{ pcdp_cte_not_materialized() }} (
    select * from {{ source('raw', 'events') }}
),

{{ pcdp_key_copies_ctes([pcdp_text('event_id')]) }}

parsed as (
    select
        raw_values,
        has_copies,
        {{ pcdp_text('event_id') }} as event_id,
        {{ pcdp_text('event_name') }} as event_name,
        {{ pcdp_text('occurred_at') }} as occurred_at_text,
        {{ pcdp_timestamp('occurred_at') }} as occurred_at,
        {{ pcdp_text('anonymous_id') }} as anonymous_id,
        {{ pcdp_text('user_id') }} as user_id,
        {{ pcdp_email('email') }} as email,
        {{ pcdp_text('product_id') }} as product_id,
        {{ pcdp_text('product_category') }} as product_category,
        {{ pcdp_text('page_url') }} as page_url,
        {{ pcdp_text('page_title') }} as page_title,
        {{ pcdp_text('revenue') }} as revenue_text,
        {{ pcdp_decimal('revenue') }} as revenue,
        upper({{ pcdp_text('currency') }}) as currency,
        {{ pcdp_text('properties') }} as properties
    from flagged
),

checked as {{ pcdp_cte_not_materialized() }} (
    select
        *,
        case
            when event_id is null then 'missing_required:event_id'
            when event_name is null then 'missing_required:event_name'
            when occurred_at_text is null then 'missing_required:occurred_at'
            when occurred_at is null then 'unparseable:occurred_at'
            when cast(occurred_at as date) > {{ pcdp_latest_valid_date() }}
                then 'future_timestamp:occurred_at'
            when anonymous_id is null and user_id is null and email is null then 'no_identifier'
            when revenue_text is not null and revenue is null then 'unparseable:revenue'
        end as row_problem
    from parsed
),

{{ pcdp_quarantine_ctes(['event_id'], 'occurred_at', ['occurred_at_text', 'revenue_text']) }}

select * from final
