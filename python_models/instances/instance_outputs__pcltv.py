def model(dbt, session):
    """Records (predictions, metrics, status) of every ready pcltv instance."""
    from pcdp.runtime import run_instance_types

    dbt.config(materialized="table")
    return run_instance_types(
        ["pcltv"],
        dbt.config.get("instances_file"),
        dbt.config.get("as_of"),
        session,
        {
            "customer_features": dbt.ref("customer_features"),
            "customer_orders": dbt.ref("int_customer_orders"),
        },
    )
