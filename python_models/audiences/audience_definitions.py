def model(dbt, session):
    """One row per entry of the audience file: compiled filter SQL, status, error, members."""
    from pcdp.audience.definitions import definitions_from_relations

    dbt.config(materialized="table")
    return definitions_from_relations(
        dbt.config.get("audiences_file"),
        session,
        {
            "customer": dbt.ref("customer_profile"),
            "account": dbt.ref("account_profile"),
        },
    )
