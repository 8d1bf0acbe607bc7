import numpy as np
import pandas as pd

from workbench.compare import change_sentence, verdict_changes


def _selection(male_ratio, low, high, masked=False):
    rows = [
        {"action": "premium_offer", "attribute": "gender", "group": "female", "rate": 0.2, "ratio": 1.0,
         "ratio_low": np.nan, "ratio_high": np.nan, "is_reference": True, "sufficient": True},
        {"action": "premium_offer", "attribute": "gender", "group": "male", "rate": 0.2 * male_ratio,
         "ratio": male_ratio, "ratio_low": low, "ratio_high": high, "is_reference": False, "sufficient": True},
        {"action": "premium_offer", "attribute": "gender", "group": "non-binary", "rate": np.nan if masked else 0.19,
         "ratio": np.nan if masked else 0.95, "ratio_low": np.nan if masked else 0.5,
         "ratio_high": np.nan if masked else 1.5, "is_reference": False, "sufficient": True},
    ]
    return pd.DataFrame(rows)


def _row(verdict):
    return [{"_stage": "04_fairness", "action": "premium_offer", "attribute": "gender", "verdict": verdict,
             "sentence": f"… {verdict}."}]


def test_changed_verdict_gets_a_sentence_with_published_ratios():
    out = verdict_changes(_row("pass"), _row("fail"), _selection(0.91, 0.85, 0.97), _selection(0.74, 0.66, 0.83))
    row = out.iloc[0]
    assert bool(row["changed"]) and row["group_before"] == "male" and row["reference_after"] == "female"
    assert row["sentence"] == ("Selection ratio for premium offer by gender (largest published gap: male vs "
                               "female) fell from 0.91 [0.85, 0.97] to 0.74 [0.66, 0.83]: PASS -> FAIL.")


def test_unchanged_verdict_has_no_sentence_and_masked_groups_are_never_shown():
    out = verdict_changes(_row("pass"), _row("pass"), _selection(0.97, 0.9, 1.05, masked=True),
                          _selection(0.97, 0.9, 1.05, masked=True))
    row = out.iloc[0]
    assert not row["changed"] and row["sentence"] == ""
    assert row["group_before"] == "male"  # the masked non-binary row is never picked


def test_a_hidden_ratio_stays_hidden_in_the_sentence():
    row = {"action": "a", "attribute": "age", "verdict_before": "pass", "verdict_after": "insufficient evidence",
           "group_before": "60+", "group_after": "60+", "reference_before": "30–44", "reference_after": "30–44",
           "ratio_before": 1.1, "ratio_low_before": 1.0, "ratio_high_before": 1.2,
           "ratio_after": np.nan, "ratio_low_after": np.nan, "ratio_high_after": np.nan}
    text = change_sentence(row)
    assert "to hidden (small cells)" in text and text.endswith("PASS -> INSUFFICIENT.")


def test_verdict_only_in_one_run():
    out = verdict_changes([], _row("fail"), None, _selection(0.5, 0.4, 0.6))
    assert out.iloc[0]["sentence"] == "Premium offer by gender was checked only in the later run: not checked -> FAIL."
