"""How a feature enters a model: numeric or not, and its suggested transform (log, none, one-hot)."""

from __future__ import annotations

import pandas as pd

#: How each transaction feature enters the model (recorded again in the fitted model).
TRANSFORMS = {
    "recency": "log",
    "frequency": "log",
    "monetary": "log",
    "tenure": "none",
    "average_order_value": "log",
    "inter_purchase_time": "log",
    "trend": "none",
    "holiday_share": "none",
    "returns_rate": "none",
}


def is_numeric(s: pd.Series) -> bool:
    """True for a numeric column that is not boolean (booleans are categories)."""
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def suggest_transform(name: str, s: pd.Series, family: str | None) -> str:
    """The transform a model applies to feature ``name``: ``"log"``, ``"none"`` or ``"onehot"``.

    Parameters
    ----------
    name : str
        Feature name; transaction features use :data:`TRANSFORMS`, share columns (``category_*``,
        ``channel_*``) enter as they are.
    s : Series
        The feature's values.
    family : str or None
        The feature's family; non-negative ``value`` and ``engagement`` features go on a log scale.

    Returns
    -------
    str
        ``"onehot"`` for non-numeric columns; ``"log"`` for non-negative value/engagement features
        and for non-negative, strongly right-skewed ones (more than 10 levels, skew > 1.5);
        ``"none"`` otherwise.
    """
    if name in TRANSFORMS:
        return TRANSFORMS[name]
    if name.startswith(("category_", "channel_")):
        return "none"
    if not is_numeric(s):
        return "onehot"
    x = s.dropna().astype(float)
    if len(x) == 0 or x.nunique() <= 2:
        return "none"
    if x.min() >= 0 and (family in ("value", "engagement") or (x.nunique() > 10 and x.skew() > 1.5)):
        return "log"
    return "none"
