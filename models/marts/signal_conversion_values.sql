-- Value-based bidding signals: one row per customer with an email or phone and a predicted
-- value. Identifiers are the SHA-256 (hex) of the normalised email (trimmed, lower case) and
-- phone (digits with country code), the customer's most recently seen of each. The value is
-- customer_profile's var signal_value_attribute (default pcltv_12m) times var
-- signal_value_multiplier (default 1; set it to the value of one conversion when the attribute
-- is an action probability), in var reporting_currency. Empty, with a warning, while
-- customer_profile has no such numeric column.
{% set value_column = pcdp_signal_value_column() %}
with

profile as (
    select * from {{ ref('customer_profile') }}
),

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

ranked_identifiers as (
    select
        customer_id,
        identifier_type,
        identifier_value,
        row_number() over (
            partition by customer_id, identifier_type
            order by last_seen_at desc, identifier_value asc
        ) as recency_rank
    from customer_identifiers
    where identifier_type in ('email', 'phone')
),

contact_points as (
    select
        customer_id,
        max(identifier_value) filter (where identifier_type = 'email') as email,
        max(identifier_value) filter (where identifier_type = 'phone') as phone
    from ranked_identifiers
    where recency_rank = 1
    group by customer_id
),

valued as (
    select
        contact_points.customer_id,
        contact_points.email,
        contact_points.phone,
        {% if value_column %}
            round(
                cast(profile.{{ value_column }} as double)
                * {{ pcdp_signal_value_multiplier() }},
                2
            )
        {% else %}
            cast(null as double)
        {% endif %} as predicted_value
    from contact_points
    inner join profile on contact_points.customer_id = profile.customer_id
),

final as (
    select
        customer_id,
        {{ pcdp_sha256('email') }} as email_sha256,
        {{ pcdp_sha256('phone') }} as phone_sha256,
        predicted_value,
        {{ pcdp_quote_text(var('reporting_currency')) }} as currency,
        {{ pcdp_quote_text(var('signal_value_attribute')) }} as value_attribute,
        {{ pcdp_as_of_date() }} as as_of,
        {{ pcdp_feature_cutoff() }} - interval 1 second as as_of_time
    from valued
    where predicted_value is not null
)

select * from final
