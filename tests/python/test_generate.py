"""Tests for the synthetic data generator (pcdp.generate)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pcdp.generate import generate
from pcdp.generate.catalog import TOPICS

N = 2000
AS_OF = dt.date(2025, 12, 31)
CUT = pd.Timestamp("2026-01-01", tz="UTC")  # as_of + 1 day
START = pd.Timestamp("2024-01-01", tz="UTC")  # as_of - 730 days

COLUMNS = {
    "events": [
        "event_id", "event_name", "occurred_at", "anonymous_id", "user_id", "email",
        "product_id", "product_category", "page_url", "page_title", "revenue", "currency",
        "properties",
    ],
    "identifies": ["anonymous_id", "user_id", "email", "phone", "observed_at"],
    "orders": [
        "order_id", "user_id", "email", "anonymous_id", "ordered_at", "amount", "currency",
        "status",
    ],
    "products": ["product_id", "product_name", "category"],
    "content": ["page_url", "title", "description", "keywords"],
    "accounts": ["user_id", "account_id", "account_name"],
    "fx_rates": ["currency", "rate_date", "rate_to_reporting"],
}  # fmt: skip


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "raw"
    messages: list[str] = []
    generate(out, N, seed=42, as_of=AS_OF, progress=messages.append)
    assert messages and messages[-1] == "done"
    return out


@pytest.fixture(scope="module")
def data(raw):
    d = {
        "events": pd.read_parquet(raw / "events"),
        "identifies": pd.read_parquet(raw / "identifies.parquet"),
        "orders": pd.read_csv(raw / "orders.csv", dtype=str, keep_default_na=False),
        "truth_ids": pd.read_parquet(raw / "_truth" / "identifiers.parquet"),
        "shared": pd.read_parquet(raw / "_truth" / "shared_identifiers.parquet"),
        "bad": pd.read_csv(raw / "_truth" / "bad_rows.csv", dtype=str, keep_default_na=False),
        "people": pd.read_parquet(raw / "_truth" / "people.parquet"),
        "manifest": json.loads((raw / "_truth" / "manifest.json").read_text()),
    }
    d["orders"] = d["orders"].replace("", None)
    return d


# ---- helpers --------------------------------------------------------------------------------


def ts(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")


def norm(kind: str, value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    v = str(value).strip()
    if not v:
        return None
    if kind == "email":
        return v.lower()
    if kind == "phone":
        digits = re.sub(r"\D", "", v)
        if digits.startswith("00"):
            digits = digits[2:]
        return "1" + digits if len(digits) == 10 else digits
    return v


def good(df: pd.DataFrame, key: str | None, bad_keys: set[str], ts_col: str) -> pd.DataFrame:
    """Rows of a raw dataset that are not planted bad rows."""
    t = ts(df[ts_col])
    ok = t.notna() & (t < CUT)
    if key is not None:
        k = df[key].fillna("")
        ok &= (k != "") & ~k.isin(bad_keys)
        ok &= ~df.duplicated(keep="first")
    if {"anonymous_id", "user_id", "email"} <= set(df.columns):
        ids = df[["anonymous_id", "user_id", "email"]].fillna("").apply(lambda c: c.str.strip())
        ok &= (ids != "").any(axis=1)
    if key == "order_id":
        amount = pd.to_numeric(df["amount"], errors="coerce")
        ok &= amount.notna() & (amount >= 0) & df["currency"].isin(["USD", "EUR", "GBP"])
    return df[ok]


@pytest.fixture(scope="module")
def goods(data):
    bad = data["bad"]
    keys = set(bad.loc[bad["key"] != "", "key"])
    return {
        "events": good(data["events"], "event_id", keys - _dup_keys(bad), "occurred_at"),
        "orders": good(data["orders"], "order_id", keys - _dup_keys(bad), "ordered_at"),
        "identifies": good(data["identifies"], None, set(), "observed_at"),
    }


def _dup_keys(bad: pd.DataFrame) -> set[str]:
    return set(bad.loc[bad["reason"].str.startswith("duplicate_key"), "key"])


@pytest.fixture(scope="module")
def links(goods) -> list[dict[tuple[str, str], None]]:
    """Every good raw row as its set of normalised identifiers."""
    rows = []
    for name, cols in (
        ("events", ["anonymous_id", "user_id", "email"]),
        ("orders", ["anonymous_id", "user_id", "email"]),
        ("identifies", ["anonymous_id", "user_id", "email", "phone"]),
    ):
        df = goods[name]
        for rec in df[cols].itertuples(index=False):
            ids = {}
            for col, v in zip(cols, rec, strict=True):
                n = norm("email" if col == "email" else "phone" if col == "phone" else col, v)
                if n is not None:
                    ids[(col, n)] = None
            rows.append(ids)
    return rows


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---- tests ------------------------------------------------------------------------------------


def test_deterministic_and_seed_dependent(raw, tmp_path):
    again = tmp_path / "again"
    generate(again, N, seed=42, as_of=AS_OF)
    assert digest(again) == digest(raw)
    other = tmp_path / "other"
    generate(other, N, seed=43, as_of=AS_OF)
    a, b = digest(raw), digest(other)
    assert a.keys() == b.keys() or set(a) ^ set(b) <= {"events/part-00001.parquet"}
    assert a["events/part-00000.parquet"] != b["events/part-00000.parquet"]
    assert a["orders.csv"] != b["orders.csv"]


def test_rerun_overwrites(tmp_path):
    out = tmp_path / "raw"
    generate(out, 1500, seed=1, rows_per_part=40_000)
    parts = sorted(p.name for p in (out / "events").iterdir())
    assert len(parts) >= 3
    (out / "keep.txt").write_text("not ours")
    generate(out, 1000, seed=1, rows_per_part=10**7)
    assert sorted(p.name for p in (out / "events").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert (out / "keep.txt").exists()
    assert json.loads((out / "_truth" / "manifest.json").read_text())["customers"] == 1000


def test_contract_shape(raw, data):
    assert sorted(p.name for p in raw.iterdir() if p.name != "_truth") == [
        "accounts.csv", "content.csv", "events", "fx_rates.csv", "identifies.parquet",
        "orders.csv", "products.csv",
    ]  # fmt: skip
    for name, cols in COLUMNS.items():
        if name in ("events", "identifies"):
            path = raw / name if name == "events" else raw / f"{name}.parquet"
            schema = pq.read_schema(
                next(iter(sorted(path.glob("*.parquet")))) if path.is_dir() else path
            )
            assert schema.names == cols
            for f in schema:
                want = pa.float64() if f.name == "revenue" else pa.string()
                assert f.type == want, f
        else:
            assert list(pd.read_csv(raw / f"{name}.csv", nrows=1).columns) == cols
    for p in (raw / "events").iterdir():
        assert re.fullmatch(r"part-\d{5}\.parquet", p.name)


def test_reference_data(raw, data):
    products = pd.read_csv(raw / "products.csv")
    assert products["product_id"].is_unique
    tops = products["category"].str.split(" > ").str[0]
    assert tops.nunique() >= 8
    assert products.groupby(tops)["category"].nunique().between(3, 5).all()
    assert products["category"].value_counts().min() >= 15
    content = pd.read_csv(raw / "content.csv")
    assert len(content) >= 150 and content["page_url"].is_unique
    assert content["page_url"].str.match(r"https://shop\.example\.com/blog/[a-z0-9-]+$").all()
    assert content[["title", "description", "keywords"]].notna().all().all()
    assert content["title"].nunique() >= 0.8 * len(content)
    fx = pd.read_csv(raw / "fx_rates.csv")
    assert set(fx["currency"]) == {"EUR", "GBP"}
    assert fx.groupby("currency")["rate_date"].nunique().min() == 731
    assert fx["rate_to_reporting"].between(0.8, 1.8).all()
    acc = pd.read_csv(raw / "accounts.csv", dtype=str)
    registered = data["people"]["is_registered"].sum()
    assert 0.1 * registered < len(acc) < 0.3 * registered
    assert acc["user_id"].str.strip().is_unique


def test_timestamps_parse_and_stay_in_history(goods):
    for name, col in (
        ("events", "occurred_at"),
        ("orders", "ordered_at"),
        ("identifies", "observed_at"),
    ):
        t = ts(goods[name][col])
        assert t.notna().all()
        assert t.min() >= START and t.max() < CUT, name
    occurred = goods["events"]["occurred_at"]
    assert occurred.str.endswith("Z").mean() > 0.9
    assert occurred.str.contains(r"[+-]\d\d:\d\d$").any()
    # the offset form denotes the same instant: local time minus offset
    sample = occurred[occurred.str.contains(r"\+02:00$")].iloc[0]
    local = pd.Timestamp(sample[:19])
    assert ts(pd.Series([sample]))[0] == (local - pd.Timedelta(hours=2)).tz_localize("UTC")


def test_keys_unique_among_good_rows(goods):
    assert goods["events"]["event_id"].is_unique
    assert goods["orders"]["order_id"].is_unique
    assert goods["events"]["event_id"].str.match(r"ev_[0-9a-f]{16}$").all()


def test_bad_rows_match_files(data):
    bad, ev, od, idf = data["bad"], data["events"], data["orders"], data["identifies"]
    counts = bad.groupby(["dataset", "reason"]).size().to_dict()
    assert set(counts) == {
        ("events", "missing_required:event_id"),
        ("events", "unparseable:occurred_at"),
        ("events", "duplicate_key:event_id"),
        ("events", "future_timestamp:occurred_at"),
        ("events", "no_identifier"),
        ("orders", "missing_required:order_id"),
        ("orders", "negative_amount"),
        ("orders", "no_fx_rate"),
        ("orders", "unparseable:amount"),
        ("orders", "duplicate_key:order_id"),
        ("identifies", "missing_required:observed_at"),
    }
    assert all(5 <= n <= 10 for n in counts.values())
    t = ts(ev["occurred_at"])
    ids = ev[["anonymous_id", "user_id", "email"]].fillna("").apply(lambda c: c.str.strip())
    found = {
        "missing_required:event_id": (ev["event_id"].fillna("") == "").sum(),
        "unparseable:occurred_at": t.isna().sum(),
        "duplicate_key:event_id": ev.loc[ev["event_id"] != "", "event_id"].duplicated().sum(),
        "future_timestamp:occurred_at": (t >= CUT + pd.Timedelta(days=1)).sum(),
        "no_identifier": (ids == "").all(axis=1).sum(),
    }
    for reason, n in found.items():
        assert n == counts[("events", reason)], reason
    amount = pd.to_numeric(od["amount"], errors="coerce")
    found = {
        "missing_required:order_id": od["order_id"].isna().sum(),
        "negative_amount": ((amount < 0) & (od["status"].fillna("completed") == "completed")).sum(),
        "no_fx_rate": (~od["currency"].isin(["USD", "EUR", "GBP"])).sum(),
        "unparseable:amount": amount.isna().sum(),
        "duplicate_key:order_id": od["order_id"].dropna().duplicated().sum(),
    }
    for reason, n in found.items():
        assert n == counts[("orders", reason)], reason
    assert (
        ts(idf["observed_at"]).isna().sum()
        == counts[("identifies", "missing_required:observed_at")]
    )
    # keyed reasons name real rows
    for reason in ("unparseable:occurred_at", "future_timestamp:occurred_at", "no_identifier"):
        keys = bad.loc[bad["reason"] == reason, "key"]
        assert keys.isin(ev["event_id"]).all() and keys.is_unique
    m = data["manifest"]
    assert m["bad_rows_total"] == len(bad)
    assert m["row_counts"]["events"] == len(ev)
    assert m["row_counts"]["orders"] == len(od)
    assert m["row_counts"]["identifies"] == len(idf)


def test_truth_identifiers_are_exactly_the_raw_ones(data, links):
    truth = data["truth_ids"]
    shared = {(r.identifier_type, r.identifier_value) for r in data["shared"].itertuples()}
    assert truth.groupby("identifier_type").size().to_dict().keys() == {
        "anonymous_id", "user_id", "email", "phone"
    }  # fmt: skip
    assert not truth.duplicated(["identifier_type", "identifier_value"]).any()
    raw_ids = set()
    for row in links:
        raw_ids.update(row)
    truth_ids = set(zip(truth["identifier_type"], truth["identifier_value"], strict=True))
    assert truth_ids == raw_ids - shared
    assert shared <= raw_ids
    assert truth["person_id"].nunique() > 0.9 * N


def test_identity_recoverable_without_shared_identifiers(data, links):
    """Union-find over good rows (shared identifiers removed) gives exactly the true people."""
    shared = {(r.identifier_type, r.identifier_value) for r in data["shared"].itertuples()}
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in links:
        ids = [i for i in row if i not in shared]
        for a in ids[1:]:
            parent[find(a)] = find(ids[0])
    truth = data["truth_ids"]
    person = dict(
        zip(
            zip(truth["identifier_type"], truth["identifier_value"], strict=True),
            truth["person_id"],
            strict=True,
        )
    )
    comp_people: dict = {}
    person_comps: dict = {}
    for ident, pid in person.items():
        c = find(ident)
        comp_people.setdefault(c, set()).add(pid)
        person_comps.setdefault(pid, set()).add(c)
    assert all(len(s) == 1 for s in comp_people.values())
    assert all(len(s) == 1 for s in person_comps.values())


def test_shared_identifiers_touch_many_people(data, links):
    truth = data["truth_ids"]
    person = dict(
        zip(
            zip(truth["identifier_type"], truth["identifier_value"], strict=True),
            truth["person_id"],
            strict=True,
        )
    )
    shared = data["shared"]
    assert set(shared["identifier_type"]) == {"anonymous_id", "email", "user_id"}
    assert "null@example.com" in set(shared["identifier_value"])
    assert "u_test" in set(shared["identifier_value"])
    keys = set(zip(shared["identifier_type"], shared["identifier_value"], strict=True))
    people: dict = {k: set() for k in keys}
    for row in links:
        for k in keys.intersection(row):
            people[k].update(person[i] for i in row if i in person)
    for k, who in people.items():
        assert len(who) >= 30, k


def test_messy_identifier_variants_present(data):
    ev, idf = data["events"], data["identifies"]
    emails = pd.concat([ev["email"], idf["email"]]).dropna()
    assert (emails != emails.str.strip()).any()
    assert (emails.str.strip() != emails.str.strip().str.lower()).any()
    assert (emails == "").any()
    phones = idf["phone"].dropna()
    assert phones.str.startswith("+1 (").any() and phones.str.startswith("+44 20 ").any()
    assert phones.str.startswith("0044").any() and phones.str.match(r"^\d{3}-\d{3}-\d{4}$").any()
    assert (ev["user_id"].dropna() != ev["user_id"].dropna().str.strip()).any()


def test_future_truth_strictly_after_as_of(raw, data):
    fo = pd.read_parquet(raw / "_truth" / "future_orders.parquet")
    fe = pd.read_parquet(raw / "_truth" / "future_events.parquet")
    end = CUT + pd.Timedelta(days=365)
    for t in (fo["ordered_at"], fe["occurred_at"]):
        assert len(t) > 0 and t.min() >= CUT and t.max() < end
    assert (fo["amount_usd"] > 0).all()
    assert set(fo["status"]) <= {"completed", "refunded", "cancelled"}
    people = data["people"].set_index("person_id")
    # people who dropped out before as_of never buy again
    dead = people.index[~people["alive_at_as_of"]]
    assert not fo["person_id"].isin(dead).any()
    # the future follows the same process: past buyers buy more in the future
    past_buyer = people["past_orders"] > 0
    future_n = fo.groupby("person_id").size().reindex(people.index, fill_value=0)
    assert future_n[past_buyer].mean() > 2 * future_n[~past_buyer].mean()
    assert {"plan_upgraded", "order_completed", "page_view"} <= set(fe["event_name"])


def test_people_truth(data, goods):
    p = data["people"]
    assert len(p) == N and p["person_id"].is_unique
    never = (p["past_orders_all"] == 0).mean()
    assert 0.35 <= never <= 0.65
    assert 0.55 <= p["is_registered"].mean() <= 0.75
    assert p["alive_at_as_of"].dtype == bool and 0.3 < p["alive_at_as_of"].mean() < 0.95
    assert (p["past_revenue_usd"] >= 0).all()
    # truth revenue equals completed good orders converted with that day's rate
    od = goods["orders"].copy()
    completed = od["status"].fillna("completed").isin(["completed"])
    assert abs(p["past_orders"].sum() - completed.sum()) == 0
    assert p["past_orders_all"].sum() == len(od)
    per_person_events = len(goods["events"]) / N
    assert 30 <= per_person_events <= 80


def test_revenue_truth_matches_orders(raw, data, goods):
    od = goods["orders"].copy()
    od = od[od["status"].fillna("completed") == "completed"]
    fx = pd.read_csv(raw / "fx_rates.csv")
    rate = {(r.currency, r.rate_date): r.rate_to_reporting for r in fx.itertuples()}
    day = ts(od["ordered_at"]).dt.strftime("%Y-%m-%d")
    usd = [
        float(a) * (1.0 if c == "USD" else rate[(c, d)])
        for a, c, d in zip(od["amount"], od["currency"], day, strict=True)
    ]
    assert sum(usd) == pytest.approx(data["people"]["past_revenue_usd"].sum(), rel=1e-9)
    assert (od["currency"] == "USD").mean() == pytest.approx(0.85, abs=0.06)


def test_favourite_category_and_topic_dominate(raw, data, goods):
    truth = data["truth_ids"]
    anon = truth[truth["identifier_type"] == "anonymous_id"].set_index("identifier_value")[
        "person_id"
    ]
    ev = goods["events"].copy()
    ev["person_id"] = ev["anonymous_id"].str.strip().map(anon)
    ev = ev.dropna(subset=["person_id"])
    people = data["people"].set_index("person_id")
    prod = ev[ev["event_name"].isin(["product_view", "add_to_cart", "order_completed"])]
    fav_top = prod["person_id"].map(people["favourite_top_category"])
    in_top = prod["product_category"].str.split(" > ").str[0] == fav_top
    assert 0.65 <= in_top.mean() <= 0.85
    fav_sub = prod["product_category"] == prod["person_id"].map(people["favourite_category"])
    assert 0.45 <= fav_sub.mean() <= 0.7
    per_person = in_top.groupby(prod["person_id"]).agg(["mean", "size"])
    big = per_person[per_person["size"] >= 10]
    assert len(big) > 100 and (big["mean"] > 0.5).mean() > 0.9
    # the favourite subcategory is each person's most frequent one, for most people
    top_sub = prod.groupby("person_id")["product_category"].agg(lambda s: s.value_counts().index[0])
    top_sub = top_sub[big.index]
    assert (top_sub == people.loc[top_sub.index, "favourite_category"]).mean() > 0.8

    content = pd.read_csv(raw / "content.csv")
    pv = ev[ev["page_url"].isin(content["page_url"])]
    # pages are written topic by topic, in the catalogue's topic order
    cat_topics = list(TOPICS)
    pages_per = len(content) // len(cat_topics)
    page_topic = {u: cat_topics[i // pages_per] for i, u in enumerate(content["page_url"])}
    hit = pv["page_url"].map(page_topic) == pv["person_id"].map(people["favourite_topic"])
    assert len(pv) > 1000 and 0.65 <= hit.mean() <= 0.85


def test_events_content(goods):
    ev = goods["events"]
    names = set(ev["event_name"])
    assert {
        "page_view", "product_view", "add_to_cart", "checkout_started", "search", "app_open",
        "login", "order_completed", "plan_upgraded",
    } <= names  # fmt: skip
    oc = ev[ev["event_name"] == "order_completed"]
    assert oc["revenue"].notna().all() and (oc["revenue"] > 0).all()
    assert oc["currency"].isin(["USD", "EUR", "GBP"]).all()
    assert ev.loc[ev["event_name"] != "order_completed", "revenue"].isna().all()
    props = ev["properties"].dropna()
    parsed = props.map(json.loads)
    assert parsed.map(lambda d: isinstance(d, dict)).all()
    up = ev.loc[ev["event_name"] == "plan_upgraded", "properties"].map(json.loads)
    assert (up == {"plan": "pro"}).all()
    cart = ev.loc[ev["event_name"] == "add_to_cart", "properties"].map(json.loads)
    assert cart.map(lambda d: set(d) == {"product_id", "quantity"}).all()
    pp = ev[ev["event_name"] == "product_view"]
    assert (pp["page_url"] == "https://shop.example.com/p/" + pp["product_id"]).all()
    # anonymous_id always present on good events
    assert ev["anonymous_id"].fillna("").str.strip().ne("").all()
