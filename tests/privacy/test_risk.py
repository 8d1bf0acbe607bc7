"""Re-identification risk against a plain groupby, and the identifier scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import privacy


def test_reidentification_risk_matches_a_plain_groupby():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "age": rng.integers(18, 80, 2000), "gender": rng.choice(["f", "m", None], 2000),
        "postcode": rng.choice([f"P{i}" for i in range(50)], 2000), "size": rng.integers(1, 4, 2000),
    })
    qis = ["age", "gender", "postcode", "size"]
    risk = privacy.reidentification_risk(df, qis, k=5)
    sizes = df.groupby(qis, dropna=False)["age"].transform("size")
    assert risk["overall"]["k_anonymity"] == sizes.min()
    assert risk["overall"]["share_unique"] == pytest.approx((sizes == 1).mean())
    assert risk["overall"]["share_below_k"] == pytest.approx((sizes < 5).mean())
    assert risk["overall"]["classes"] == df.groupby(qis, dropna=False).ngroups
    combos = risk["combinations"].set_index("combination")
    g = df.groupby(["gender"], dropna=False)["age"].transform("size")
    assert combos.loc["gender", "k_anonymity"] == g.min() and combos.loc["gender", "share_unique"] == 0
    assert len(combos) == 4 + 6 + 4 + 1
    drivers = risk["drivers"].set_index("quasi_identifier")
    without = df.groupby(["gender", "postcode", "size"], dropna=False)["age"].transform("size")
    assert drivers.loc["age", "share_unique_without_it"] == pytest.approx((without == 1).mean())
    assert risk["drivers"]["quasi_identifier"].iloc[0] in {"age", "postcode"}  # the high-cardinality ones
    assert risk["class_sizes"]["customers"].sum() == len(df)
    assert privacy.reidentification_risk(df, [], k=5)["overall"] is None


def test_identifier_scan_flags_columns_holding_emails_or_phones():
    df = pd.DataFrame({"customer_id": ["p1", "p2"], "contact": ["a@b.com", "c@d.org"],
                       "tel": ["+44 7700 900123", "+44 7700 900456"], "region": ["N", "S"]})
    flagged = privacy.identifier_scan(df).set_index("column")["looks_like"].to_dict()
    assert flagged == {"contact": "email", "tel": "phone"}
