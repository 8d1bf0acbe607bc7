"""CIs of selection rates by group: workbench vs Fairlearn ``MetricFrame(n_boot=...)``.

The audit's intervals are score-based (Wilson, Koopman, Newcombe; ``rate_by_group`` default), computed
from the (group x selected) counts. The count bootstrap (``interval="bootstrap"``) is timed too, as the
like-for-like comparison: both it and ``MetricFrame`` resample customers with replacement. ``MetricFrame`` recomputes every metric on every resampled
table; :func:`workbench.fairness.rate_by_group` draws the (group x selected) counts of each resample
from a multinomial, which is the same bootstrap distribution at a cost independent of the number of
rows. ``MetricFrame`` is timed with a small ``n_boot`` and its per-resample cost is scaled linearly
to ``--n-boot`` resamples.

    python bench/bench_fairness.py                      # 1M customers, 1,000 resamples
    python bench/bench_fairness.py --n-customers 20000  # quick
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd


def _rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--n-boot", type=int, default=1000, help="resamples for the CIs (ours, and the scaled reference)")
    parser.add_argument("--mf-boot", type=int, default=3, help="resamples actually run through MetricFrame")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from fairlearn.metrics import MetricFrame, selection_rate

    from workbench.fairness import rate_by_group

    rng = np.random.default_rng(args.seed)
    n = args.n_customers
    groups = rng.choice(np.array(["female", "male", "non-binary", "unknown"]), n, p=[0.49, 0.47, 0.01, 0.03])
    p_sel = np.select([groups == "female", groups == "male"], [0.12, 0.15], 0.13)
    selected = (rng.uniform(size=n) < p_sel).astype(int)
    sf = pd.Series(groups, name="gender")
    print(f"{n:,} customers, 4 groups; {args.n_boot:,} bootstrap resamples of the selection rate by group")

    t0 = time.perf_counter()
    ours = rate_by_group(selected, sf, seed=args.seed)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    boot = rate_by_group(selected, sf, interval="bootstrap", n_boot=args.n_boot, seed=args.seed)
    t_boot = time.perf_counter() - t0
    rss_ours = _rss_mib()

    t0 = time.perf_counter()
    base = MetricFrame(metrics=selection_rate, y_true=selected, y_pred=selected, sensitive_features=sf)
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    mf = MetricFrame(metrics=selection_rate, y_true=selected, y_pred=selected, sensitive_features=sf,
                     n_boot=args.mf_boot, ci_quantiles=[0.025, 0.975], random_state=args.seed)
    t_mf = time.perf_counter() - t0
    per_resample = max(t_mf - t_base, 0.0) / args.mf_boot
    t_ref = t_base + per_resample * args.n_boot
    rss_all = _rss_mib()

    gap = np.max(np.abs(ours.set_index("group")["rate"] - base.by_group.reindex(ours["group"]).to_numpy()))
    print(ours[["group", "n", "rate", "rate_low", "rate_high", "ratio", "ratio_low", "ratio_high"]].round(4).to_string(index=False))
    print(f"point estimates vs MetricFrame: max |difference| = {gap:.1e}")
    print(boot[["group", "rate_low", "rate_high", "ratio_low", "ratio_high"]].round(4).to_string(index=False))
    print(f"ours, score intervals (workbench.fairness.rate_by_group): {t_ours:.3f} s  (peak RSS {rss_ours:,.0f} MiB)")
    print(f"ours, count bootstrap (interval='bootstrap', n_boot={args.n_boot}): {t_boot:.3f} s")
    print(f"MetricFrame without bootstrap: {t_base:.2f} s; with n_boot={args.mf_boot}: {t_mf:.2f} s "
          f"-> {per_resample:.2f} s per resample")
    print(f"MetricFrame(n_boot={args.n_boot}) scaled linearly: {t_ref:,.0f} s  (peak RSS {rss_all:,.0f} MiB)")
    print(f"ratio (reference / ours, score intervals): {t_ref / t_ours:,.0f}x")
    print(f"ratio (reference / ours, count bootstrap): {t_ref / t_boot:,.0f}x")


if __name__ == "__main__":
    main()
