def model(dbt, session):
    """Records of every ready interest_product, interest_iab and interest_custom instance."""
    from pcdp.runtime import run_instance_types

    dbt.config(materialized="table")
    # Not an input: built after customer_features so that the two, each taking most of
    # DuckDB's memory limit, do not run side by side (see customer_feature_snapshots).
    dbt.ref("customer_features")
    return run_instance_types(
        ["interest_product", "interest_iab", "interest_custom"],
        dbt.config.get("instances_file"),
        dbt.config.get("as_of"),
        session,
        {
            "customer_events": dbt.ref("int_customer_events"),
            "customers": dbt.ref("customers"),
            "content": dbt.ref("stg_raw__content"),
            "products": dbt.ref("stg_raw__products"),
            "iab_content_taxonomy": dbt.ref("iab_content_taxonomy"),
            "iab_keyword_lexicon": dbt.ref("iab_keyword_lexicon"),
            "custom_taxonomy": dbt.ref("custom_taxonomy"),
        },
    )
