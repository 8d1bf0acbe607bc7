"""Fairness of movement: downgrade and lapse rates between two windows by sensitive group."""

from __future__ import annotations

import pandas as pd

from .. import fairness, privacy
from ._transitions import grade_labels


def movement_fairness(
    states: pd.DataFrame,
    customers: pd.DataFrame,
    before: str,
    after: str,
    value_order: list[int],
    sensitive: list[str],
    bands: dict | None = None,
    labels: dict | None = None,
    alpha: float = 0.05,
    n_boot: int = 1000,
    min_group_size: int = 30,
    seed: int = 0,
    k: int | None = None,
) -> pd.DataFrame:
    """Downgrade and lapse rates between two windows by sensitive group, with confidence intervals.

    Among customers in a segment in ``before``: *downgrade* = in a lower-value segment in ``after``
    (denominator: customers active in both windows); *lapse* = inactive in ``after`` (denominator:
    all of them). Groups come from :func:`workbench.fairness.group_labels` (numeric attributes in
    ``bands``, missing values as ``"unknown"``); rates, bootstrap CIs and the comparison with the
    largest group from :func:`workbench.fairness.rate_by_group`. Groups of fewer than ``k``
    customers are masked (:func:`workbench.privacy.suppress_rows`).

    Returns
    -------
    pandas.DataFrame
        ``attribute, outcome`` plus the columns of :func:`workbench.fairness.rate_by_group`.
    """
    a = states[before].to_numpy()
    b = states[after].to_numpy()
    grade = grade_labels(a, b, value_order)
    table = customers.set_index("customer_id")
    bands, labels = bands or {}, labels or {}
    frames = []
    for attr in sensitive:
        if attr not in table.columns:
            continue
        values = table[attr].reindex(states["customer_id"]).reset_index(drop=True)
        groups = fairness.group_labels(values, bands.get(attr), labels.get(attr))
        for outcome, mask, y in [
            ("downgrade", (a >= 0) & (b >= 0), grade == "down"),
            ("lapse", a >= 0, grade == "inactive"),
        ]:
            if not mask.any():
                continue
            res = fairness.rate_by_group(
                y[mask], groups[mask].reset_index(drop=True), n_boot=n_boot, alpha=alpha,
                min_group_size=min_group_size, seed=seed,
            )
            if k:
                res = privacy.suppress_rows(res, "n", k, keep=["group", "is_reference"])
            res.insert(0, "outcome", outcome)
            res.insert(0, "attribute", attr)
            frames.append(res)
    if not frames:
        return pd.DataFrame(columns=["attribute", "outcome", "group", "n", "events", "rate", "rate_low", "rate_high"])
    return pd.concat(frames, ignore_index=True)
