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


def test_identifier_scan_agrees_with_the_plain_email_pattern_on_ordinary_values():
    import re

    plain = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I)
    values = ["a@b.com", "mail me: x.y@z.co.uk please", "@b.com", "a@b", "a @b.com", "a@@b.com",
              "a@b.c", "x@y.org@", "no at sign", "two a@b and c@d.info", "a@ b.com", ""]
    from workbench.privacy._risk import _looks_like_email

    assert [_looks_like_email(v) for v in values] == [bool(plain.search(v)) for v in values]


def test_identifier_scan_is_linear_on_a_one_megabyte_value(monkeypatch):
    """The review's hang: a 1 MB cell without '@' (and one full of '@'). The construction is
    linear: the email pattern is only ever matched once per '@', over a window of bounded length,
    and the phone pattern never sees a value longer than a phone number."""
    import time

    from workbench.privacy import _risk

    calls = []
    real = _risk._EMAIL_DOMAIN

    class Recording:
        def match(self, value, pos, endpos):
            calls.append(endpos - pos)
            return real.match(value, pos, endpos)

    monkeypatch.setattr(_risk, "_EMAIL_DOMAIN", Recording())
    phone_calls = []
    real_phone = _risk._PHONE

    class RecordingPhone:
        def fullmatch(self, value):
            phone_calls.append(len(value))
            return real_phone.fullmatch(value)

    monkeypatch.setattr(_risk, "_PHONE", RecordingPhone())
    long_plain = "a" * 1_000_000
    long_ats = "a@" * 500_000
    start = time.perf_counter()
    flagged = privacy.identifier_scan(pd.DataFrame({"notes": [long_plain, long_ats, "x"]}))
    elapsed = time.perf_counter() - start
    assert flagged.empty
    assert len(calls) == long_ats.count("@") and max(calls) <= _risk._MAX_SCANNED
    assert phone_calls == [1]  # only the short value reaches the phone pattern
    assert elapsed < 30  # generous: the quadratic version needs hours here
