"""Benchmark: CLV models (BG/NBD + Gamma-Gamma) on CDNOW and on 1M simulated customers.

Ours: :mod:`workbench.value` (sufficient statistics in one DuckDB query; maximum likelihood on scipy
over unique (x, t_x, T) rows; closed-form scoring). Reference, side by side in this process:
``lifetimes`` (``summary_data_from_transaction_data``, ``BetaGeoFitter``, ``GammaGammaFitter``,
``customer_lifetime_value``). With ``--pymc PYTHON`` (a throwaway venv with pymc-marketing, e.g.
``python3 -m venv /tmp/pmc && /tmp/pmc/bin/pip install pymc-marketing``) the same CDNOW and 1M fits
run with pymc-marketing's ``BetaGeoModel``/``GammaGammaModel`` (``fit(method="map")``) in a subprocess,
with its import time and first-use compile cost (a fresh pytensor compile directory) measured apart.

The 1M customers are simulated from the BG/NBD and Gamma-Gamma processes themselves (known
parameters, printed beside the estimates), one purchase row per day, so the log has a true answer.

Usage::

    python bench/bench_value.py                              # 1,000,000 customers
    python bench/bench_value.py --n-customers 100000 --pymc /tmp/pmc/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TRUE = {"r": 0.8, "alpha": 40.0, "a": 0.6, "b": 3.0, "p": 6.0, "q": 4.0, "v": 30.0}
HORIZON = 365


def simulate_log(n: int, seed: int = 0) -> pd.DataFrame:
    """A transaction log of ``n`` customers drawn from BG/NBD (days) with Gamma-Gamma spend."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], n)
    drop = rng.beta(TRUE["a"], TRUE["b"], n)
    nu = rng.gamma(TRUE["q"], 1.0 / TRUE["v"], n)
    age = rng.integers(60, 730, n).astype(float)  # first purchase 60..730 days before the end
    ids, days = [np.arange(n)], [np.zeros(n)]
    t, alive, idx = np.zeros(n), np.ones(n, bool), np.arange(n)
    while alive.any():
        t[alive] += rng.exponential(1.0 / lam[alive])
        alive &= t < age
        ids.append(idx[alive]), days.append(np.floor(t[alive]))
        alive &= rng.random(n) >= drop  # drop out right after a purchase
    cid, day = np.concatenate(ids), np.concatenate(days)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(730 - age[cid], unit="D")
    amount = np.round(rng.gamma(TRUE["p"], 1.0 / nu[cid]), 2) + 0.01
    return pd.DataFrame({"customer_id": cid.astype(np.int64), "timestamp": start + pd.to_timedelta(day, unit="D"),
                         "amount": amount})


def timed(label, fn, *args, **kw):
    """Run ``fn``; print wall and CPU seconds (CPU time is steadier on a shared machine); return (out, wall)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  {label:<62s} {dt:8.2f} s wall {cpu:8.2f} s cpu", flush=True)
    return out, dt


def ratio(ours: float, ref: float, what: str) -> None:
    print(f"  => {what}: ours {ours:.2f} s vs reference {ref:.2f} s: {ref / ours:.1f}x", flush=True)


def cdnow_summary() -> pd.DataFrame:
    import importlib.util
    base = Path(importlib.util.find_spec("lifetimes").submodule_search_locations[0]) / "datasets"
    d = pd.read_csv(base / "cdnow_customers_summary_with_transactions.csv")
    return pd.DataFrame({"customer_id": d["ID"], "frequency": d["x"], "recency": d["t_x"], "T": d["T"],
                         "monetary_value": d["zbar"]})


def bench_cdnow() -> None:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    from workbench.value import fit_bgnbd, fit_gamma_gamma

    s = cdnow_summary()
    print("CDNOW sample (2,357 customers, weeks): fit BG/NBD + Gamma-Gamma")
    bg, t_ours = timed("ours: fit_bgnbd + fit_gamma_gamma", lambda: (fit_bgnbd(s.frequency, s.recency, s["T"]),
                                                                       fit_gamma_gamma(s.frequency, s.monetary_value)))
    rep = s[s.frequency > 0]
    _, t_ref = timed("lifetimes: BetaGeoFitter + GammaGammaFitter", lambda: (
        BetaGeoFitter().fit(s.frequency, s.recency, s["T"]), GammaGammaFitter().fit(rep.frequency, rep.monetary_value)))
    print(f"  ours: {bg[0].params} {bg[1].params}")
    ratio(t_ours, t_ref, "CDNOW fit")


def bench_million(n: int, fit_sample: int, lifetimes_summary: bool = True) -> pd.DataFrame:
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    from workbench.value import clv_summary, fit_models, predict_value

    log, _ = timed(f"simulate {n:,} customers", simulate_log, n)
    print(f"{n:,} simulated customers, {len(log):,} purchase rows; true parameters {TRUE}")
    end = pd.Timestamp("2026-01-01")
    summary, t_sum = timed("ours: clv_summary (DuckDB)", clv_summary, log, end)
    if lifetimes_summary:
        ref_sum, t_ref_sum = timed("lifetimes: summary_data_from_transaction_data", summary_data_from_transaction_data,
                                   log, "customer_id", "timestamp", "amount",
                                   observation_period_end=end - pd.Timedelta(days=1), freq="D")
        ratio(t_sum, t_ref_sum, "sufficient statistics")
    else:  # the same numbers (tests/value/test_summary.py checks the definitions agree)
        ref_sum = summary.set_index("customer_id")
    (bg, gg), t_fit = timed(f"ours: fit_models on a {fit_sample:,} sample", fit_models, summary, fit_sample, 0)
    (bg_all, gg_all), t_fit_all = timed("ours: fit_models on everyone", fit_models, summary, None, 0)
    print(f"  ours (sample): {_round(bg.params)} {_round(gg.params)}")
    print(f"  ours (all):    {_round(bg_all.params)} {_round(gg_all.params)}")
    f, r, T, m = (ref_sum[c] for c in ("frequency", "recency", "T", "monetary_value"))
    ref_bg, t_ref_bg = timed("lifetimes: BetaGeoFitter on everyone", BetaGeoFitter().fit, f, r, T)
    rep = m > 0
    ref_gg, t_ref_gg = timed("lifetimes: GammaGammaFitter on everyone", GammaGammaFitter().fit, f[rep], m[rep])
    print(f"  lifetimes:     {_round(ref_bg.params_.to_dict())} {_round(ref_gg.params_.to_dict())}")
    ratio(t_fit_all, t_ref_bg + t_ref_gg, "fit on everyone")
    ratio(t_fit, t_ref_bg + t_ref_gg, "fit on the sample (the stage's default) vs lifetimes on everyone")
    out, t_score = timed("ours: predict_value (P(alive), E[purchases], spend, CLV)", predict_value, summary, bg_all,
                         gg_all, 360, (1.01) ** (365 / 30) - 1, 30)
    _, t_ref_score = timed("lifetimes: P(alive) + E[purchases] + CLV", _lifetimes_score, ref_bg, ref_gg, f, r, T, m)
    ratio(t_score, t_ref_score, "scoring everyone")
    return summary


def _lifetimes_score(bg, gg, f, r, T, m):
    bg.conditional_probability_alive(f, r, T)
    bg.conditional_expected_number_of_purchases_up_to_time(HORIZON, f, r, T)
    return gg.customer_lifetime_value(bg, f, r, T, m, time=12, discount_rate=0.01, freq="D")


def _round(d: dict) -> dict:
    return {k: float(f"{v:.3g}") for k, v in d.items()}


PMC_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
import pandas as pd
t_import = time.perf_counter() - t0
d = pd.read_csv(sys.argv[1])
out = {"import_s": t_import}
t0 = time.perf_counter()
bg = BetaGeoModel(data=d[["customer_id", "frequency", "recency", "T"]]); bg.fit(method="map")
out["bgnbd_s"] = time.perf_counter() - t0
rep = d[d["frequency"] > 0]
t0 = time.perf_counter()
gg = GammaGammaModel(data=rep[["customer_id", "frequency", "monetary_value"]]); gg.fit(method="map")
out["gamma_gamma_s"] = time.perf_counter() - t0
post = bg.idata.posterior
out["params"] = {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b")}
print(json.dumps(out))
"""


def bench_pymc(python: str, summary: pd.DataFrame, label: str, fresh_compile: bool) -> dict:
    """Run pymc-marketing's MAP fits in a subprocess of the throwaway venv; fresh or warm pytensor cache."""
    import os

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "summary.csv"
        summary.to_csv(path, index=False)
        env = dict(os.environ)
        if fresh_compile:
            env["PYTENSOR_FLAGS"] = f"base_compiledir={tmp}/pytensor"
        t0 = time.perf_counter()
        proc = subprocess.run([python, "-c", PMC_SCRIPT, str(path)], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
    if proc.returncode:
        print(proc.stderr[-2000:])
        return {}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  pymc-marketing {label} ({'fresh' if fresh_compile else 'warm'} compile cache): import {out['import_s']:.1f} s, "
          f"BG/NBD MAP {out['bgnbd_s']:.2f} s, Gamma-Gamma MAP {out['gamma_gamma_s']:.2f} s, process {wall:.1f} s; "
          f"{_round(out['params'])}", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-customers", type=int, default=1_000_000)
    ap.add_argument("--fit-sample", type=int, default=200_000)
    ap.add_argument("--pymc", default=None, help="python of a venv with pymc-marketing installed")
    ap.add_argument("--no-lifetimes-summary", action="store_true",
                    help="skip lifetimes' pandas summary (35-42 s per 1M customers, see DESIGN.md) and give it ours")
    args = ap.parse_args(argv)
    _, t_import = timed("import workbench.value", __import__, "workbench.value")
    bench_cdnow()
    summary = bench_million(args.n_customers, args.fit_sample, not args.no_lifetimes_summary)
    if args.pymc:
        print("pymc-marketing (MAP with its default priors):")
        cd = cdnow_summary()
        bench_pymc(args.pymc, cd, "CDNOW", fresh_compile=True)
        bench_pymc(args.pymc, cd, "CDNOW", fresh_compile=False)
        bench_pymc(args.pymc, summary[["customer_id", "frequency", "recency", "T", "monetary_value"]]
                   .assign(customer_id=lambda d: np.arange(len(d))), f"{len(summary):,} customers", fresh_compile=False)


if __name__ == "__main__":
    sys.exit(main())
