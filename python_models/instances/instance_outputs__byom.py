def model(dbt, session):
    """Records of every ready byom (bring your own model) instance."""
    from pcdp.runtime import run_instance_types

    dbt.config(materialized="table")
    return run_instance_types(
        ["byom"],
        dbt.config.get("instances_file"),
        dbt.config.get("as_of"),
        session,
        {
            "customer_features": dbt.ref("customer_features"),
            "customer_identifiers": dbt.ref("customer_identifiers"),
            "accounts": dbt.ref("stg_raw__accounts"),
        },
    )
