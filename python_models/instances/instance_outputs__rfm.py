def model(dbt, session):
    """Records (predictions, metrics, status) of every ready rfm instance."""
    from pcdp.runtime import run_instance_types

    dbt.config(materialized="table")
    return run_instance_types(
        ["rfm"],
        dbt.config.get("instances_file"),
        dbt.config.get("as_of"),
        session,
        {
            "customer_features": dbt.ref("customer_features"),
            "rfm_segment_map": dbt.ref("rfm_segment_map"),
        },
    )
