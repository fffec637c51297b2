"""Benchmark the RFM and interest instances (rfm, interest_product, interest_iab, interest_custom).

    .venv/bin/python bench/bench_rfm_interest.py [--customers 1000000] [--events 40] [--seed 0]

Builds, in a throwaway DuckDB file, inputs of the same shape as a `pcdp run` gives the runners:
`customers`, `customer_features` (60 % buyers), `int_customer_events` (`--events` per customer
on average: 35 % page views, 25 % product views, 10 % add-to-carts, 3 % orders, the rest other
events, over two years; each customer has a favourite category and topic), the catalogue
of the generator (620 products, 2,000 content pages) and the seeds. Then runs the four
instances through `pcdp.runtime.run_instance_types` (the same path as the dbt Python models,
including the record tables they return) and prints seconds per instance and in total.
Target: <= 30 s for 1 M customers. Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pcdp.generate.catalog import build_catalog
from pcdp.project import instance_model_inputs
from pcdp.runtime import run_instance_types

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2025, 12, 31)
INSTANCES = """
instances:
  - {id: rfm, type: rfm, status: ready}
  - {id: interest_product, type: interest_product, status: ready, top_k: 3}
  - {id: interest_iab, type: interest_iab, status: ready, top_k: 3}
  - {id: interest_custom, type: interest_custom, status: ready, top_k: 3,
     taxonomy: custom_taxonomy}
"""


def customer_id_sql(number: str) -> str:
    """Customer ids shaped like identity's (cus_ + 16 hex digits), which DuckDB cannot keep
    inline as it does strings of up to 12 bytes: shorter ids made this bench look faster."""
    return f"'cus_' || left(md5(cast({number} as varchar)), 16)"


def build_inputs(con: duckdb.DuckDBPyConnection, customers: int, events: int, seed: int) -> None:
    cat = build_catalog(np.random.default_rng([seed, 1]), pages=2000)
    products = pa.table(
        {
            "product_id": cat.product_ids,
            "product_name": cat.product_names,
            "category": [cat.subcats[s] for s in cat.product_sub],
        }
    )
    content = pa.table(
        {
            "page_url": cat.page_urls,
            "title": cat.page_titles,
            "description": cat.page_descriptions,
            "keywords": cat.page_keywords,
        }
    )
    con.register("products_arrow", products)
    con.register("content_arrow", content)
    con.execute("create table stg_raw__products as select * from products_arrow")
    con.execute("create table stg_raw__content as select * from content_arrow")
    con.execute(
        "create table content_pages as"
        " select row_number() over (order by page_url) - 1 as page_index, page_url"
        " from stg_raw__content"
    )
    n_products = products.num_rows
    n_pages = content.num_rows
    per_sub = n_products // len(cat.subcats)
    for seed_name in ("rfm_segment_map", "iab_content_taxonomy", "iab_keyword_lexicon"):
        types = ", types = {'unique_id': 'VARCHAR', 'parent_id': 'VARCHAR'}"
        con.execute(
            f"create table {seed_name} as select * from read_csv("
            f"'{ROOT / 'seeds' / (seed_name + '.csv')}', header = true"
            f"{types if seed_name == 'iab_content_taxonomy' else ''})"
        )
    con.execute(
        f"create table custom_taxonomy as select * from read_csv("
        f"'{ROOT / 'seeds' / 'custom_taxonomy.csv'}', header = true, all_varchar = true)"
    )
    con.execute(
        f"""
        create table customer_features as
        select
            {customer_id_sql("i")} as customer_id,
            case when hash(i, {seed}, 1) % 100 < 60 then hash(i, {seed}, 2) % 730 end
                as recency_days,
            case when hash(i, {seed}, 1) % 100 < 60
                then 1 + cast(floor(-ln(1 - (hash(i, {seed}, 3) % 1000) / 1000.0) * 2) as bigint)
                else 0 end as frequency,
            case when hash(i, {seed}, 1) % 100 < 60
                then cast((hash(i, {seed}, 4) % 100000) / 100.0 as decimal(18, 4))
                else 0 end as monetary
        from range({customers}) as t(i)
        """
    )
    con.execute(
        f"""
        create table customers as
        select {customer_id_sql("i")} as customer_id, i + 1 as customer_key
        from range({customers}) as t(i)
        """
    )
    con.execute(
        f"""
        create table int_customer_events as
        with raw as (
            select
                i,
                i // {events} as customer,
                hash(i, {seed}, 5) % 100 as kind,
                hash(i, {seed}, 6) as h
            from range({customers} * {events}) as t(i)
        ),
        typed as (
            select
                *,
                case
                    when kind < 35 then 'page_view'
                    when kind < 60 then 'product_view'
                    when kind < 70 then 'add_to_cart'
                    when kind < 73 then 'order_completed'
                    when kind < 85 then 'app_open'
                    else 'search'
                end as event_name,
                -- favourite subcategory 50 %, anything 50 %
                case when h % 2 = 0
                    then (hash(customer, {seed}, 7) % {len(cat.subcats)}) * {per_sub}
                        + (h // 2) % {per_sub}
                    else (h // 2) % {n_products} end as product_index,
                -- favourite topic's pages 75 %, any page 25 %
                case when h % 4 < 3
                    then (hash(customer, {seed}, 8) % 10) * {n_pages // 10}
                        + (h // 4) % {n_pages // 10}
                    else (h // 4) % {n_pages} end as page_index
            from raw
        )
        select
            {customer_id_sql("typed.customer")} as customer_id,
            typed.customer + 1 as customer_key,
            typed.event_name,
            timestamp '{AS_OF}' - to_seconds(cast(typed.h % (730 * 86400) as bigint))
                as occurred_at,
            case when typed.kind between 35 and 72 then products.product_id end as product_id,
            case when typed.kind between 35 and 72 then products.category end
                as product_category,
            case when typed.kind < 35 and typed.h % 10 < 4 then content_pages.page_url
                when typed.kind < 35 then 'https://shop.example.com/' end as page_url,
            null::decimal(18, 4) as revenue,
            null::varchar as properties
        from typed
        left join (
            select row_number() over (order by product_id) - 1 as product_index, *
            from stg_raw__products
        ) as products on typed.product_index = products.product_index
        left join content_pages on typed.page_index = content_pages.page_index
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=40, help="events per customer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--db", help="keep the inputs in this DuckDB file and reuse them when it exists"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pcdp_bench_rfm_interest_") as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "bench.duckdb"
        reuse = db.exists()
        con = duckdb.connect(str(db))
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        started = time.perf_counter()
        if not reuse:
            build_inputs(con, args.customers, args.events, args.seed)
        rows = con.execute("select count(*) from int_customer_events").fetchall()[0][0]
        customers = con.execute("select count(*) from customer_features").fetchall()[0][0]
        print(
            f"inputs: {customers:,} customers, {rows:,} events "
            + (f"(reused {db})" if reuse else f"(built in {time.perf_counter() - started:.1f}s)")
        )
        instances = Path(tmp) / "instances.yml"
        instances.write_text(INSTANCES, encoding="utf-8")
        groups = {
            "rfm": instance_model_inputs("instance_outputs__rfm"),
            "interest": instance_model_inputs("instance_outputs__interest"),
        }
        total = cpu_total = 0.0
        for name, (types, inputs) in groups.items():
            clock = time.perf_counter()
            cpu = time.process_time()
            records = run_instance_types(
                types, instances, AS_OF, con, {k: con.table(v) for k, v in inputs.items()}
            )
            seconds = time.perf_counter() - clock
            cpu_seconds = time.process_time() - cpu
            total += seconds
            cpu_total += cpu_seconds
            for record in records.filter(
                pa.compute.equal(records["record_type"], "status")
            ).to_pylist():
                status = json.loads(record["value"])
                spent = dt.datetime.fromisoformat(
                    status["finished_at"]
                ) - dt.datetime.fromisoformat(status["started_at"])
                print(
                    f"  {record['instance_id']:<18} {status['status']:<9} "
                    f"{status['rows_scored']:>9,} customers  {spent.total_seconds():6.1f}s"
                    + (f"  {record['message'][:200]}" if record["message"] else "")
                )
            print(
                f"{name}: {records.num_rows:,} records in {seconds:.1f}s "
                f"(CPU {cpu_seconds:.1f}s over all threads)"
            )
        print(
            f"total RFM + interest: {total:.1f}s wall, {cpu_total:.1f}s CPU on "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
            f"(target <= 30 s for 1 M customers)"
        )
        con.close()


if __name__ == "__main__":
    main()
