"""Benchmark: SHAP of segment membership, exact linear path vs shap.TreeExplainer on a surrogate.

Both run in this process on the same customers (the synthetic CRM world, k-means with k segments):

* exact: :func:`workbench.explain.global_importance` over *every* customer in batches: the model's
  transform, every segment's score, ``shap.LinearExplainer`` SHAP values of all k scores, mapped to
  original features, the assigned and runner-up segments, the SHAP of the margin between them (what
  the reports explain), each customer's top contributions and the per-segment mean |margin SHAP|;
* reference: a default ``lightgbm.LGBMClassifier`` surrogate (100 rounds x k classes) fitted on a
  sample, explained by ``shap.TreeExplainer`` on ``--tree-sample`` customers.

Prints customers/second for both (wall clock and CPU time), the ratios and the peak memory of the exact path (tracemalloc, a
second pass) and of the process (ru_maxrss).

    .venv/bin/python bench/bench_explain.py --n-customers 1000000 --k 6
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd


def build(n_customers: int, k: int, seed: int):
    from workbench.data import _synthetic
    from workbench.features import rfm

    customers, transactions, _ = _synthetic.generate(n_customers=n_customers, seed=seed)
    numeric = ["price_sensitivity", "brand_affinity", "eco_concern", "email_opens_90d", "site_visits_90d"]
    features = customers[["customer_id", *numeric]].merge(rfm(transactions), on="customer_id", how="left")
    del customers, transactions
    gc.collect()
    features = features.fillna(features.median(numeric_only=True))
    X = features.drop(columns=["customer_id"]).astype(float)
    try:
        from workbench.segment import SegmentationModel

        model = SegmentationModel(method="kmeans", k=k).fit(X)
        kind = "workbench.segment.SegmentationModel(kmeans)"
    except ImportError:
        from sklearn.cluster import KMeans
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        fit_rows = np.random.default_rng(seed).choice(len(X), min(len(X), 200_000), replace=False)
        model = make_pipeline(StandardScaler(), KMeans(k, n_init=1, random_state=seed)).fit(X.iloc[fit_rows])
        kind = "StandardScaler + KMeans pipeline"
    return X, model, kind


def main() -> None:
    import lightgbm as lgb  # imported before any timing: importing shap alone takes about a second
    import shap

    from workbench import explain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--tree-sample", type=int, default=2_000)
    parser.add_argument("--surrogate-fit", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    X, model, kind = build(args.n_customers, args.k, args.seed)
    print(f"data: {len(X):,} customers x {X.shape[1]} features, model {kind}, k={args.k} "
          f"({time.perf_counter() - t0:.1f} s to generate and segment)")

    # -- exact path, every customer ---------------------------------------------------------------
    t, c = time.perf_counter(), time.process_time()
    explainer = explain.centroid_explainer(model, X, background_size=200, random_state=args.seed)
    result = explain.global_importance(explainer, X, batch_size=args.batch_size, top_n=5)
    exact_s, exact_cpu = time.perf_counter() - t, time.process_time() - c
    exact_rate, exact_cpu_rate = len(X) / exact_s, len(X) / exact_cpu
    labels = np.asarray(result["segment"]).astype(int)
    agree = float(np.mean(labels == np.asarray(model.predict(X))))
    del result
    gc.collect()
    tracemalloc.start()
    explain.global_importance(explainer, X, batch_size=args.batch_size, top_n=5)
    _, exact_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"exact (LinearExplainer, all {len(X):,} customers, batches of {args.batch_size:,}): {exact_s:.2f} s, "
          f"{exact_rate:,.0f} customers/s (CPU time {exact_cpu:.2f} s: {exact_cpu_rate:,.0f}/s); peak memory of the explanation {exact_peak / 2**20:,.0f} MiB; "
          f"agreement with model.predict {agree:.4%}")

    # -- reference: default LightGBM surrogate + TreeExplainer, on a sample -------------------------
    rng = np.random.default_rng(args.seed + 1)
    fit_rows = rng.choice(len(X), min(len(X), args.surrogate_fit), replace=False)
    surrogate = lgb.LGBMClassifier(verbose=-1, random_state=args.seed).fit(X.iloc[fit_rows], labels[fit_rows])
    n_trees = surrogate.booster_.num_trees()
    sample = X.iloc[rng.choice(len(X), min(len(X), args.tree_sample), replace=False)]
    tree = shap.TreeExplainer(surrogate)
    t, c = time.perf_counter(), time.process_time()
    values = tree.shap_values(sample)
    tree_s, tree_cpu = time.perf_counter() - t, time.process_time() - c
    tree_rate, tree_cpu_rate = len(sample) / tree_s, len(sample) / tree_cpu
    print(f"reference (shap.TreeExplainer, default LightGBM surrogate, {n_trees} trees, {len(sample):,} customers): "
          f"{tree_s:.2f} s, {tree_rate:,.1f} customers/s (CPU time {tree_cpu:.2f} s: {tree_cpu_rate:,.1f}/s); SHAP array {np.asarray(values).shape}")

    ratio = exact_rate / tree_rate
    print(f"ratio exact / TreeExplainer per customer: {ratio:,.0f}x wall-clock, "
          f"{exact_cpu_rate / tree_cpu_rate:,.0f}x CPU time  (done-when: >= 500x)")
    print("(on a shared machine the CPU-time ratio is the steadier figure: other processes slow the two "
          "timed sections unequally)")
    print(f"process peak RSS (ru_maxrss, includes data generation): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MiB")


if __name__ == "__main__":
    main()
