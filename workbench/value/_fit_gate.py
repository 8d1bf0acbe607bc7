"""Does the CLV model fit this data? The holdout check and the spend-frequency test as one verdict.

Two checks, each with a stated tolerance, each failing only when the evidence says the model lies
outside it (the interval wholly beyond the tolerance, as the fairness verdicts do):

* **holdout calibration**: per bucket of calibration-period repeat purchases, the ratio of predicted to
  observed mean holdout purchases must lie within ``[1 - tolerance, 1 + tolerance]``. The observed mean
  has a normal-approximation interval, Bonferroni-corrected over the buckets judged; a bucket fails when
  the whole ratio interval ``[predicted / high, predicted / low]`` lies outside the band. Buckets with
  fewer than ``min_customers`` customers are not judged.
* **spend-frequency independence**: Gamma-Gamma assumes a customer's mean spend per purchase does not
  depend on how often they buy. The Pearson correlation among repeat buyers, with its Fisher-z interval,
  fails when the interval lies wholly beyond ``|r| > correlation_tolerance``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["FitGate", "correlation_check", "fit_gate", "holdout_check"]

#: Beside every CLV number when the gate fails.
UNFIT = "based on a model that does not fit this data"


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def holdout_check(calibration: pd.DataFrame, predicted: np.ndarray, tolerance: float = 0.4, alpha: float = 0.05,
                  min_customers: int = 30, max_bucket: int = 7) -> pd.DataFrame:
    """Per frequency bucket: observed and predicted mean holdout purchases, the ratio's interval, a verdict.

    Parameters
    ----------
    calibration : DataFrame
        :func:`calibration_holdout` output (``frequency``, ``holdout_purchases``).
    predicted : ndarray
        Each customer's predicted holdout purchases (the calibration fit's expected purchases).
    tolerance : float
        Predicted / observed may lie within ``[1 - tolerance, 1 + tolerance]``.

    Returns
    -------
    DataFrame
        ``bucket``, ``customers``, ``actual``, ``predicted``, ``ratio``, ``ratio_low``, ``ratio_high``,
        ``verdict`` (``within tolerance``, ``outside tolerance`` or ``not judged (n < min)``).
    """
    bucket = np.minimum(calibration["frequency"].to_numpy(), max_bucket)
    df = pd.DataFrame({"bucket": bucket, "actual": calibration["holdout_purchases"].to_numpy(float),
                       "predicted": np.asarray(predicted, dtype=float)})
    out = df.groupby("bucket").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                   sd=("actual", "std"), predicted=("predicted", "mean")).reset_index()
    judged = out["customers"] >= min_customers
    z = _z(alpha / max(1, int(judged.sum())))
    half = z * out["sd"].fillna(0.0) / np.sqrt(out["customers"])
    low, high = (out["actual"] - half).clip(lower=1e-12), out["actual"] + half
    out["ratio"] = out["predicted"] / out["actual"].where(out["actual"] > 0)
    out["ratio_low"], out["ratio_high"] = out["predicted"] / high, out["predicted"] / low
    outside = (out["ratio_high"] < 1 - tolerance) | (out["ratio_low"] > 1 + tolerance)
    out["verdict"] = np.where(~judged, f"not judged (n < {min_customers})",
                              np.where(outside, "outside tolerance", "within tolerance"))
    out["bucket"] = [f"{b}+" if b == max_bucket else str(b) for b in out["bucket"]]
    return out.drop(columns="sd")


def correlation_check(x, m, tolerance: float = 0.3, alpha: float = 0.05) -> dict:
    """Spend-frequency correlation among repeat buyers with its Fisher-z interval, judged against ``tolerance``."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    n = int(keep.sum())
    if n < 4 or np.std(x[keep]) == 0 or np.std(m[keep]) == 0:
        return {"r": None, "low": None, "high": None, "n": n, "fits": True,
                "verdict": "not judged (too few repeat buyers or no variation)"}
    r = float(np.corrcoef(x[keep], m[keep])[0, 1])
    zr, half = np.arctanh(np.clip(r, -0.999999, 0.999999)), _z(alpha) / np.sqrt(n - 3)
    low, high = float(np.tanh(zr - half)), float(np.tanh(zr + half))
    outside = low > tolerance or high < -tolerance
    return {"r": r, "low": low, "high": high, "n": n, "fits": not outside,
            "verdict": "outside tolerance" if outside else "within tolerance"}


@dataclass
class FitGate:
    """The verdict of :func:`fit_gate`: ``fits`` and, when not, the reasons in words."""

    holdout: pd.DataFrame
    correlation: dict
    settings: dict
    reasons: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        """Whether both checks pass."""
        return not self.reasons

    def sentence(self) -> str:
        """The verdict in one paragraph a reviewer can check against the holdout table."""
        tol, ctol = self.settings["holdout_tolerance"], self.settings["correlation_tolerance"]
        if self.fits:
            return (f"Model fit: PASS. Predicted holdout purchases lie within ±{tol:.0%} of the observed in every "
                    f"frequency bucket (or the evidence does not say otherwise), and spend does not correlate with "
                    f"frequency beyond |r| = {ctol:g}.")
        return f"Model fit: FAIL: {'; '.join(self.reasons)}. Every CLV number below is {UNFIT}."

    def as_dict(self) -> dict:
        """For ``models.json`` and the summary: the verdict, its reasons and the tolerances."""
        return {"fits": self.fits, "reasons": list(self.reasons), **self.settings,
                "correlation": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.correlation.items()},
                "buckets_outside": [str(b) for b in self.holdout.loc[self.holdout["verdict"] == "outside tolerance",
                                                                       "bucket"]],
                "bucket_verdicts": {str(b): str(v) for b, v in zip(self.holdout["bucket"], self.holdout["verdict"])}}


def fit_gate(calibration: pd.DataFrame, predicted: np.ndarray, frequency, monetary, holdout_tolerance: float = 0.4,
             correlation_tolerance: float = 0.3, alpha: float = 0.05, min_customers: int = 30) -> FitGate:
    """Both checks as one verdict; see the module docstring for the rule.

    ``frequency`` and ``monetary`` are the full-history summary's columns (the spend model's inputs).
    """
    holdout = holdout_check(calibration, predicted, holdout_tolerance, alpha, min_customers)
    corr = correlation_check(frequency, monetary, correlation_tolerance, alpha)
    reasons = []
    bad = holdout[holdout["verdict"] == "outside tolerance"]
    if len(bad):
        worst = bad.iloc[int(np.argmax(np.abs(np.log(bad["ratio"].to_numpy(float)))))]
        reasons.append(f"the holdout check misses by more than ±{holdout_tolerance:.0%} in {len(bad)} of "
                       f"{len(holdout)} frequency buckets (worst: bucket {worst['bucket']}, {worst['actual']:.2f} "
                       f"purchases observed, {worst['predicted']:.2f} predicted)")
    if not corr["fits"]:
        reasons.append(f"spend correlates with purchase frequency (r = {corr['r']:.2f}, 95% interval "
                       f"{corr['low']:.2f} to {corr['high']:.2f}, beyond ±{correlation_tolerance:g}), but "
                       "Gamma-Gamma assumes they are independent")
    settings = {"holdout_tolerance": holdout_tolerance, "correlation_tolerance": correlation_tolerance,
                "alpha": alpha, "min_customers": min_customers}
    return FitGate(holdout=holdout, correlation=corr, settings=settings, reasons=reasons)
