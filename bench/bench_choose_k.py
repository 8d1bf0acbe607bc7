"""How often does ``k = auto`` find the planted segments? The old rule against the new, per seed.

For each seed, a synthetic world (5 planted segments) is prepared like a run (consent, pseudonyms),
the default segmentation inputs are built, and two report cards are computed on the same customers:

* **before**: 5 bootstrap refits, each with the reference fit's restarts, and the old rule (the
  largest stable k: mean ARI >= 0.8 and least stable segment's mean Jaccard >= 0.85);
* **after**: the current defaults (``segmentation.n_bootstrap`` refits; stability judged per refit:
  every segment must reproduce in 80% of refits; a minimum segment share; silhouette between a
  marginally stable k and the clearly stable k below it; k = 1 a candidate, decided first by the
  gap test of ``segmentation.structure``, issue 25).

A seed *recovers* the planted segments when k = 5 and the fitted model's adjusted Rand index against
the planted truth is >= 0.9. Also printed: the share of refits reproducing every segment at k = 5
and k = 6 (how far the wrong k = 6 is from the threshold, and so how many refits are needed).

Then data without segments (issue 25, "k = 1 is a candidate"): per seed, the same number of customers
drawn from one elongated Gaussian (variances 25, 4, 1, 1, 1: k-means slabs along the long axis
reproduce in every refit) and from a uniform cube, standardised as the model does, and the current
defaults' k = 1 test (the gap test, which alone decides k = 1): how often "no stable segment structure".

    python bench/bench_choose_k.py                      # 20 seeds x 5,000 customers
    python bench/bench_choose_k.py --seeds 20 --n-customers 8000
    python bench/bench_choose_k.py --no-legacy          # skip the old rule's report card (half the time)
    python bench/bench_choose_k.py --part no-segments   # only the data without segments
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from workbench.data import load_config
from workbench.pipeline import prepare
from workbench.segment import DEFAULTS, SegmentationModel, choose_k, k_verdicts, recommend_k, structure_test
from workbench.segment._inputs import segmentation_inputs


def legacy_recommend(card: pd.DataFrame, ari: float = 0.8, jaccard: float = 0.85) -> int:
    """The rule before issue 14: the largest stable k, else the most stable k."""
    stable = (card["stability_ari"] >= ari) & (card["min_jaccard"] >= jaccard)
    if stable.any():
        return int(card.loc[stable, "k"].iloc[-1])
    return int(card.loc[card["stability_ari"].idxmax(), "k"])


NO_SEGMENTS = {
    "elongated Gaussian": lambda rng, n: rng.multivariate_normal(np.zeros(5), np.diag([25.0, 4.0, 1.0, 1.0, 1.0]), n),
    "uniform": lambda rng, n: rng.uniform(size=(n, 5)),
}


def one_null(seed: int, n_customers: int, shape: str) -> dict:
    """The k = 1 decision of the current defaults on data drawn without segments (it should be "no segments").

    :func:`recommend_k` returns k = 1 exactly when the report card's gap test (``choose_k`` runs
    :func:`structure_test` with ``k_max`` = the top of ``k_range`` and ``segmentation.structure``) finds
    no structure, so that test alone decides it; the bootstrap refits only choose among k >= 2.
    """
    X = NO_SEGMENTS[shape](np.random.default_rng(1_000 + seed), n_customers)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    test = structure_test(Z, k_max=int(DEFAULTS["k_range"][1]), random_state=seed, **DEFAULTS["structure"])
    return {"seed": seed, "shape": shape, "no_segments": not test.has_structure, "p": test.p_value}


def one_seed(seed: int, n_customers: int, legacy: bool = True) -> dict:
    config = load_config(dataset="synthetic")
    config["dataset"]["params"] = {"n_customers": n_customers, "seed": seed}
    config["seed"] = seed
    run = prepare(config, tempfile.mkdtemp(prefix="choose_k_"))
    settings = {**DEFAULTS, **config.get("segmentation", {})}
    features, _, X, value = segmentation_inputs(run.customers(), run.transactions(), run.roles,
                                                settings.get("features", {}))
    truth = pd.read_parquet(run.path / "data" / "truth.parquet").set_index("customer_id")["segment"]
    planted = truth.reindex(features["customer_id"]).to_numpy()

    selector = SegmentationModel(k=2, scaler=settings["scaler"], winsorize=settings["winsorize"],
                                 random_state=seed, n_threads=1)
    rows = selector._sample(len(X), settings["selection_sample"])
    selector.fit_preprocessor(X.iloc[rows])
    Z = selector.transform(X.iloc[rows])
    common = dict(k_range=settings["k_range"], silhouette_sample=settings["silhouette_sample"],
                  n_init=settings["n_init"], random_state=seed)
    t0 = time.perf_counter()
    before = choose_k(Z, n_bootstrap=5, refit_n_init=settings["n_init"], structure=False, **common) if legacy else None
    t1 = time.perf_counter()
    after = choose_k(Z, n_bootstrap=settings["n_bootstrap"], refit_n_init=settings["refit_n_init"],
                     structure=settings["structure"], **common)
    t2 = time.perf_counter()
    k_after, _ = recommend_k(after, **settings["stability"], min_share=settings["min_segment_share"],
                             alpha=settings["structure"]["alpha"])
    out = {"seed": seed, "k_after": k_after, "card_s_after": t2 - t1,
           "structure_p": float(after["structure_p"].iloc[0])}
    chosen = {"after": k_after}
    if legacy:
        chosen["before"] = out["k_before"] = legacy_recommend(before)
        out["card_s_before"] = t1 - t0
    for name, k in chosen.items():
        labels = SegmentationModel(k=k, scaler=settings["scaler"], winsorize=settings["winsorize"],
                                   random_state=seed, n_threads=1).fit(X).predict(X)
        out[f"ari_{name}"] = adjusted_rand_score(planted, labels)
    judged = k_verdicts(after, **settings["stability"], min_share=settings["min_segment_share"]).set_index("k")
    for k in (5, 6):
        out[f"reproduced{k}"] = float(judged.loc[k, "reproduced"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n-customers", type=int, default=5000)
    parser.add_argument("--no-legacy", action="store_true", help="skip the old rule's report card")
    parser.add_argument("--part", choices=["both", "planted", "no-segments"], default="both")
    args = parser.parse_args()
    if args.part != "planted":
        no_segments(args.seeds, args.n_customers)
    if args.part == "no-segments":
        return
    names = ("after",) if args.no_legacy else ("before", "after")
    rows = []
    for seed in range(args.seeds):
        rows.append(one_seed(seed, args.n_customers, legacy=not args.no_legacy))
        r = rows[-1]
        print(f"seed {seed:2d}: " + " | ".join(f"{name} k={r[f'k_{name}']} ARI {r[f'ari_{name}']:.3f}" for name in names)
              + f" | gap test p = {r['structure_p']:.3f}", flush=True)
    df = pd.DataFrame(rows)
    for name in names:
        ok = (df[f"k_{name}"] == 5) & (df[f"ari_{name}"] >= 0.9)
        print(f"{name:6s}: k = 5 and ARI >= 0.9 on {ok.sum()}/{len(df)} seeds ({ok.mean():.0%}); "
              f"k chosen {df[f'k_{name}'].value_counts().sort_index().to_dict()}; "
              f"card {df[f'card_s_{name}'].median():.1f} s (median)")
    print(f"share of refits reproducing every segment (after): k=5 median {df['reproduced5'].median():.2f} "
          f"(min {df['reproduced5'].min():.2f}); k=6 median {df['reproduced6'].median():.2f} (max {df['reproduced6'].max():.2f})")
    print(f"gap test p on the planted world: max {df['structure_p'].max():.3f}")


def no_segments(seeds: int, n_customers: int) -> None:
    """How often the k = 1 test says "no segments" on one Gaussian and on uniform data."""
    nulls = pd.DataFrame([one_null(seed, n_customers, shape) for shape in NO_SEGMENTS for seed in range(seeds)])
    for shape, part in nulls.groupby("shape", sort=False):
        ones = int(part["no_segments"].sum())
        print(f"{shape}: k = 1 (no stable segment structure) on {ones}/{len(part)} seeds; gap test p "
              f"min {part['p'].min():.3f}, median {part['p'].median():.3f}", flush=True)


if __name__ == "__main__":
    main()
