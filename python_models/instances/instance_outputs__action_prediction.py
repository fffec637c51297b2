def model(dbt, session):
    """Records (predictions, metrics, status) of every ready action_prediction instance."""
    from pcdp.runtime import run_instance_types

    dbt.config(materialized="table")
    return run_instance_types(
        ["action_prediction"],
        dbt.config.get("instances_file"),
        dbt.config.get("as_of"),
        session,
        {
            "customer_features": dbt.ref("customer_features"),
            "customer_feature_snapshots": dbt.ref("customer_feature_snapshots"),
            "customer_events": dbt.ref("int_customer_events"),
            "customer_orders": dbt.ref("int_customer_orders"),
            "customers": dbt.ref("customers"),
        },
        workers=dbt.config.get("instance_workers"),
    )
