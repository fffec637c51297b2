-- One row per account of the accounts dataset (B2B): its members (customers holding one of
-- the account's user ids) and their profile rolled up: member_count, summed monetary value and
-- pcLTV, max and mean of every other numeric predictive attribute, and how many members are in
-- each boolean segment. The rollup columns follow customer_profile's columns (macro
-- pcdp_account_rollups). Empty when the accounts dataset has no rows.
-- depends_on: {{ ref('predictions') }}
-- depends_on: {{ ref('int_model_instances') }}
{% set rollups = pcdp_account_rollups() %}
with

accounts as (
    select * from {{ ref('stg_raw__accounts') }}
),

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

profile as (
    select * from {{ ref('customer_profile') }}
),

account_names as (
    select
        account_id,
        min(account_name) as account_name
    from accounts
    group by account_id
),

memberships as (
    select distinct
        accounts.account_id,
        customer_identifiers.customer_id
    from accounts
    inner join customer_identifiers
        on
            customer_identifiers.identifier_type = 'user_id'
            and accounts.user_id = customer_identifiers.identifier_value
),

rollups as (
    select
        memberships.account_id,
        {% for rollup in rollups %}
            {{ rollup.expression }} as {{ rollup.name }},
        {% endfor %}
        count(distinct memberships.customer_id) as member_count
    from memberships
    inner join profile on memberships.customer_id = profile.customer_id
    group by memberships.account_id
),

final as (
    select
        account_names.account_id,
        account_names.account_name,
        coalesce(rollups.member_count, 0) as member_count,
        {% for rollup in rollups %}
            rollups.{{ rollup.name }},
        {% endfor %}
        {{ pcdp_as_of_date() }} as as_of
    from account_names
    left join rollups on account_names.account_id = rollups.account_id
)

select * from final
