"""Incremental assignment (issue 28): one new month for 1% of the customers against a full re-score.

A synthetic run is prepared and segmented (k = 5, no k selection: the fit is not what is measured),
its history seeded, then one month of new transactions (three purchases each) for 1% of the kept
customers goes through :func:`workbench.scoring.assign_incremental` (``workbench assign --since``).
Side by side, in the same process and on the same engine:

* **full re-score, SQL**: every customer scored by the same exported query on the run's engine
  (features from every transaction, then nearest-centre scoring): what a warehouse would run;
* **full re-score, stage 02's path**: ``features.build_features`` of every customer and
  ``model.predict`` on the driver;
* **incremental**: reading and pseudonymising the new rows, reading the changed customers' stored rows
  from the keyed stores written with the history's seed, checking the new rows against them, features
  and scoring of the changed customers only, appending to the history.

The count of re-scored customers is checked against the batch. Printed: times, ratios, and the
history's growth; the second run of the same batch (a no-op) too.

    python bench/bench_assign.py                        # 1M customers (~11M transactions)
    python bench/bench_assign.py --n-customers 200000
    python bench/bench_assign.py --base /tmp/base_1m      # prepare + stage 02 once, then reuse a copy
    python bench/bench_assign.py --base /tmp/base_1m --repeat 5   # five back-to-back pairs, median ratio
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
import time

import numpy as np
import pandas as pd

import workbench
from workbench import engine, features, scoring, segment
from workbench.data import load_config
from workbench.pipeline import prepare
from workbench.scoring import stage as scoring_stage


def _timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"{label:<48} {seconds:8.2f} s", flush=True)
    return out, seconds


def _new_month(customers: pd.DataFrame, run, start: pd.Timestamp, share: float, seed: int) -> pd.DataFrame:
    """Three purchases each in the month from ``start`` for ``share`` of the run's kept customers (raw ids)."""
    from workbench import privacy

    key = privacy.resolve_key(run.settings("privacy", privacy.DEFAULTS))
    ids = customers["customer_id"].astype(str)
    in_run = pd.read_parquet(run.path / "data" / "customers.parquet", columns=["customer_id"])["customer_id"]
    kept = ids[privacy.pseudonymise(ids, key).isin(set(in_run)).to_numpy()].to_numpy()
    rng = np.random.default_rng(seed)
    who = rng.choice(kept, max(1, int(len(kept) * share)), replace=False)
    n = 3 * len(who)
    return pd.DataFrame({
        "customer_id": np.repeat(who, 3),
        "timestamp": start + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s"),
        "amount": rng.gamma(2.0, 150.0, n).round(2),
        "channel": rng.choice(["web", "app", "store"], n),
        "category": rng.choice(["electronics", "grocery", "home"], n),
    })


def _full_sql(run) -> pd.DataFrame:
    model = scoring.load_centroid_model(run)
    frozen = scoring.frozen_features(run)
    with engine.make_engine(run.config) as eng:
        return scoring_stage._score(eng, model, frozen, scoring_stage._register_scope(eng, run, frozen, None))


def _full_stage02(run) -> np.ndarray:
    model = scoring.load_centroid_model(run)
    with engine.using(run.config):
        table = features.build_features(run.customers(), run.transactions(), run.roles)
    return model.predict(table[model.feature_names_in_])


def _undo_batches(run) -> None:
    """Back to the seeded history: the parts, stored rows and report that batches added are removed."""
    folder = run.path / "artifacts" / "assignments"
    for part in sorted((folder / "history.parquet").glob("part-*.parquet"))[1:]:
        part.unlink()
    for what in ("transactions", "customers", "choices", "flags", "confirmed"):
        shutil.rmtree(folder / what, ignore_errors=True)
    (folder / "batches.json").unlink(missing_ok=True)


def _base_run(n_customers: int, seed: int, base: str | None):
    """A prepared, segmented run: made in a temporary folder, or once in ``base`` and copied from there."""
    config = load_config(dataset="synthetic", overrides=[
        f"dataset.params.n_customers={n_customers}", f"dataset.params.seed={seed}", "segmentation.k=5"])
    folder = Path(tempfile.mkdtemp(prefix="bench_assign_"))
    if base is None or not (Path(base) / "artifacts" / "segments" / "model.joblib").exists():
        target = folder / "run" if base is None else Path(base)
        run, _ = _timed("prepare (not compared)", prepare, config, target)
        _timed("stage 02, k = 5 (not compared)", segment.segment_run, run)
        if base is None:
            return run
    shutil.copytree(base, folder / "run", ignore=shutil.ignore_patterns("assignments"))
    return workbench.Run(folder / "run")


def main(n_customers: int, share: float, seed: int, base: str | None = None, repeat: int = 1) -> None:
    os.environ.setdefault("WORKBENCH_PSEUDONYM_KEY", "bench-assign-key-0123456789abcdef")
    run = _base_run(n_customers, seed, base)
    raw = workbench.load("synthetic", n_customers=n_customers, seed=seed).customers
    n_tx = len(pd.read_parquet(run.path / "data" / "transactions.parquet", columns=["amount"]))
    print(f"{len(run.customers()):,} customers kept, {n_tx:,} transactions")

    _, seeded_s = _timed("seed the history (full SQL re-score + keyed stores)", scoring.seed_history, run.path)
    _, full_sql_s = _timed("full re-score, SQL on the engine", _full_sql, run)
    _, full_py_s = _timed("full re-score, stage 02's path", _full_stage02, run)
    as_of = scoring.frozen_features(run).as_of
    new = _new_month(raw, run, as_of, share, seed)
    report, inc_s = _timed(f"incremental: {new['customer_id'].nunique():,} customers, {len(new):,} rows",
                           scoring.assign_incremental, run.path, new, as_of)
    assert report["rescored"] == new["customer_id"].nunique(), report
    again, again_s = _timed("the same batch again (no-op)", scoring.assign_incremental, run.path, new, as_of)
    assert again["rescored"] == 0
    history = scoring.read_history(run.path)
    print(f"re-scored {report['rescored']:,} (checked), moved {report['moved']:,}; history: {len(history):,} "
          f"intervals in {report['history_parts']} parts, {int(history['valid_to'].notna().sum()):,} closed")
    print(f"incremental / full SQL re-score   = {inc_s / full_sql_s:6.1%}")
    print(f"incremental / full stage-02 path  = {inc_s / full_py_s:6.1%}")
    print(f"seeding {seeded_s:.2f} s is paid once per run")
    ratios = [inc_s / full_sql_s]
    for i in range(1, repeat):  # back to back in this process: the load changes less between the two
        _undo_batches(run)
        _, full_sql_s = _timed(f"[{i + 1}/{repeat}] full re-score, SQL on the engine", _full_sql, run)
        _, inc_s = _timed(f"[{i + 1}/{repeat}] incremental", scoring.assign_incremental, run.path, new, as_of)
        ratios.append(inc_s / full_sql_s)
    if repeat > 1:
        print(f"incremental / full SQL re-score, {repeat} back-to-back pairs: median {np.median(ratios):6.1%} "
              f"(min {min(ratios):.1%}, max {max(ratios):.1%})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.01, help="share of customers with a new month")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--base", help="folder of a prepared, segmented run to reuse (made there when absent)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="pairs of full SQL re-score and incremental batch timed back to back (median ratio)")
    args = parser.parse_args()
    main(args.n_customers, args.share, args.seed, args.base, args.repeat)
