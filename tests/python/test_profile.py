"""`pcdp profile`: lookup by any identifier, segments, audiences, accounts, score history."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from pcdp.cli import main
from pcdp.warehouse import find_customer, format_profile, profile_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def person(warehouse):
    """A customer with all four identifier types who belongs to an account."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        customer_id = con.execute(
            """
            select i.customer_id from customer_identifiers as i
            where i.customer_id in (
                select customer_id from customer_identifiers
                where identifier_type = 'user_id'
                    and identifier_value in (select user_id from stg_raw__accounts)
            )
            group by 1 having count(distinct i.identifier_type) = 4 order by 1 limit 1
            """
        ).fetchone()[0]
        identifiers = con.execute(
            "select identifier_type, identifier_value from customer_identifiers"
            " where customer_id = ? order by 1, 2",
            [customer_id],
        ).fetchall()
    return customer_id, identifiers


def typed_forms(kind: str, value: str) -> list[str]:
    """How a person might type an identifier."""
    if kind == "email":
        return [value, f"  {value.upper()} "]
    if kind == "phone":
        return [value, f"+{value[:1]} ({value[1:4]}) {value[4:7]}-{value[7:]}"]
    return [value, f" {value} "]


def test_lookup_by_every_identifier_type(warehouse, person, capsys):
    customer_id, identifiers = person
    assert {kind for kind, _ in identifiers} == {"anonymous_id", "email", "phone", "user_id"}
    for kind, value in [("customer_id", customer_id), *identifiers]:
        for typed in typed_forms(kind, value):
            assert main(["profile", "--db", str(warehouse), typed]) == 0, (kind, typed)
            out = capsys.readouterr().out
            assert out.startswith(f"customer {customer_id}\n"), (kind, typed)
            for section in ("identifiers:", "attributes:", "segments:", "audiences:"):
                assert f"\n{section}" in out


def test_unknown_identifier(warehouse, capsys):
    assert main(["profile", "--db", str(warehouse), "nobody@nowhere.example"]) == 1
    assert "no customer has the identifier" in capsys.readouterr().out
    assert main(["profile", "--db", str(warehouse), "x", "--history", "-1"]) == 2


def test_json_profile_matches_the_warehouse(con, warehouse, person, capsys):
    customer_id, identifiers = person
    email = next(value for kind, value in identifiers if kind == "email")
    assert main(["profile", "--db", str(warehouse), email, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["customer_id"] == customer_id
    assert sorted((i["type"], i["value"]) for i in doc["identifiers"]) == identifiers
    profile = con.execute("select * from customer_profile where customer_id = ?", [customer_id])
    names = [c[0] for c in profile.description]
    row = dict(zip(names, profile.fetchone(), strict=True))
    assert set(doc["attributes"]) == set(names)
    assert doc["attributes"]["frequency"] == row["frequency"]
    monetary = None if row["monetary"] is None else float(row["monetary"])
    assert doc["attributes"]["monetary"] == monetary
    segments = {(s["attribute"], s["segment"]) for s in doc["segments"]}
    if row.get("rfm_cluster"):
        assert ("rfm_cluster", row["rfm_cluster"]) in segments
    for name, value in row.items():
        if name.endswith("_segment") and value is True:
            assert (name, "in segment") in segments
    # audience memberships: every built customer audience whose view holds the customer
    built = con.execute(
        "select audience_name, view_name from audience_definitions"
        " where status = 'ok' and target = 'customer' order by 1"
    ).fetchall()
    expected = [
        name
        for name, view in built
        if con.execute(
            f"select count(*) from {view} where customer_id = ?", [customer_id]
        ).fetchone()[0]
    ]
    assert doc["audiences"] == expected
    # accounts, with the account audiences they are in
    accounts = con.execute(
        "select distinct a.account_id from stg_raw__accounts as a inner join"
        " customer_identifiers as i on i.identifier_type = 'user_id'"
        " and a.user_id = i.identifier_value where i.customer_id = ?",
        [customer_id],
    ).fetchall()
    assert [a["account_id"] for a in doc["accounts"]] == sorted(a for (a,) in accounts)
    # score history: the numeric predictions of the recent as-of dates
    history = con.execute(
        "select as_of, attribute, cast(value as double) from predictions"
        " where customer_id = ? and value_type in ('number', 'integer') order by 1 desc, 2",
        [customer_id],
    ).fetchall()
    assert [(h["as_of"], h["attribute"], h["value"]) for h in doc["score_history"]] == [
        (d.isoformat(), a, v) for d, a, v in history
    ]
    if row.get("rfm_recency_score") is not None:
        assert history


def test_history_can_be_turned_off(warehouse, person):
    found = find_customer(warehouse, person[0], history=0)
    assert found["score_history"] == []
    assert "score history: none" in format_profile(found)


def test_format_profile_lists_segments_audiences_accounts_and_history():
    as_of = [dt.date(2025, 11, 30), dt.date(2025, 12, 31)]
    found = {
        "customer_id": "cus_1",
        "identifiers": [("email", "a@b.c", dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1))],
        "attributes": {"customer_id": "cus_1", "churn_30d_score": 0.42},
        "segments": [("rfm_cluster", "Champions"), ("churn_30d_segment", "in segment")],
        "audiences": ["champions", "likely_purchasers"],
        "accounts": [{"account_id": "acc_1", "account_name": "Acme", "audiences": []}],
        "score_history": [
            (as_of[1], "churn_30d_score", 0.42),
            (as_of[0], "churn_30d_score", 0.3),
            (as_of[1], "pcltv_12m", 120.5),
        ],
    }
    text = format_profile(found)
    assert "  rfm_cluster                  Champions" in text
    assert "  churn_30d_segment            in segment" in text
    assert "audiences: champions, likely_purchasers" in text
    assert "account acc_1 (Acme): account audiences: none" in text
    assert "  attribute                    2025-12-31 2025-11-30" in text
    assert "  churn_30d_score                    0.42        0.3" in text
    assert "  pcltv_12m                         120.5          -" in text
    doc = json.loads(profile_json(found))
    assert doc["score_history"][0] == {
        "as_of": "2025-12-31",
        "attribute": "churn_30d_score",
        "value": 0.42,
    }
    assert doc["identifiers"][0]["first_seen_at"] == "2024-01-01T00:00:00"
