"""RFM instances: scores, segments, the segment map override, and segment transitions."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pcdp.instances import parse_instances
from pcdp.project import run_dbt
from pcdp.runtime import RunContext
from pcdp.types import rfm
from pcdp.types.rfm import SEGMENTS

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 12, 31)


def spec(**entry):
    (parsed,) = parse_instances({"instances": [{"id": "rfm", "type": "rfm", **entry}]})
    return parsed


@pytest.fixture()
def memory():
    connection = duckdb.connect()
    connection.execute(
        f"create table rfm_segment_map as select * from read_csv("
        f"'{ROOT / 'seeds' / 'rfm_segment_map.csv'}', header = true)"
    )
    yield connection
    connection.close()


def features(con, rows) -> None:
    con.execute(
        "create or replace table features"
        " (customer_id varchar, recency_days bigint, frequency bigint, monetary decimal(18, 2))"
    )
    con.executemany("insert into features values (?, ?, ?, ?)", rows)


def run_rfm(con, instance):
    context = RunContext(
        con, AS_OF, {"customer_features": "features", "rfm_segment_map": "rfm_segment_map"}
    )
    return rfm.run(instance, context)


def by_customer(result) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for row in result.predictions.to_pylist():
        out.setdefault(row["customer_id"], {})[row["attribute"]] = row["value"]
    return out


# ------------------------------------------------------------------ scores and segments


def test_scores_deterministic_under_ties(memory):
    # 20 buyers in 4 blocks of 5 identical customers, plus two with no completed order
    rows = [
        (f"c{block}{i}", 10 + 50 * block, 1 + block, 20 * (block + 1))
        for block in range(4)
        for i in range(5)
    ]
    rows += [("n1", None, 0, 0), ("n2", None, 0, 0)]
    features(memory, rows)
    first = by_customer(run_rfm(memory, spec()))
    features(memory, list(reversed(rows)))
    second = by_customer(run_rfm(memory, spec()))
    assert first == second
    assert "n1" not in first and "n2" not in first  # no completed order: no RFM values
    for block in range(4):
        values = {tuple(sorted(first[f"c{block}{i}"].items())) for i in range(5)}
        assert len(values) == 1  # tied customers get identical scores and segment
    scores = {
        block: tuple(int(first[f"c{block}0"][f"rfm_{s}_score"]) for s in ("recency", "frequency"))
        for block in range(4)
    }
    # percent_rank: a tied block shares the score of its first member; block 0 is the most
    # recent, block 3 the most frequent
    assert scores == {0: (4, 1), 1: (3, 2), 2: (2, 3), 3: (1, 4)}


def test_segment_follows_the_seed_map(memory):
    rows = [(f"c{i:02d}", i, 25 - i, 100 + i) for i in range(25)]  # recent = frequent
    features(memory, rows)
    result = by_customer(run_rfm(memory, spec()))
    seed = {
        (int(r["recency_score"]), int(r["frequency_score"])): r["segment"]
        for r in csv.DictReader((ROOT / "seeds" / "rfm_segment_map.csv").open())
    }
    assert set(seed.values()) == set(SEGMENTS)
    for values in result.values():
        key = (int(values["rfm_recency_score"]), int(values["rfm_frequency_score"]))
        assert values["rfm_cluster"] == f'"{seed[key]}"'
    assert result["c00"]["rfm_cluster"] == '"Champions"'
    assert result["c24"]["rfm_cluster"] == '"Lost"'


def test_segment_map_override(memory, tmp_path):
    path = tmp_path / "map.csv"
    lines = ["recency_score,frequency_score,segment"]
    lines += [
        f"{r},{f},{'Keep Warm' if r >= 3 else 'Win Back'}" for r in range(1, 6) for f in range(1, 6)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    features(memory, [(f"c{i:02d}", i, 25 - i, 100 + i) for i in range(25)])
    instance = spec(segment_map=str(path))
    assert instance.error is None and instance.params["segment_map"] == str(path.resolve())
    result = run_rfm(memory, instance)
    clusters = {v["rfm_cluster"] for v in by_customer(result).values()}
    assert clusters == {'"Keep Warm"', '"Win Back"'}
    assert result.metrics["segment_share_keep_warm"] == pytest.approx(0.6)

    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one pair missing
    with pytest.raises(ValueError, match="covers 24 of the 25"):
        run_rfm(memory, instance)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"segment_map": "/nope/map.csv"}, "segment_map '/nope/map.csv' does not exist"),
        ({"segment_map": 3}, "segment_map must be the path of a CSV file"),
        ({"top_k": 3}, "unknown key(s) for rfm: top_k"),
    ],
)
def test_validation_names_instance_and_key(entry, message):
    instance = spec(**entry)
    assert instance.error is not None and message in instance.error
    assert instance.error.startswith("instance 'rfm'")


# ------------------------------------------------------------------ on the warehouse


def test_champions_and_customers_without_orders(con):
    rows = con.execute(
        """
        select
            count(*) filter (where frequency > 0 and rfm_cluster is null),
            count(*) filter (where coalesce(frequency, 0) = 0 and rfm_cluster is not null),
            count(*) filter (where rfm_cluster is null and rfm_recency_score is not null),
            count(*) filter (where rfm_cluster = 'Champions'),
            count(*) filter (
                where rfm_cluster = 'Champions'
                and not (rfm_recency_score = 5 and rfm_frequency_score >= 4)
            ),
            count(*) filter (
                where rfm_recency_score = 5 and rfm_frequency_score >= 4
                and rfm_cluster is distinct from 'Champions'
            ),
            avg(recency_days) filter (where rfm_cluster = 'Champions'),
            avg(recency_days) filter (where frequency > 0),
            avg(frequency) filter (where rfm_cluster = 'Champions'),
            avg(frequency) filter (where frequency > 0)
        from customer_profile
        """
    ).fetchall()[0]
    no_segment, segment_without_order, scores_without_segment = rows[:3]
    champions, wrong_in, wrong_out = rows[3:6]
    assert (no_segment, segment_without_order, scores_without_segment) == (0, 0, 0)
    assert champions > 10 and wrong_in == 0 and wrong_out == 0
    assert rows[6] < rows[7] and rows[8] > rows[9]  # more recent and more frequent
    segments = {
        r[0] for r in con.execute("select distinct rfm_cluster from customer_profile").fetchall()
    }
    assert segments - {None} <= set(SEGMENTS)


def test_transitions_on_a_single_run(con):
    rows = con.execute(
        """
        select count(*), count(distinct customer_id), count(previous_as_of),
            count(previous_segment), count(is_changed), min(as_of), max(as_of)
        from rfm_segment_transitions
        """
    ).fetchall()[0]
    clusters = con.execute(
        "select count(*) from customer_profile where rfm_cluster is not null"
    ).fetchall()[0][0]
    assert rows[:5] == (clusters, clusters, 0, 0, 0)
    assert rows[5] == rows[6] == AS_OF


# ------------------------------------------------------------------ transitions model
# rfm_segment_transitions built by dbt over a hand-made warehouse (int_model_instances and a
# predictions history) as `pcdp run` builds it: the first build is full, the later ones
# incremental (this date and the run after it): a backfill into the middle of the history,
# then a rerun of that date whose segments are gone.


def expected_transitions(history: dict) -> set[tuple]:
    """Transitions from `history[instance][as_of] = {customer: segment}`, as the model defines
    them: every run against the instance's previous run."""
    rows = set()
    for instance, runs in history.items():
        previous = None
        for as_of in sorted(runs):
            now, before = runs[as_of], runs[previous] if previous else {}
            for customer in set(now) | set(before):
                changed = None if previous is None else before.get(customer) != now.get(customer)
                rows.add(
                    (customer, instance, as_of, previous, before.get(customer), now.get(customer))
                    + (changed,)
                )
            previous = as_of
    return rows


class TransitionsWarehouse:
    def __init__(self, db: Path, raw: Path):
        self.db, self.raw = db, raw
        self.history: dict = {"rfm": {}, "rfm_b": {}}
        with duckdb.connect(str(db)) as con:
            con.execute(
                "create table int_model_instances as select * from (values ('rfm', 'rfm'),"
                " ('rfm_b', 'rfm'), ('other', 'pcltv')) as t(instance_id, type)"
            )
            con.execute(
                "create table predictions (customer_id varchar, instance_id varchar,"
                " attribute varchar, value varchar, value_type varchar, run_id varchar,"
                " as_of date)"
            )

    def score(self, instance: str, as_of: str, segments: dict[str, str]) -> None:
        """The instance's predictions at `as_of` (replacing any earlier ones of that date)."""
        with duckdb.connect(str(self.db)) as con:
            con.execute(
                "delete from predictions where instance_id = ? and as_of = ?", [instance, as_of]
            )
            for customer, segment in segments.items():
                con.execute(
                    "insert into predictions values"
                    " (?, ?, ? || '_cluster', to_json(?::varchar)::varchar, 'string', 'r', ?),"
                    " (?, ?, ? || '_recency_score', '5', 'integer', 'r', ?),"
                    # another type's attribute of the same name is not a segment
                    " (?, 'other', ? || '_cluster', '\"Lost\"', 'string', 'r', ?)",
                    [customer, instance, instance, segment, as_of]
                    + [customer, instance, instance, as_of, customer, instance, as_of],
                )
        if segments:
            self.history[instance][as_of] = segments
        else:
            self.history[instance].pop(as_of, None)

    def build(self, as_of: str) -> set[tuple]:
        outcome = run_dbt(
            ["run", "--select", "rfm_segment_transitions"],
            self.db,
            {"raw_path": str(self.raw), "as_of": as_of},
        )
        assert outcome.success, outcome.failures
        with duckdb.connect(str(self.db), read_only=True) as con:
            rows = con.execute(
                "select customer_id, instance_id, cast(as_of as varchar),"
                " cast(previous_as_of as varchar), previous_segment, segment, is_changed"
                " from rfm_segment_transitions"
            ).fetchall()
        assert len(rows) == len(set(rows))
        return set(rows)


@pytest.mark.slow
def test_transitions_between_runs(tmp_path, raw_dir):
    warehouse = TransitionsWarehouse(tmp_path / "pcdp.duckdb", raw_dir)
    nights = {
        "2025-12-17": {"a": "Champions", "b": "Loyal Customers", "c": "Hibernating"},
        "2025-12-24": {"a": "Champions", "b": "Loyal Customers", "c": "Lost", "d": "Promising"},
        "2025-12-31": {"a": "Champions", "b": "At Risk", "d": "New Customers", "e": "Promising"},
    }
    for as_of, segments in nights.items():
        warehouse.score("rfm", as_of, segments)
    warehouse.score("rfm_b", "2025-12-31", {"a": "Lost"})
    rows = warehouse.build("2025-12-31")  # the first build is full, the later ones incremental
    assert rows == expected_transitions(warehouse.history)
    latest = sorted(r for r in rows if r[1] == "rfm" and r[2] == "2025-12-31")
    assert latest == [
        ("a", "rfm", "2025-12-31", "2025-12-24", "Champions", "Champions", False),
        ("b", "rfm", "2025-12-31", "2025-12-24", "Loyal Customers", "At Risk", True),
        ("c", "rfm", "2025-12-31", "2025-12-24", "Lost", None, True),
        ("d", "rfm", "2025-12-31", "2025-12-24", "Promising", "New Customers", True),
        ("e", "rfm", "2025-12-31", "2025-12-24", None, "Promising", True),
    ]
    first = sorted(r for r in rows if r[1] == "rfm" and r[2] == "2025-12-17")
    assert [r[3:] for r in first] == [(None, None, s, None) for s in nights["2025-12-17"].values()]
    assert [r for r in rows if r[1] == "rfm_b"] == [
        ("a", "rfm_b", "2025-12-31", None, None, "Lost", None)
    ]
    # a backfill into the middle: 2025-12-24 is now compared with it, not with 2025-12-17
    warehouse.score("rfm", "2025-12-20", {"a": "Loyal Customers", "c": "Lost"})
    rows = warehouse.build("2025-12-20")
    assert rows == expected_transitions(warehouse.history)
    assert ("c", "rfm", "2025-12-24", "2025-12-20", "Lost", "Lost", False) in rows
    # a rerun of that date without segments: its rows go, and 2025-12-24 compares with 12-17
    warehouse.score("rfm", "2025-12-20", {})
    assert warehouse.build("2025-12-20") == expected_transitions(warehouse.history)
