"""RFM instances: recency, frequency and monetary scores 1-5 and the named segment.

Scores are quintiles over customers with at least one completed order, computed in DuckDB
with percent_rank, so tied customers always get the same score. The segment comes from the
recency and frequency scores through a segment map (the seed rfm_segment_map, or a CSV the
instance names with `segment_map`). Customers without a completed order get no RFM values.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pcdp.instances import InstanceSpec
from pcdp.runtime import InstanceResult, RunContext, register_runner

SEGMENTS = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
)


def _segment_map_sql(spec: InstanceSpec, context: RunContext) -> str:
    """The relation mapping (recency_score, frequency_score) to a segment, checked complete."""
    path = spec.params.get("segment_map")
    if path is None:
        relation = context.relation("rfm_segment_map")
    else:
        if not Path(path).is_file():
            raise FileNotFoundError(f"segment_map {path} does not exist")
        literal = "'" + str(path).replace("'", "''") + "'"
        context.con.execute(
            "create or replace temp table pcdp_rfm_custom_map as"
            f" select * from read_csv({literal}, header = true)"
        )
        relation = "pcdp_rfm_custom_map"
    try:
        covered = context.con.execute(
            f"select count(distinct (recency_score, frequency_score)) filter ("
            f" where recency_score between 1 and 5 and frequency_score between 1 and 5"
            f" and segment is not null) from {relation}"
        ).fetchall()[0][0]
    except duckdb.Error as error:
        raise ValueError(
            f"segment map needs columns recency_score, frequency_score, segment: {error}"
        ) from error
    if covered != 25:
        raise ValueError(
            f"segment map covers {covered} of the 25 (recency_score, frequency_score) pairs"
        )
    return relation


def run(spec: InstanceSpec, context: RunContext) -> InstanceResult:
    features = context.relation("customer_features")
    segment_map = _segment_map_sql(spec, context)
    prefix = spec.id
    context.con.execute(
        f"""
        create or replace temp table pcdp_rfm_scores as
        with buyers as (
            select customer_id, recency_days, frequency, monetary
            from {features}
            where frequency > 0
        ),
        scored as (
            select
                customer_id,
                1 + least(4, floor(5 * percent_rank() over (order by recency_days desc)))
                    as recency_score,
                1 + least(4, floor(5 * percent_rank() over (order by frequency)))
                    as frequency_score,
                1 + least(4, floor(5 * percent_rank() over (order by monetary)))
                    as monetary_score
            from buyers
        )
        select
            scored.customer_id,
            cast(scored.recency_score as integer) as recency_score,
            cast(scored.frequency_score as integer) as frequency_score,
            cast(scored.monetary_score as integer) as monetary_score,
            segment_map.segment
        from scored
        inner join {segment_map} as segment_map
            on
                scored.recency_score = segment_map.recency_score
                and scored.frequency_score = segment_map.frequency_score
        """
    )
    predictions = context.con.sql(
        f"""
        select customer_id, '{prefix}_cluster' as attribute, to_json(segment)::varchar as value,
            'string' as value_type
        from pcdp_rfm_scores
        union all
        select customer_id, '{prefix}_' || score_name as attribute,
            cast(score as varchar) as value, 'integer' as value_type
        from pcdp_rfm_scores
        unpivot (score for score_name in (recency_score, frequency_score, monetary_score))
        order by customer_id, attribute
        """
    ).to_arrow_table()
    counts = context.con.execute(
        "select segment, count(*) from pcdp_rfm_scores group by segment order by segment"
    ).fetchall()
    scored = sum(count for _, count in counts)
    metrics: dict[str, float | int | str] = {"customers_scored": scored}
    for segment, count in counts:
        key = segment.lower().replace(" ", "_")
        metrics[f"segment_share_{key}"] = count / scored
    return InstanceResult(predictions=predictions, metrics=metrics)


register_runner("rfm", run)
