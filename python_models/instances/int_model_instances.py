def model(dbt, session):
    """One row per configured model instance, with its validation error (if any)."""
    from pcdp.runtime import instances_table

    dbt.config(materialized="table")
    return instances_table(dbt.config.get("instances_file"))
