"""Interest instances end to end: interest_product, interest_iab and interest_custom.

Accuracy is checked on the `warehouse` fixture (1,500 generated customers, default
instances.yml) against the planted favourites; the scoring rules (decay, weights, one signal per
item and day, cutoff, ties) on small hand-made event tables.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pcdp.instances import parse_instances
from pcdp.project import instance_model_inputs
from pcdp.runtime import RunContext
from pcdp.types import interest
from pcdp.types.interest import MICROS, affinity_sql

AS_OF = dt.date(2025, 12, 31)
CUTOFF = "timestamp '2026-01-01 00:00:00'"
# "Enough activity": at least this many relevant events in the 90 days before the cutoff.
ENOUGH_EVENTS = 5
RECENT_DAYS = 90

# The interest model's inputs: input name -> the relation it refs.
INPUTS = instance_model_inputs("instance_outputs__interest")[1]

# The audience rule for `contains` (src/pcdp/audience): a label matches a value when, ignoring
# case, the whole label or one of its ` > ` segments equals the value or starts with it
# followed by a character that is not a letter or digit.
CONTAINS = """
    list_bool_or(list_transform({column}, lambda label: list_bool_or(list_transform(
        list_prepend(label, string_split(label, ' > ')),
        lambda part: lower(part) = lower(?) or (
            starts_with(lower(part), lower(?))
            and regexp_matches(substr(part, length(?) + 1, 1), '^[^[:alnum:]]')
        )
    ))))
"""


def spec(**entry):
    (parsed,) = parse_instances({"instances": [entry]})
    return parsed


def truth_view(con, raw_dir: Path) -> None:
    """customer_id -> planted favourites, for customers whose identifiers are one person."""
    truth = raw_dir / "_truth"
    con.execute(
        f"""
        create or replace temp table planted as
        with people as (
            select customer_identifiers.customer_id, min(truth.person_id) as person_id
            from customer_identifiers
            inner join read_parquet('{truth / "identifiers.parquet"}') as truth
                on
                    truth.identifier_type = customer_identifiers.identifier_type
                    and truth.identifier_value = customer_identifiers.identifier_value
            group by customer_identifiers.customer_id
            having count(distinct truth.person_id) = 1
        )
        select people.customer_id, p.favourite_category, p.favourite_topic
        from people
        inner join read_parquet('{truth / "people.parquet"}') as p
            on people.person_id = p.person_id
        """
    )


def recent_activity(con) -> None:
    con.execute(
        f"""
        create or replace temp view recent_activity as
        select
            customers.customer_id,
            count(*) filter (
                where events.event_name in ('product_view', 'add_to_cart', 'order_completed')
                and events.product_category is not null
            ) as product_events,
            count(*) filter (
                where events.event_name = 'page_view'
                and events.page_url in (select page_url from stg_raw__content)
            ) as content_views
        from int_customer_events as events
        inner join customers on events.customer_key = customers.customer_key
        where events.occurred_at >= {CUTOFF} - interval {RECENT_DAYS} day
            and events.occurred_at < {CUTOFF}
        group by customers.customer_id
        """
    )


# ------------------------------------------------------------------ accuracy on generated data


@pytest.fixture()
def planted(con, raw_dir):
    truth_view(con, raw_dir)
    recent_activity(con)
    return con


@pytest.mark.parametrize(
    ("column", "truth", "activity"),
    [
        ("interest_product", "favourite_category", "product_events"),
        ("interest_iab", "favourite_topic", "content_views"),
    ],
)
def test_first_label_is_the_planted_favourite(planted, column, truth, activity):
    n, matched, n_all, matched_all = planted.execute(
        f"""
        select
            count(*) filter (where recent_activity.{activity} >= {ENOUGH_EVENTS}),
            count(*) filter (
                where recent_activity.{activity} >= {ENOUGH_EVENTS}
                and profile.{column}[1] = planted.{truth}
            ),
            count(*),
            count(*) filter (where profile.{column}[1] = planted.{truth})
        from customer_profile as profile
        inner join planted on profile.customer_id = planted.customer_id
        inner join recent_activity on profile.customer_id = recent_activity.customer_id
        where profile.{column} is not null
        """
    ).fetchall()[0]
    print(
        f"{column}: first label = planted {truth} for {matched}/{n} = {matched / n:.3f} of "
        f"customers with >= {ENOUGH_EVENTS} events in {RECENT_DAYS} days "
        f"({matched_all}/{n_all} = {matched_all / n_all:.3f} of all with a list)"
    )
    assert n >= 50
    assert matched / n >= 0.90


def test_lists_are_top_k_of_the_affinity_table(con):
    # product lists are category paths; IAB lists are tier-1 names (tier-2 only in the table)
    mismatches = con.execute(
        """
        with from_table as (
            select customer_id, instance_id,
                list(label order by label_rank) as labels
            from customer_interest_affinities
            where label_rank <= 3
                and label_depth = case when instance_id = 'interest_product' then 2 else 1 end
            group by customer_id, instance_id
        ),
        from_profile as (
            unpivot (
                select customer_id, interest_product, interest_iab, interest_custom
                from customer_profile
            ) on interest_product, interest_iab, interest_custom
            into name instance_id value labels
        )
        select count(*) filter (where from_table.labels is distinct from from_profile.labels),
            count(*)
        from from_table
        full outer join from_profile
            on from_table.customer_id = from_profile.customer_id
            and from_table.instance_id = from_profile.instance_id
        """
    ).fetchall()[0]
    assert mismatches[0] == 0 and mismatches[1] > 1000
    depths = dict(
        con.execute(
            "select instance_id, list(distinct label_depth order by label_depth)"
            " from customer_interest_affinities group by instance_id"
        ).fetchall()
    )
    assert depths == {"interest_product": [2], "interest_iab": [1, 2], "interest_custom": [1]}
    shares = con.execute(
        "select min(s), max(s) from (select sum(affinity_share) as s"
        " from customer_interest_affinities group by customer_id, instance_id, label_depth)"
    ).fetchall()[0]
    assert shares == pytest.approx((1.0, 1.0))


def test_interest_metrics_and_status(con):
    status = dict(
        con.execute(
            "select instance_id, status from model_instances where type like 'interest%'"
        ).fetchall()
    )
    assert status == {
        name: "Complete" for name in ("interest_product", "interest_iab", "interest_custom")
    }
    metrics = dict(
        con.execute(
            "select metric, value from model_metrics where instance_id = 'interest_iab'"
        ).fetchall()
    )
    assert float(metrics["content_classified_share"]) > 0.9
    assert float(metrics["customers_scored"]) > 1000


# ------------------------------------------------------------------ audience filters on columns


def selected(con, column: str, value: str) -> set[str]:
    rows = con.execute(
        f"select customer_id from customer_profile where {CONTAINS.format(column=column)}",
        [value] * 3,
    ).fetchall()
    return {row[0] for row in rows}


@pytest.mark.parametrize(
    ("column", "value", "label", "truth"),
    [
        ("interest_product", "Shoes", "Apparel > Shoes", "favourite_category"),
        ("interest_product", "apparel > shoes", "Apparel > Shoes", "favourite_category"),
        ("interest_iab", "Technology", "Technology & Computing", "favourite_topic"),
    ],
)
def test_contains_selects_the_right_customers(planted, column, value, label, truth):
    chosen = selected(planted, column, value)
    holders = {
        row[0]
        for row in planted.execute(
            f"select customer_id from customer_profile where list_contains({column}, ?)", [label]
        ).fetchall()
    }
    assert chosen == holders and len(chosen) > 20
    # the customers who planted this favourite and were active enough are (nearly) all in it
    activity = "product_events" if column == "interest_product" else "content_views"
    fans = {
        row[0]
        for row in planted.execute(
            f"select planted.customer_id from planted inner join recent_activity"
            f" on planted.customer_id = recent_activity.customer_id"
            f" where planted.{truth} = ? and recent_activity.{activity} >= {ENOUGH_EVENTS}",
            [label],
        ).fetchall()
    }
    assert fans and len(fans & chosen) / len(fans) >= 0.9


def test_contains_rule_needs_whole_leading_words(con):
    assert selected(con, "interest_iab", "Tech") == set()  # not "Technology"
    assert selected(con, "interest_product", "Sho") == set()
    assert selected(con, "interest_product", "Apparel") >= selected(
        con, "interest_product", "Shoes"
    )


# ------------------------------------------------------------------ the runners themselves


def run_runner(con, instance, as_of=AS_OF, inputs=INPUTS):
    return interest.run(instance, RunContext(con, as_of, dict(inputs)))


def test_rerun_gives_identical_predictions(con):
    instance = spec(id="interest_product", type="interest_product", top_k=3)
    order = [("customer_id", "ascending"), ("attribute", "ascending")]
    first = run_runner(con, instance).predictions.sort_by(order)
    second = run_runner(con, instance).predictions.sort_by(order)
    assert first.equals(second)
    stored = con.sql(
        "select customer_id, attribute, value, value_type from predictions"
        " where instance_id = 'interest_product' order by customer_id, attribute"
    ).to_arrow_table()
    assert stored.column("value").to_pylist() == first.column("value").to_pylist()


def test_custom_taxonomy_from_a_csv_path(con, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "label,keywords,product_categories,example_titles\n"
        "Shoe People,sneaker;trainers,Apparel > Shoes,\n"
        "Readers,novel;reading;books,Books,Ten novels for the summer\n",
        encoding="utf-8",
    )
    instance = spec(id="mine", type="interest_custom", taxonomy=str(path), top_k=1)
    assert instance.error is None
    result = run_runner(con, instance)
    rows = result.predictions.to_pylist()
    lists = {json.dumps(json.loads(r["value"])) for r in rows if r["attribute"] == "mine"}
    assert lists == {'["Shoe People"]', '["Readers"]'}
    assert result.metrics["products_classified"] > 0
    assert {r["value_type"] for r in rows} == {"array", "record"}


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "interest_product", "colour": 1}, "unknown key(s) for interest_product: colour"),
        ({"type": "interest_product", "taxonomy": "x"}, "unknown key(s) for interest_product"),
        ({"type": "interest_iab", "top_k": 0}, "top_k must be a whole number"),
        ({"type": "interest_iab", "top_k": True}, "top_k must be a whole number"),
        ({"type": "interest_product", "half_life_days": -3}, "half_life_days must be"),
        ({"type": "interest_product", "event_weights": ["x"]}, "event_weights must map"),
        ({"type": "interest_product", "event_weights": {"x": -1}}, "weight of x must be"),
        ({"type": "interest_product", "event_weights": {"x": 0}}, "at least one positive"),
        ({"type": "interest_iab", "min_confidence": 1.5}, "min_confidence must be"),
        ({"type": "interest_custom"}, "taxonomy is required"),
        ({"type": "interest_custom", "taxonomy": "/nope/x.csv"}, "neither the seed"),
    ],
)
def test_validation_names_instance_and_key(entry, message):
    instance = spec(id="mine", status="ready", **entry)
    assert instance.error is not None and not instance.runnable
    assert instance.error.startswith("instance 'mine'")
    assert message in instance.error


def test_validation_defaults_and_csv_header(tmp_path):
    instance = spec(id="p", type="interest_product")
    assert instance.params == {
        "top_k": 3,
        "half_life_days": 90.0,
        "event_weights": {"add_to_cart": 2.0, "order_completed": 3.0, "product_view": 1.0},
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("name,words\nA,b\n", encoding="utf-8")
    refused = spec(id="c", type="interest_custom", taxonomy=str(bad))
    assert "needs a label column" in refused.error
    seed = spec(id="c", type="interest_custom", taxonomy="custom_taxonomy", event_weights={"x": 2})
    assert seed.params["taxonomy"] == "custom_taxonomy"
    assert seed.params["event_weights"] == {"x": 2.0}


# ------------------------------------------------------------------ scoring rules


@pytest.fixture()
def memory():
    connection = duckdb.connect()
    yield connection
    connection.close()


def scores(memory, rows, weights=None, half_life=30.0):
    """{(customer, label): affinity} from (customer, event, time, item, label) rows."""
    labels = sorted({row[4] for row in rows})
    events = pa.Table.from_pylist(
        [
            {
                "customer_key": c,
                "event_name": e,
                "occurred_at": dt.datetime.fromisoformat(t),
                "item": i,
                "label_id": labels.index(lb) + 1,
            }
            for c, e, t, i, lb in rows
        ]
    )
    weights = weights or {"view": 1.0, "cart": 2.0, "order": 3.0}
    memory.register("labelled_events", events)
    memory.register(
        "weights",
        pa.table({"event_name": list(weights), "weight": [float(w) for w in weights.values()]}),
    )
    sql = affinity_sql("select * from labelled_events", "weights", CUTOFF, half_life)
    return {
        (c, labels[label_id - 1]): micros / MICROS
        for c, label_id, micros, _ in memory.execute(sql + " order by 1, 2").fetchall()
    }


def test_decay_halves_per_half_life(memory):
    got = scores(
        memory,
        [
            ("c1", "view", "2025-12-31 23:59:59", "p1", "A"),  # ~1
            ("c1", "view", "2025-12-02 00:00:00", "p2", "B"),  # 30 days: 0.5
            ("c1", "view", "2025-11-02 00:00:00", "p3", "C"),  # 60 days: 0.25
            ("c1", "view", "2026-01-01 00:00:00", "p4", "D"),  # at the cutoff: ignored
            ("c1", "scroll", "2025-12-31 00:00:00", "p5", "E"),  # no weight: ignored
        ],
    )
    assert got == {
        ("c1", "A"): pytest.approx(1.0, abs=1e-5),
        ("c1", "B"): 0.5,
        ("c1", "C"): 0.25,
    }


def test_one_signal_per_item_and_day_at_its_strongest(memory):
    got = scores(
        memory,
        [
            # view, cart and order of one product on one day: one signal of weight 3
            ("c1", "view", "2025-12-02 00:00:00", "p1", "A"),
            ("c1", "cart", "2025-12-02 00:00:00", "p1", "A"),
            ("c1", "order", "2025-12-02 00:00:00", "p1", "A"),
            # the same product another day counts again; another product the same day too
            ("c1", "view", "2025-11-02 00:00:00", "p1", "A"),
            ("c1", "view", "2025-12-02 00:00:00", "p2", "A"),
        ],
    )
    assert got == {("c1", "A"): pytest.approx(3 * 0.5 + 0.25 + 0.5)}


def test_customers_are_independent_and_old_signals_vanish(memory):
    got = scores(
        memory,
        [
            ("c1", "view", "2025-12-02 00:00:00", "p1", "A"),
            ("c2", "cart", "2025-12-02 00:00:00", "p1", "A"),
            ("c2", "view", "2020-01-01 00:00:00", "p9", "Z"),  # ~2^-73: below MIN_AFFINITY
        ],
    )
    assert got == {("c1", "A"): 0.5, ("c2", "A"): 1.0}


def test_runner_ties_break_by_label_and_top_k(memory):
    memory.execute(
        """
        create table events as
        select * from (values
            -- a millisecond later is stronger by ~3e-10: a tie once rounded, so by label
            ('c1', 'product_view', timestamp '2025-12-30 10:00:00.001', 'p1', 'Toys > Puzzles'),
            ('c1', 'product_view', timestamp '2025-12-30 10:00:00', 'p2', 'Books > Fiction'),
            ('c1', 'product_view', timestamp '2025-12-30 10:00:00', 'p3', 'Apparel>Shoes '),
            ('c1', 'order_completed', timestamp '2025-10-01 10:00:00', 'p4', 'Beauty > Makeup'),
            ('c2', 'page_view', timestamp '2025-12-30 10:00:00', null, null)
        ) as t(customer_id, event_name, occurred_at, product_id, product_category);
        create table customers as
        select * from (values ('c1', 1), ('c2', 2)) as t(customer_id, customer_key);
        create table keyed_events as
        select events.*, customers.customer_key
        from events inner join customers on events.customer_id = customers.customer_id
        """
    )
    instance = spec(id="pi", type="interest_product", top_k=2, half_life_days=30)
    result = run_runner(
        memory, instance, inputs={"customer_events": "keyed_events", "customers": "customers"}
    )
    rows = {r["attribute"]: r for r in result.predictions.to_pylist()}
    assert set(rows) == {"pi", "pi_affinity"}  # c2 has no product events: no rows
    assert json.loads(rows["pi"]["value"]) == ["Apparel > Shoes", "Books > Fiction"]
    affinity = json.loads(rows["pi_affinity"]["value"])
    assert list(affinity)[:3] == ["Apparel > Shoes", "Books > Fiction", "Toys > Puzzles"]
    assert affinity["Beauty > Makeup"] < affinity["Toys > Puzzles"] == affinity["Books > Fiction"]
    assert result.metrics["customers_scored"] == 1
    assert result.curves["top_label"].column("label").to_pylist() == ["Apparel > Shoes"]
