"""Scale: transaction features, nearest-centre scoring and fairness counts on DuckDB and Spark local[2].

Synthetic customers (~11 transactions each) are written as Parquet in chunks of ``--chunk``
customers, each chunk from its own seed and id range, so the generator never holds more than one
chunk. Each (engine, size) runs in a fresh child process; it reports wall time per step and the
peak RSS of the driver (the Python process) and, for Spark, of the JVM it started (local mode: the
JVM is driver and executors at once). Cost per million customers = total seconds / millions.

    python bench/bench_scale.py --sizes 1000000 3000000 --engines duckdb spark

The model is fitted on the driver on a fixed-size sample (the first 50,000 customers' features),
as the pipeline does, so driver memory does not grow with the number of customers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01")
DAYS = 730
CATEGORIES = np.array(["grocery", "fashion", "electronics", "home", "beauty"])
CHANNELS = np.array(["web", "store", "app"])


def write_chunk(out: Path, index: int, first_id: int, n: int, seed: int) -> None:
    """One chunk: ``n`` customers from id ``first_id`` and their transactions, two Parquet files."""
    rng = np.random.default_rng([seed, index])
    ids = np.array([f"c{i:09d}" for i in range(first_id, first_id + n)])
    pd.DataFrame({
        "customer_id": ids,
        "gender": rng.choice(["female", "male"], n),
        "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], n),
    }).to_parquet(out / "customers" / f"part-{index:05d}.parquet", index=False)
    per = rng.poisson(10, n) + 1  # ~11 transactions per customer
    owner = np.repeat(ids, per)
    m = len(owner)
    amount = np.round(rng.lognormal(3.5, 0.8, m), 2)
    amount[rng.random(m) < 0.05] *= -1  # returns
    pd.DataFrame({
        "customer_id": owner,
        "timestamp": START + pd.to_timedelta(rng.integers(0, DAYS * 86400, m), unit="s"),
        "amount": amount,
        "category": rng.choice(CATEGORIES, m),
        "channel": rng.choice(CHANNELS, m),
    }).to_parquet(out / "transactions" / f"part-{index:05d}.parquet", index=False)


def generate(out: Path, n_customers: int, chunk: int, seed: int = 16) -> Path:
    """Write ``n_customers`` in chunks under ``out`` (skipped when already there)."""
    done = out / "_complete"
    if done.exists():
        return out
    for sub in ("customers", "transactions"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for index, first in enumerate(range(0, n_customers, chunk)):
        write_chunk(out, index, first, min(chunk, n_customers - first), seed)
    done.touch()
    return out


def _steps(con, data: Path, work: Path) -> dict:
    """Features -> Parquet, fit on a sample, scoring -> Parquet, counts by segment x attribute."""
    from workbench import engine, segment
    from workbench.features._defaults import DEFAULTS
    from workbench.features._transactions import TRANSACTION_FAMILIES, _aggregates, _timestamp

    times = {}
    t = time.perf_counter()
    con.register("src", data / "transactions").register("customers", data / "customers")
    as_of = START + pd.Timedelta(days=DAYS)
    con.register_view("tx", f"SELECT * FROM src WHERE timestamp < {_timestamp(as_of)}")
    columns = pd.DataFrame(columns=["customer_id", "timestamp", "amount", "category", "channel"])
    sel = _aggregates(con, columns, list(TRANSACTION_FAMILIES), DEFAULTS, as_of)
    con.to_parquet(f"SELECT {', '.join(sel)} FROM tx GROUP BY customer_id", work / "features")
    times["features_s"] = time.perf_counter() - t
    print(f"  {con.name} features_s {times['features_s']:.1f}", file=sys.stderr, flush=True)

    t = time.perf_counter()
    con.register("features", work / "features")
    sample = con.sql("SELECT * FROM features WHERE customer_id < 'c000050000' ORDER BY customer_id")
    X = sample.drop(columns="customer_id")
    model = segment.SegmentationModel(k=5, random_state=0, fit_sample=50_000, n_init=2).fit(X)
    times["fit_sample_s"] = time.perf_counter() - t
    print(f"  {con.name} fit_sample_s {times['fit_sample_s']:.1f}", file=sys.stderr, flush=True)

    t = time.perf_counter()
    con.to_parquet(engine.score_query(model, "features"), work / "segments")
    times["scoring_s"] = time.perf_counter() - t
    print(f"  {con.name} scoring_s {times['scoring_s']:.1f}", file=sys.stderr, flush=True)

    t = time.perf_counter()
    con.register("segments", work / "segments")
    con.register_view("audit", "SELECT s.segment, c.gender, c.age_band FROM segments AS s "
                               "JOIN customers AS c ON s.customer_id = c.customer_id")
    counts = [con.sql(engine.count_query("audit", by)) for by in (["segment"], ["segment", "gender"],
                                                                   ["segment", "gender", "age_band"])]
    times["counts_s"] = time.perf_counter() - t
    print(f"  {con.name} counts_s {times['counts_s']:.1f}", file=sys.stderr, flush=True)
    times["customers_counted"] = int(counts[0]["n"].sum())
    return times


def child(args) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    from workbench import engine, segment  # noqa: F401  (imported before the clock starts)

    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    config = {"engine": args.engine, "spark": {"conf": {"spark.driver.memory": args.spark_memory}}}
    con = engine.make_engine(config, threads=2)
    started = time.perf_counter() - t0
    times = _steps(con, data, work)
    con.close()
    if args.engine == "spark":
        engine.spark_session().stop()  # the JVM exits; its peak RSS shows in RUSAGE_CHILDREN
    times.update(start_s=started, total_s=time.perf_counter() - t0,
                 driver_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 jvm_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if args.engine == "spark" else None)
    print(json.dumps(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000])
    p.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    p.add_argument("--chunk", type=int, default=250_000)
    p.add_argument("--root", default="/tmp/bench_scale")
    p.add_argument("--spark-memory", default="3g")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--engine", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    rows = []
    for n in args.sizes:
        t = time.perf_counter()
        data = generate(Path(args.root) / f"data_{n}", n, args.chunk)
        print(f"{n:,} customers written in chunks of {args.chunk:,} ({time.perf_counter() - t:.1f} s)", flush=True)
        for name in args.engines:
            cmd = [sys.executable, __file__, "--child", "--engine", name, "--data", str(data),
                   "--work", str(Path(args.root) / f"work_{name}_{n}"), "--spark-memory", args.spark_memory]
            # stderr passes through: each step's time shows even if a run is stopped part-way.
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
            row = {"engine": name, "customers": n, **json.loads(out)}
            row["s_per_million"] = row["total_s"] / (n / 1e6)
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    cols = ["engine", "customers", "start_s", "features_s", "fit_sample_s", "scoring_s", "counts_s", "total_s",
            "s_per_million", "driver_rss_mb", "jvm_rss_mb"]
    print(table[cols].round(1).to_string(index=False))
    for n in args.sizes:
        both = table[table["customers"] == n].set_index("engine")["total_s"]
        if {"duckdb", "spark"} <= set(both.index):
            print(f"{n:,}: Spark local[2] / DuckDB = {both['spark'] / both['duckdb']:.2f}x")


if __name__ == "__main__":
    main()
