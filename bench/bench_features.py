"""Feature building vs lifetimes, and fitting + choosing k, at scale.

Builds customer features from ~10M synthetic transactions (1M customers) with
``workbench.features.build_features`` (DuckDB: every transaction family) and with
``lifetimes.utils.summary_data_from_transaction_data`` (frequency/recency/T/monetary only) in one
process; prints both times, the ratio and peak memory. Then times fitting the segmentation model and
choosing k (report card over k = 2..8) at the same scale.

    python bench/bench_features.py                  # 1M customers
    python bench/bench_features.py --n-customers 50000
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import psutil


class PeakRSS:
    """Sample this process's resident memory every 50 ms; ``peak`` in GiB."""

    def __init__(self):
        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()

    def __enter__(self):
        self.start = self.proc.memory_info().rss
        self.peak = self.start
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()

    def report(self) -> str:
        return f"peak RSS {self.peak / 2**30:.2f} GiB (+{(self.peak - self.start) / 2**30:.2f} GiB during the step)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()

    import numpy as np

    import workbench
    from workbench import features as feat
    from workbench import segment

    t0 = time.perf_counter()
    data = workbench.load("synthetic", n_customers=args.n_customers, seed=0)
    tx, customers = data.transactions, data.customers
    print(f"data: {len(customers):,} customers, {len(tx):,} transactions (generated in {time.perf_counter() - t0:.1f} s)")

    with PeakRSS() as mem:
        t = time.perf_counter()
        ours = feat.build_features(customers, tx, data.roles)
        t_ours = time.perf_counter() - t
    n_tx_features = sum(c in feat.TRANSACTION_FAMILIES or c.startswith(("category_", "channel_")) for c in ours.columns)
    print(f"workbench.build_features (DuckDB): {t_ours:6.2f} s, {ours.shape[1] - 1} features "
          f"({n_tx_features} from transactions), {mem.report()}")
    # The like-for-like part: transactions -> one row per customer, as lifetimes' summary does.
    with PeakRSS() as mem:
        t = time.perf_counter()
        tx_only = feat.transaction_features(tx)
        t_tx = time.perf_counter() - t
    print(f"  of which the transaction aggregation alone (transaction_features): {t_tx:6.2f} s, "
          f"{tx_only.shape[1] - 1} features, {mem.report()}")

    if not args.skip_lifetimes:
        from lifetimes.utils import summary_data_from_transaction_data

        with PeakRSS() as mem:
            t = time.perf_counter()
            ref = summary_data_from_transaction_data(
                tx, "customer_id", "timestamp", monetary_value_col="amount",
                observation_period_end=feat.default_as_of(tx) - np.timedelta64(1, "D"),
            )
            t_ref = time.perf_counter() - t
        print(f"lifetimes summary_data_from_transaction_data: {t_ref:6.2f} s, {ref.shape[1]} features "
              f"(frequency, recency, T, monetary_value), {mem.report()}")
        print(f"ratio, whole feature build (transaction and customer-table families, joined): "
              f"{t_ref / t_ours:.1f}x faster, {n_tx_features} vs {ref.shape[1]} transaction features")
        print(f"ratio, transaction aggregation only (like for like): {t_ref / t_tx:.1f}x faster, "
              f"{tx_only.shape[1] - 1} vs {ref.shape[1]} features")

    X = ours.drop(columns="customer_id")
    X = X.loc[:, X.nunique() > 1]
    settings = segment.DEFAULTS
    with PeakRSS() as mem:
        t = time.perf_counter()
        selector = segment.SegmentationModel(k=2, random_state=0)
        rows = selector._sample(len(X), settings["selection_sample"])
        selector.fit_preprocessor(X.iloc[rows])
        card = segment.choose_k(selector.transform(X.iloc[rows]), settings["k_range"], n_bootstrap=settings["n_bootstrap"],
                                silhouette_sample=settings["silhouette_sample"], n_init=settings["n_init"], random_state=0)
        k, _ = segment.recommend_k(card, **settings["stability"])
        t_k = time.perf_counter() - t
        t = time.perf_counter()
        model = segment.SegmentationModel(k=k, random_state=0, fit_sample=settings["fit_sample"]).fit(X)
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        labels = model.predict(X)
        t_pred = time.perf_counter() - t
    print(f"choosing k (k = 2..8, {settings['n_bootstrap']} bootstrap refits, {settings['selection_sample']:,}-customer sample): "
          f"{t_k:.2f} s -> k = {k}")
    print(f"fit k-means (k = {k}, {settings['fit_sample']:,}-customer sample): {t_fit:.2f} s; "
          f"predict {len(X):,} customers: {t_pred:.2f} s; {mem.report()}")
    truth = data.truth.segments.loc[ours["customer_id"]].to_numpy()
    from sklearn.metrics import adjusted_rand_score

    print(f"ARI vs planted segments at this scale: {adjusted_rand_score(truth, labels):.3f}")
    print(f"process max RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
