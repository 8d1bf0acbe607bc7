"""Driver memory of the pipeline itself: `prepare` + stage 02 (`segment_run`) on DuckDB and Spark local[2].

Issue 16 asks that driver memory not grow with the number of customers. `bench_scale.py` measures the
bare Parquet flow; this one runs the workbench's own path: `workbench.pipeline.prepare` of the
synthetic config (generate, validate, consent and erasure, pseudonyms, written as Parquet) and stage
02 (features in the engine, k chosen and fitted on the driver, every customer scored by the engine).
Each (engine, size) runs in a fresh child process. Printed per step (and for scoring, the part of
stage 02 that used to send every customer to Spark and back): wall time, the peak RSS
(``VmHWM``) of the Python driver and, on Spark, of the JVM it started (driver and executors at once
in local mode); the peak is reset between steps (``/proc/PID/clear_refs``) so each step's own peak
shows. Then the growth per 1,000 customers between the two sizes: what still grows with customers.

    python bench/bench_pipeline_driver.py                     # 20k and 80k, both engines
    python bench/bench_pipeline_driver.py --sizes 5000 20000 --engines spark
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

from bench_scale import _jvm_peak_rss_mb, _jvm_pid, _peak_rss_mb, _status_mb

STEPS = ("prepare", "segment")
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "synthetic.yaml"


def _reset_peak(pid: int | str = "self") -> bool:
    """Start a new peak: writing 5 to ``clear_refs`` sets ``VmHWM`` to the current RSS (Linux >= 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_mb(pid: int | str = "self") -> float | None:
    """Resident memory now (``VmRSS``): what a step starts from."""
    return _status_mb("VmRSS", pid)


def _config(engine_name: str, n: int, spark_memory: str, overrides: list[str]) -> dict:
    from workbench.data import load_config

    return load_config(config=str(CONFIG), overrides=[
        f"dataset.params.n_customers={n}", f"engine={engine_name}",
        f"spark.conf={{spark.driver.memory: {spark_memory}}}", *overrides,
    ])


def _measure(step: str, func, row: dict, jvm: int | None):
    """Run ``func``; record its wall time, the driver's (and JVM's) peak RSS during it, and the rise of
    that peak over the RSS the step started from (``*_rise_mb``: what the step itself added)."""
    reset = _reset_peak() and (jvm is None or _reset_peak(jvm))
    start = {"driver": _rss_mb(), "jvm": _rss_mb(jvm) if jvm else None}
    t = time.perf_counter()
    out = func()
    row[f"{step}_s"] = time.perf_counter() - t
    row[f"{step}_driver_mb"] = _peak_rss_mb()
    row[f"{step}_jvm_mb"] = _peak_rss_mb(jvm) if jvm else None
    for part in ("driver", "jvm"):
        peak = row[f"{step}_{part}_mb"]
        row[f"{step}_{part}_rise_mb"] = None if peak is None else peak - start[part]
    row["peaks_per_step"] = reset
    return out


def _measure_scoring(row: dict, jvm: int | None) -> None:
    """Time stage 02's scoring (``segment.stage._predict``) and its own peaks, inside the segment step.

    The segment step's peak so far is kept in ``segment_pre_*`` before the reset, so the step's
    peak is still the largest of the three parts.
    """
    from workbench.segment import stage

    predict = stage._predict

    def measured(*a, **k):
        row["segment_pre_driver_mb"], row["segment_pre_jvm_mb"] = _peak_rss_mb(), _peak_rss_mb(jvm) if jvm else None
        return _measure("scoring", lambda: predict(*a, **k), row, jvm)

    stage._predict = measured


def child(args) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    from workbench import engine, segment
    from workbench.pipeline import prepare

    config = _config(args.engine, args.n, args.spark_memory, args.set)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    row = {"driver_idle_mb": _peak_rss_mb()}
    t0 = time.perf_counter()
    jvm = None
    if args.engine == "spark":  # the JVM's start is its own step: a fixed cost, not the customers'
        engine.spark_session(engine.engine_settings(config)[1])
        jvm = _jvm_pid()
    row["start_s"] = time.perf_counter() - t0
    run = _measure("prepare", lambda: prepare(config, work / "run", fresh=True), row, jvm)
    _measure_scoring(row, jvm)
    _measure("segment", lambda: segment.segment_run(run), row, jvm)
    for part in ("driver", "jvm"):  # the step's peak: before, during and after scoring
        peaks = [row[f"segment_pre_{part}_mb"], row[f"scoring_{part}_mb"], row[f"segment_{part}_mb"]]
        row[f"segment_{part}_mb"] = max(peaks) if peaks[0] is not None else None
    row.update(total_s=time.perf_counter() - t0, driver_mb=max(row[f"{s}_driver_mb"] for s in STEPS),
               jvm_mb=_jvm_peak_rss_mb() if jvm else None,
               customers_kept=run.read_json("data/prepare.json")["counts"]["customers_kept"])
    print(json.dumps(row))


def _growth(table: pd.DataFrame) -> pd.DataFrame:
    """MB per 1,000 customers between the smallest and largest size, per engine and memory figure."""
    rows = []
    cols = ["prepare_driver_mb", "segment_driver_mb", "scoring_driver_rise_mb",
            "prepare_jvm_mb", "segment_jvm_mb", "scoring_jvm_rise_mb"]
    for name, g in table.groupby("engine"):
        g = g.sort_values("customers")
        small, big = g.iloc[0], g.iloc[-1]
        per_k = (big["customers"] - small["customers"]) / 1000
        if per_k <= 0:
            continue
        rows.append({"engine": name, "from": int(small["customers"]), "to": int(big["customers"]),
                     **{f"{c} per 1k": (big[c] - small[c]) / per_k if pd.notna(big[c]) else None for c in cols}})
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[20_000, 80_000])
    p.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    p.add_argument("--root", default="/tmp/bench_pipeline_driver")
    p.add_argument("--spark-memory", default="2g", help="spark.driver.memory (the JVM heap in local mode)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override, as `workbench run -p` (repeatable)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--engine", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    rows = []
    for n in args.sizes:
        for name in args.engines:
            cmd = [sys.executable, __file__, "--child", "--engine", name, "--n", str(n),
                   "--work", str(Path(args.root) / f"{name}_{n}"), "--spark-memory", args.spark_memory,
                   *(f"--set={s}" for s in args.set)]
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
            rows.append({"engine": name, "customers": n, **json.loads(out)})
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    cols = ["engine", "customers", "start_s", "prepare_s", "segment_s", "scoring_s", "total_s", "driver_idle_mb",
            "prepare_driver_mb", "segment_driver_mb", "scoring_driver_rise_mb", "prepare_jvm_mb", "segment_jvm_mb",
            "scoring_jvm_rise_mb"]
    print(table[cols].round(1).to_string(index=False))
    growth = _growth(table)
    if len(growth):
        print("\nPeak RSS growth, MB per 1,000 customers (largest size minus smallest):")
        print(growth.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
