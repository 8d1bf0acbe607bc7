"""Scale: the whole ``workbench run`` (default), or the features-scoring-fairness flow, on DuckDB and Spark.

The project's synthetic world (``workbench.data.write_parquet_chunks``: planted segments, the
postcode proxy, ~10 transactions per customer) is written once as Parquet in chunks of ``--chunk``
customers, each chunk from its own seed and id range, so the writer never holds more than one
chunk. The first ``n / chunk`` chunk files of the largest base *are* the base of ``n`` customers, so
one write serves every size. Each (engine, size) runs in a fresh child process and reports wall
time per step and the peak RSS of the driver (the Python process) and, for Spark, of the JVM it
started (local mode: the JVM is driver and executors at once). Cost per million customers = total
seconds / millions.

    python bench/bench_scale.py --engines duckdb      # the whole run, 100k and 300k customers
    python bench/bench_scale.py --flow engine --sizes 1000000 3000000 10000000 --engines duckdb spark

``--flow run`` (issue 29): ``workbench run`` itself over the chunk files, as a bring-your-own dataset
(the synthetic world's roles, ``configs/synthetic.yaml``'s stage settings) read by the run's engine
(``dataset.read: engine``). Per stage (``prepare``, each notebook, the records and the PDF): wall time
and the peak RSS (and its rise over the stage's start) of the Python driver (the ``workbench run``
process), of the notebook kernel (where the notebooks' own work runs) and of the JVMs (``_run_monitor``).

``--flow engine`` (issue 16) steps, as the pipeline runs them: every transaction feature in the engine -> Parquet; the model
fitted on the driver on a fixed 50,000-customer sample (so driver memory does not grow with the
number of customers); nearest-centre scoring as a query -> Parquet; the fairness audit: segment x
group counts for gender, age band and ethnicity in the engine, then on the driver (aggregates only)
the policy's selection table per attribute, small-cell suppression, score intervals and verdicts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

SAMPLE = 50_000
ATTRIBUTES = ("gender", "age_band", "ethnicity")


def generate(out: Path, n_customers: int, chunk: int, seed: int = 16) -> Path:
    """Write ``n_customers`` in chunks under ``out`` (skipped when already there)."""
    from workbench.data import write_parquet_chunks

    done = out / f"_complete_{n_customers}_{chunk}_{seed}"
    if not done.exists():
        write_parquet_chunks(out, n_customers, chunk=chunk, seed=seed)
        done.touch()
    return out


def _inputs(data: Path, n: int, chunk: int) -> tuple[list[str], list[str]]:
    """The chunk files that make up the first ``n`` customers."""
    parts = [f"part-{i:05d}.parquet" for i in range(-(-n // chunk))]
    return [str(data / "customers" / p) for p in parts], [str(data / "transactions" / p) for p in parts]


def _log(con, name: str, seconds: float) -> None:
    print(f"  {con.name} {name} {seconds:.1f}", file=sys.stderr, flush=True)


def _features(con, transactions: list[str], work: Path) -> None:
    from workbench.data._synthetic import HISTORY_END
    from workbench.features._defaults import DEFAULTS
    from workbench.features._transactions import TRANSACTION_FAMILIES, _aggregates, _timestamp

    con.register("src", transactions)
    con.register_view("tx", f"SELECT * FROM src WHERE timestamp < {_timestamp(HISTORY_END)}")
    columns = pd.DataFrame(columns=["customer_id", "timestamp", "amount", "category", "channel"])
    sel = _aggregates(con, columns, list(TRANSACTION_FAMILIES), DEFAULTS, HISTORY_END)
    con.to_parquet(f"SELECT {', '.join(sel)} FROM tx GROUP BY customer_id", work / "features")


def _fit(con, work: Path):
    from workbench import segment

    con.register("features", work / "features")
    # The first SAMPLE ids: the chunks are independent draws, so this is a random sample.
    sample = con.sql(f"SELECT * FROM features WHERE customer_id <= 'C{SAMPLE:09d}' ORDER BY customer_id")
    X = sample.drop(columns="customer_id")
    model = segment.SegmentationModel(k=5, random_state=0, fit_sample=SAMPLE, n_init=2).fit(X)
    spend = pd.Series(X["monetary"].to_numpy()).groupby(model.predict(X)).mean()
    return model, int(spend.idxmax())


def _fairness(con, customers: list[str], work: Path, target: int) -> pd.DataFrame:
    """Counts in the engine; selection tables, suppression, intervals and verdicts on the driver."""
    from workbench import engine, fairness, privacy

    con.register("customers", customers).register("segments", work / "segments")
    con.register_view("audit", "SELECT s.segment, c.gender, c.ethnicity, CASE WHEN c.age < 30 THEN '18-29' "
                               "WHEN c.age < 45 THEN '30-44' WHEN c.age < 60 THEN '45-59' ELSE '60+' END AS age_band "
                               "FROM segments AS s JOIN customers AS c ON s.customer_id = c.customer_id")
    rows = []
    for attribute in ATTRIBUTES:
        counts = con.sql(engine.count_query("audit", ["segment", attribute]))
        counts["selected"] = counts["segment"] == target
        table = counts.pivot_table(index=attribute, columns="selected", values="n", aggfunc="sum", fill_value=0)
        published = privacy.suppress_counts(table.rename(columns={True: "selected", False: "not selected"}), k=10)
        n = table.sum(axis=1)
        part = fairness.compare_counts(list(table.index), n.to_numpy(), table.get(True, 0 * n).to_numpy(),
                                       min_group_size=30)
        part["masked"] = published.isna().any(axis=1).to_numpy()
        rows.append(part.assign(action="premium offer", attribute=attribute))
    return fairness.verdicts(pd.concat(rows, ignore_index=True), thresholds={"ratio": [0.8, 1.25]},
                             min_group_size=30, alpha=0.05)


def _steps(con, data: Path, work: Path, n: int, chunk: int) -> dict:
    """Features -> Parquet, fit on a sample, scoring -> Parquet, the fairness audit from counts."""
    from workbench import engine

    customers, transactions = _inputs(data, n, chunk)
    times = {}
    t = time.perf_counter()
    _features(con, transactions, work)
    times["features_s"] = time.perf_counter() - t
    _log(con, "features_s", times["features_s"])

    t = time.perf_counter()
    model, target = _fit(con, work)
    times["fit_sample_s"] = time.perf_counter() - t
    _log(con, "fit_sample_s", times["fit_sample_s"])

    t = time.perf_counter()
    con.to_parquet(engine.score_query(model, "features"), work / "segments")
    times["scoring_s"] = time.perf_counter() - t
    _log(con, "scoring_s", times["scoring_s"])

    t = time.perf_counter()
    verdicts = _fairness(con, customers, work, target)
    times["fairness_s"] = time.perf_counter() - t
    _log(con, "fairness_s", times["fairness_s"])
    times["customers_scored"] = int(con.sql("SELECT count(*) AS n FROM segments")["n"].iloc[0])
    times["verdicts"] = dict(zip(verdicts["attribute"], verdicts["verdict"]))
    return times


def _status_mb(field: str, pid: int | str = "self") -> float | None:
    """A memory line of ``/proc/PID/status`` in MB: ``VmHWM`` (peak) or ``VmRSS`` (now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None


def _peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident memory (VmHWM) of a process. Not ``getrusage``: Linux carries ``ru_maxrss``
    across ``exec``, so a child would report its parent's peak (the chunk writer's) as its own."""
    return _status_mb("VmHWM", pid)


def _jvm_pid() -> int | None:
    """The JVM this process started for Spark; None for Spark Connect or an attached gateway."""
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)
    return None if proc is None else proc.pid


def _jvm_peak_rss_mb() -> float | None:
    """Peak resident memory (VmHWM) of the JVM this process started for Spark, read before it stops."""
    pid = _jvm_pid()
    return None if pid is None else _peak_rss_mb(pid)


def child(args) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    from workbench import engine, segment  # noqa: F401  (imported before the clock starts)

    data, work = Path(args.data), Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    config = {"engine": args.engine, "spark": {"conf": {"spark.driver.memory": args.spark_memory}}}
    con = engine.make_engine(config, threads=2)
    started = time.perf_counter() - t0
    times = _steps(con, data, work, args.n, args.chunk)
    con.close()
    times.update(start_s=started, total_s=time.perf_counter() - t0,
                 driver_rss_mb=_peak_rss_mb(),
                 jvm_rss_mb=_jvm_peak_rss_mb() if args.engine == "spark" else None)
    print(json.dumps(times))


def run_config(data: Path, n: int, chunk: int, engine_name: str, spark_memory: str, folder: Path) -> Path:
    """A config for ``workbench run`` over the first ``n`` customers' chunk files, read by the engine."""
    import yaml

    from workbench.data import load
    from workbench.data._datasets import _role_section

    sample = load("synthetic", n_customers=200)  # only its roles: the columns the chunks have
    roles = {"customers": _role_section(sample.roles),
             "transactions": {k: v for k, v in vars(sample.roles.transactions).items() if v}}
    customers, transactions = _inputs(data, n, chunk)
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "synthetic.yaml").read_text())
    config.update(name=f"scale_{engine_name}_{n}", engine=engine_name,
                  dataset={"customers": customers, "transactions": transactions, "read": "engine", "roles": roles})
    if engine_name == "spark":
        config["spark"] = {"conf": {"spark.driver.memory": spark_memory}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scale_{engine_name}_{n}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def measure_run(data: Path, root: Path, n: int, chunk: int, engine_name: str, spark_memory: str) -> list[dict]:
    """``workbench run`` of ``n`` customers on one engine; one row per stage (see ``_run_monitor``)."""
    import os

    from _run_monitor import RunMonitor

    config = run_config(data, n, chunk, engine_name, spark_memory, root / "configs")
    out = root / f"run_{engine_name}_{n}"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "workbench.cli", "run", "--config", str(config), "--out", str(out)]
    t0 = time.perf_counter()
    monitor = RunMonitor(cmd, env, log=lambda line: print("  " + line, file=sys.stderr, flush=True))
    code = monitor.wait()
    rows = [{"engine": engine_name, "customers": n, **stage} for stage in monitor.stages]
    rows.append({"engine": engine_name, "customers": n, "stage": "total (exit %d)" % code,
                 "seconds": round(time.perf_counter() - t0, 1),
                 **{f"{kind}_peak_mb": max(peaks) for kind in ("driver", "kernel", "jvm")
                    if (peaks := [r[f"{kind}_peak_mb"] for r in monitor.stages if f"{kind}_peak_mb" in r])}})
    return rows


def main_run(args) -> None:
    """``--flow run``: the whole ``workbench run`` per (size, engine); per-stage table and growth per million."""
    root = Path(args.root)
    data = generate(root / "data", max(args.sizes), args.chunk)
    rows = []
    for n in args.sizes:
        if n % args.chunk:
            raise SystemExit(f"--sizes must be multiples of --chunk ({args.chunk:,}); {n:,} is not.")
        for name in args.engines:
            rows += measure_run(data, root, n, args.chunk, name, args.spark_memory)
            # kept after every run: a later size that fails or is stopped loses only its own rows
            (root / f"run_stages_{'_'.join(args.engines)}.json").write_text(json.dumps(rows, indent=1))
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    print(table.astype(object).fillna("").to_string(index=False))
    if len(args.sizes) > 1:  # what grows with customers: the peak's slope between the smallest and largest size
        lo, hi = min(args.sizes), max(args.sizes)
        for kind in ("driver", "kernel", "jvm"):
            col = f"{kind}_peak_mb"
            if col not in table:
                continue
            wide = table.pivot_table(index=["engine", "stage"], columns="customers", values=col, aggfunc="max")
            if {lo, hi} <= set(wide.columns):
                slope = (wide[hi] - wide[lo]) / ((hi - lo) / 1e6)
                print(f"\n{kind} peak MB per million customers ({lo:,} -> {hi:,}):")
                print(slope.round(0).to_string())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--flow", choices=["run", "engine"], default="run",
                   help="run: the whole `workbench run`; engine: issue 16's features-scoring-fairness flow")
    # the whole run holds every customer in the notebook kernel (~2-4 GB per million: bench/README.md),
    # so its defaults stay small; the engine flow's are the issue-16 sizes
    p.add_argument("--sizes", type=int, nargs="+", help="default: 100k 300k (run), 1M 3M 10M (engine)")
    p.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    p.add_argument("--chunk", type=int, help="customers per chunk file; default: 50k (run), 250k (engine)")
    p.add_argument("--root", default="/tmp/bench_scale")
    p.add_argument("--spark-memory", default="2g", help="spark.driver.memory (the JVM heap in local mode)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--engine", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    run_flow = args.flow == "run"
    args.sizes = args.sizes or ([100_000, 300_000] if run_flow else [1_000_000, 3_000_000, 10_000_000])
    args.chunk = args.chunk or (50_000 if run_flow else 250_000)
    if run_flow:
        return main_run(args)
    rows = []
    t = time.perf_counter()
    data = generate(Path(args.root) / "data", max(args.sizes), args.chunk)
    print(f"{max(args.sizes):,} customers written in chunks of {args.chunk:,} ({time.perf_counter() - t:.1f} s)",
          flush=True)
    for n in args.sizes:
        if n % args.chunk:
            raise SystemExit(f"--sizes must be multiples of --chunk ({args.chunk:,}); {n:,} is not.")
        for name in args.engines:
            cmd = [sys.executable, __file__, "--child", "--engine", name, "--data", str(data), "--n", str(n),
                   "--chunk", str(args.chunk),
                   "--work", str(Path(args.root) / f"work_{name}_{n}"), "--spark-memory", args.spark_memory]
            # stderr passes through: each step's time shows even if a run is stopped part-way.
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
            row = {"engine": name, "customers": n, **json.loads(out)}
            row["s_per_million"] = row["total_s"] / (n / 1e6)
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    cols = ["engine", "customers", "start_s", "features_s", "fit_sample_s", "scoring_s", "fairness_s", "total_s",
            "s_per_million", "driver_rss_mb", "jvm_rss_mb"]
    print(table[cols].round(1).to_string(index=False))
    for n in args.sizes:
        both = table[table["customers"] == n].set_index("engine")["total_s"]
        if {"duckdb", "spark"} <= set(both.index):
            print(f"{n:,}: Spark local[2] / DuckDB = {both['spark'] / both['duckdb']:.2f}x")


if __name__ == "__main__":
    main()
