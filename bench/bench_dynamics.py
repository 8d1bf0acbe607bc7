"""Benchmark: segment dynamics over 8 quarters on the synthetic world (default 1M customers, ~10M transactions).

Ours: :func:`workbench.dynamics.segment_states` (purchases per customer and window in one DuckDB query;
all feature families as of each quarter's end with ``build_features``, i.e. DuckDB; scoring with the
fitted :class:`~workbench.segment.SegmentationModel`; PSI per feature; cohort means), then the seven
transition matrices and the staleness curve.

Reference, side by side in the same process: the same windows with plain pandas, for the part that has
a textbook pandas form: per quarter, recency/frequency/monetary as of the quarter's end with
``groupby`` (3 features, where ours computes ~25) plus purchases in the quarter, and
``pandas.crosstab`` transitions of quantile RFM cells. The ratio is therefore conservative.

Prints wall time of each phase, the ratio, and the peak resident memory of each phase (sampled) and of
the whole process. Usage::

    python bench/bench_dynamics.py                      # 1,000,000 customers
    python bench/bench_dynamics.py --n-customers 100000
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import numpy as np
import pandas as pd
import psutil


class PeakRSS:
    """Peak resident memory (GiB) of this process while the block runs, sampled every 50 ms."""

    def __enter__(self):
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.gib = self.peak / 2**30


def reference_pandas(transactions: pd.DataFrame, windows: pd.DataFrame) -> list[pd.DataFrame]:
    """Per quarter: RFM as of the quarter's end and purchases in it (pandas groupby); RFM-cell transitions."""
    cells = []
    purchases = transactions[transactions["amount"] > 0]
    for w in windows.itertuples():
        before = transactions[transactions["timestamp"] < w.end]
        g = before.groupby("customer_id", observed=True)
        rfm = pd.DataFrame({
            "recency": (w.end - g["timestamp"].max()).dt.days,
            "frequency": purchases[purchases["timestamp"] < w.end].groupby("customer_id", observed=True).size(),
            "monetary": g["amount"].sum(),
        })
        in_window = purchases[(purchases["timestamp"] >= w.start) & (purchases["timestamp"] < w.end)]
        rfm["active"] = in_window.groupby("customer_id", observed=True).size().reindex(rfm.index).fillna(0) > 0
        cell = (pd.qcut(-rfm["recency"], 3, labels=False, duplicates="drop").astype(str)
                + pd.qcut(rfm["frequency"].fillna(0).rank(method="first"), 3, labels=False).astype(str))
        cells.append(cell.where(rfm["active"], "inactive").rename(w.label))
    table = pd.concat(cells, axis=1)
    return [pd.crosstab(table[a], table[b]) for a, b in zip(table.columns[:-1], table.columns[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    import workbench
    from workbench import dynamics
    from workbench.segment import SegmentationModel

    with PeakRSS() as gen:
        ds = workbench.load("synthetic", n_customers=args.n_customers, seed=args.seed, migration={
            "source": "Steady regulars", "target": "Loyal high spenders", "share": 0.3, "at": "2026-01-01"})
        customers = ds.customers.drop(columns=["name", "email", "phone"])
        transactions = ds.transactions
        del ds
    print(f"data: {len(customers):,} customers, {len(transactions):,} transactions "
          f"(generated in {gen.seconds:.1f} s, peak {gen.gib:.2f} GiB)")

    windows = dynamics.make_windows(transactions["timestamp"], months=6)
    roles = workbench.data.SYNTHETIC_ROLES
    with PeakRSS() as fit:
        end = dynamics.window_features(customers, transactions, roles, windows["end"].iloc[-1])
        model = SegmentationModel(k=5, random_state=0).fit(end)  # fit on a 50k sample, as stage 02 does
        recorded = pd.DataFrame({"customer_id": end["customer_id"], "segment": model.predict(end[model.feature_names_in_])})
        del end
    print(f"model: features as of the end + k-means fit on a 50k sample + recorded assignment: {fit.seconds:.1f} s, peak {fit.gib:.2f} GiB")

    with PeakRSS() as ours:
        dyn = dynamics.windowed_states(customers, transactions, roles, windows, recorded, model.segment_names_, seed=0)
        labels = dyn.labels
        matrices = [dynamics.transition_matrix(dyn.states, a, b, dyn.state_names(), dyn.value_order, k=10)
                    for a, b in dyn.pairs]
        curve = dynamics.staleness_curve(dyn.segments, labels, dyn.fits)
        grades = dynamics.grade_changes(dyn.states, *dyn.last_pair, dyn.value_order, dyn.names)
    n_inputs = len(dyn.input_names)
    print(f"ours: {len(labels)} windows ({labels[0]}..{labels[-1]}), {n_inputs} features per window, "
          f"{len(matrices)} transition matrices: {ours.seconds:.1f} s, peak {ours.gib:.2f} GiB")
    print(f"  last pair: upgraded {grades.iloc[-1]['upgraded']:.3f}, downgraded {grades.iloc[-1]['downgraded']:.3f}, "
          f"inactive {grades.iloc[-1]['inactive']:.3f}; stale after one window {curve['stale_share'].iloc[0]:.3f}")

    if not args.skip_reference:
        with PeakRSS() as ref:
            reference_pandas(transactions, windows)
        print(f"reference (pandas groupby, RFM only + crosstab): {ref.seconds:.1f} s, peak {ref.gib:.2f} GiB")
        print(f"ratio reference / ours: {ref.seconds / ours.seconds:.2f}x "
              f"(ours computes {n_inputs} features per window and scores them; the reference 3)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"process peak RSS (ru_maxrss): {peak:.2f} GiB")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
