-- A guarded identifier (shared device, placeholder email, test account) is nobody's identifier.
select
    guarded.identifier_type,
    guarded.identifier_value
from {{ ref('identity_guarded_identifiers') }} as guarded
inner join {{ ref('customer_identifiers') }} as customer_identifiers
    on
        guarded.identifier_type = customer_identifiers.identifier_type
        and guarded.identifier_value = customer_identifiers.identifier_value
