{#
  Event names that get their own count columns: the var feature_max_event_names most frequent
  ones, with a column-safe slug each. Read from the data at run time; empty while parsing.
#}
{% macro pcdp_feature_event_names() %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set rows = run_query(
        'select event_name, count(*) as n from ' ~ ref('int_customer_events')
        ~ ' group by event_name order by n desc, event_name limit '
        ~ var('feature_max_event_names') | int
    ).rows %}
    {% set names = [] %}
    {% set slugs = [] %}
    {% for row in rows %}
        {% set slug = modules.re.sub('[^a-z0-9]+', '_', row[0] | lower).strip('_')[:40] %}
        {% if slug and slug not in slugs %}
            {% do slugs.append(slug) %}
            {% do names.append({'name': row[0], 'slug': slug}) %}
        {% endif %}
    {% endfor %}
    {{ return(names) }}
{% endmacro %}


{#
  Features per (customer_id, cutoff_at) row of `spine`, from events and orders strictly before
  each row's cutoff: the same logic serves the as-of mart and earlier training snapshots, and
  nothing at or after a cutoff can reach its features.
#}
{% macro pcdp_point_in_time_features(spine) %}
    {% set windows = var('feature_windows_days') %}
    {% set event_names = pcdp_feature_event_names() %}
    with

    events as (
        select * from {{ ref('int_customer_events') }}
    ),

    orders as (
        select * from {{ ref('int_customer_orders') }}
    ),

    past_events as (
        select
            {{ spine }}.cutoff_at,
            events.*
        from events
        inner join {{ spine }}
            on
                events.customer_id = {{ spine }}.customer_id
                and events.occurred_at < {{ spine }}.cutoff_at
    ),

    past_orders as (
        select
            {{ spine }}.cutoff_at,
            orders.*
        from orders
        inner join {{ spine }}
            on
                orders.customer_id = {{ spine }}.customer_id
                and orders.ordered_at < {{ spine }}.cutoff_at
    ),

    event_features as (
        select
            customer_id,
            cutoff_at,
            min(occurred_at) as first_event_at,
            max(occurred_at) as last_event_at,
            count(*) as events_total,
            {% for window in windows %}
                count(*) filter (
                    where occurred_at >= {{ dbt.dateadd('day', -(window | int), 'cutoff_at') }}
                ) as events_{{ window }}d,
                count(distinct cast(occurred_at as date)) filter (
                    where occurred_at >= {{ dbt.dateadd('day', -(window | int), 'cutoff_at') }}
                ) as active_days_{{ window }}d,
            {% endfor %}
            {% for event in event_names %}
                {% for window in [30, 90] %}
                    count(*) filter (
                        where
                            event_name = {{ pcdp_quote_text(event.name) }}
                            and occurred_at >= {{ dbt.dateadd('day', -(window | int), 'cutoff_at') }}
                    ) as events_{{ event.slug }}_{{ window }}d,
                {% endfor %}
            {% endfor %}
            count(distinct cast(occurred_at as date)) as active_days_total,
            count(distinct product_category) filter (
                where occurred_at >= {{ dbt.dateadd('day', -90, 'cutoff_at') }}
            ) as distinct_categories_90d,
            count(*) filter (
                where
                    product_id is not null
                    and occurred_at >= {{ dbt.dateadd('day', -30, 'cutoff_at') }}
            ) as product_events_30d,
            count(*) filter (
                where
                    page_url is not null
                    and occurred_at >= {{ dbt.dateadd('day', -30, 'cutoff_at') }}
            ) as page_events_30d,
            count(distinct page_url) filter (
                where occurred_at >= {{ dbt.dateadd('day', -90, 'cutoff_at') }}
            ) as distinct_pages_90d
        from past_events
        group by customer_id, cutoff_at
    ),

    active_dates as (
        select distinct
            customer_id,
            cutoff_at,
            cast(occurred_at as date) as active_date
        from past_events
    ),

    gaps as (
        select
            customer_id,
            cutoff_at,
            active_date,
            {{ dbt.datediff(
                'lag(active_date) over (partition by customer_id, cutoff_at order by active_date)',
                'active_date',
                'day'
            ) }} as gap_days
        from active_dates
    ),

    gap_features as (
        select
            customer_id,
            cutoff_at,
            avg(gap_days) as mean_gap_days,
            max(gap_days) as max_gap_days,
            avg(gap_days) filter (
                where active_date >= {{ dbt.dateadd('day', -90, 'cutoff_at') }}
            )
            - avg(gap_days) filter (
                where active_date < {{ dbt.dateadd('day', -90, 'cutoff_at') }}
            ) as gap_trend_days
        from gaps
        group by customer_id, cutoff_at
    ),

    last_gaps as (
        select
            customer_id,
            cutoff_at,
            gap_days as last_gap_days
        from gaps
        qualify row_number() over (
            partition by customer_id, cutoff_at order by active_date desc
        ) = 1
    ),

    order_features as (
        select
            customer_id,
            cutoff_at,
            count(*) filter (where is_completed) as frequency,
            coalesce(sum(amount_reporting) filter (where is_completed), 0) as monetary,
            min(ordered_at) filter (where is_completed) as first_order_at,
            max(ordered_at) filter (where is_completed) as last_order_at,
            avg(amount_reporting) filter (where is_completed) as avg_order_value,
            count(*) filter (where status = 'refunded') as orders_refunded,
            coalesce(sum(amount_reporting) filter (where status = 'refunded'), 0)
                as refunded_amount,
            count(*) filter (where status = 'cancelled') as orders_cancelled,
            {% for window in windows %}
                count(*) filter (
                    where
                        is_completed
                        and ordered_at >= {{ dbt.dateadd('day', -(window | int), 'cutoff_at') }}
                ) as orders_{{ window }}d,
                coalesce(sum(amount_reporting) filter (
                    where
                        is_completed
                        and ordered_at >= {{ dbt.dateadd('day', -(window | int), 'cutoff_at') }}
                ), 0) as revenue_{{ window }}d,
            {% endfor %}
            min(ordered_at) as first_order_attempt_at
        from past_orders
        group by customer_id, cutoff_at
    ),

    final as (
        select
            {{ spine }}.customer_id,
            {{ spine }}.cutoff_at,
            {{ dbt.datediff('order_features.last_order_at', spine ~ '.cutoff_at', 'day') }}
                as recency_days,
            coalesce(order_features.frequency, 0) as frequency,
            coalesce(order_features.monetary, 0) as monetary,
            {{ dbt.datediff(
                'least(event_features.first_event_at, order_features.first_order_attempt_at)',
                spine ~ '.cutoff_at',
                'day'
            ) }} as tenure_days,
            {{ dbt.datediff('event_features.last_event_at', spine ~ '.cutoff_at', 'day') }}
                as days_since_last_event,
            {{ dbt.datediff('order_features.first_order_at', spine ~ '.cutoff_at', 'day') }}
                as days_since_first_order,
            order_features.avg_order_value,
            coalesce(order_features.orders_refunded, 0) as orders_refunded,
            coalesce(order_features.refunded_amount, 0) as refunded_amount,
            coalesce(order_features.orders_cancelled, 0) as orders_cancelled,
            {% for window in windows %}
                coalesce(order_features.orders_{{ window }}d, 0) as orders_{{ window }}d,
                coalesce(order_features.revenue_{{ window }}d, 0) as revenue_{{ window }}d,
                coalesce(event_features.events_{{ window }}d, 0) as events_{{ window }}d,
                coalesce(event_features.active_days_{{ window }}d, 0)
                    as active_days_{{ window }}d,
            {% endfor %}
            {% for event in event_names %}
                {% for window in [30, 90] %}
                    coalesce(event_features.events_{{ event.slug }}_{{ window }}d, 0)
                        as events_{{ event.slug }}_{{ window }}d,
                {% endfor %}
            {% endfor %}
            coalesce(event_features.events_total, 0) as events_total,
            coalesce(event_features.active_days_total, 0) as active_days_total,
            gap_features.mean_gap_days,
            gap_features.max_gap_days,
            last_gaps.last_gap_days,
            gap_features.gap_trend_days,
            coalesce(event_features.distinct_categories_90d, 0) as distinct_categories_90d,
            coalesce(event_features.product_events_30d, 0) as product_events_30d,
            coalesce(event_features.page_events_30d, 0) as page_events_30d,
            coalesce(event_features.distinct_pages_90d, 0) as distinct_pages_90d
        from {{ spine }}
        left join event_features
            on
                {{ spine }}.customer_id = event_features.customer_id
                and {{ spine }}.cutoff_at = event_features.cutoff_at
        left join order_features
            on
                {{ spine }}.customer_id = order_features.customer_id
                and {{ spine }}.cutoff_at = order_features.cutoff_at
        left join gap_features
            on
                {{ spine }}.customer_id = gap_features.customer_id
                and {{ spine }}.cutoff_at = gap_features.cutoff_at
        left join last_gaps
            on
                {{ spine }}.customer_id = last_gaps.customer_id
                and {{ spine }}.cutoff_at = last_gaps.cutoff_at
    )

    select * from final
{% endmacro %}
