"""The verdict rule on exact counts: each case of issue 12's "done when", checked by hand."""

from __future__ import annotations

import pandas as pd

from workbench import fairness

RATIO_ONLY = {"ratio": [0.8, 1.25], "difference": None}


def _verdict(labels, n, selected, favourable=True, thresholds=RATIO_ONLY, **kw):
    t = fairness.compare_counts(labels, n, selected, favourable=favourable).assign(action="offer", attribute="g")
    v = fairness.verdicts(t, thresholds=thresholds, min_group_size=30, alpha=0.05,
                          favourable={"offer": favourable}, **kw)
    return v.iloc[0]


def test_wide_interval_around_one_is_insufficient_never_pass():
    v = _verdict(["a", "b"], [40, 40], [10, 10])  # ratio 1.00, 95% CI 0.47-2.11
    assert v.verdict == "insufficient evidence" and v.groups == {"b": "too wide"}
    assert "interval reaches beyond it" in v.sentence and "0.47–2.11" in v.sentence
    assert v.more_customers > 0 and "more customers at these rates would settle it" in v.sentence


def test_breach_between_two_non_largest_groups_fails():
    # The largest group "a" (30%) sits between b (36%) and c (27%): c/a = 0.9 and b/a = 1.2 are inside
    # the band, but c/b = 0.75 is not. The comparison group is the most favoured, b.
    v = _verdict(["a", "b", "c"], [50000, 20000, 20000], [15000, 7200, 5400])
    assert v.reference == "b" and v.verdict == "fail" and v.worst_group == "c"
    assert "0.75 times the rate of customers with g = b, the group that receives it most" in v.sentence
    assert "Holm correction over all 3 pairs of the 3 groups judged, since the comparison group was chosen for its rate" in v.sentence
    largest = fairness.compare_counts(["a", "b", "c"], [5000, 2000, 2000], [1500, 720, 540], reference="largest")
    assert largest.set_index("group").loc[["b", "c"], "ratio"].between(0.8, 1.25).all()


def test_large_sample_ratio_095_passes():
    v = _verdict(["a", "b"], [20000, 20000], [4000, 3800])  # ratio 0.95, CI 0.91-0.99
    assert v.verdict == "pass" and v.worst_ratio == 0.95
    assert "inside 0.8–1.25" in v.sentence and "no multiplicity correction" in v.sentence


def test_zero_selected_in_200_customers_fails_with_a_real_interval():
    v = _verdict(["a", "b"], [2000, 200], [600, 0])
    t = fairness.compare_counts(["a", "b"], [2000, 200], [600, 0]).set_index("group")
    assert v.verdict == "fail" and "below 0.8 with 95% confidence" in v.sentence
    assert t.loc["b", "ratio_low"] == 0 < t.loc["b", "ratio_high"] < 0.1
    assert 0 == t.loc["b", "rate_low"] < t.loc["b", "rate_high"]


def test_adverse_action_received_most_by_the_smallest_group_fails():
    v = _verdict(["a", "b", "c"], [3000, 3000, 60], [150, 150, 12], favourable=False)
    assert v.reference in ("a", "b") and v.worst_group == "c" and v.verdict == "fail"
    assert "received the offer at 4.00 times the rate" in v.sentence and "receives it least" in v.sentence
    assert "above 1.25 with 95% confidence" in v.sentence


def test_small_intersection_with_unknown_is_ignored():
    labels = ["women × 18–29", "men × 18–29", "women × unknown", "unknown × 18–29"]
    v = _verdict(labels, [3000, 3000, 12, 8], [300, 300, 12, 0])
    assert v.verdict == "pass"
    assert v.groups["women × unknown"] == "ignored" and v.groups["unknown × 18–29"] == "ignored"
    assert v.family_size == 1


def test_small_known_groups_are_named_not_judged_and_not_in_the_family():
    v = _verdict(["a", "b", "c"], [3000, 3000, 12], [300, 180, 0])
    assert v.groups["c"] == "small" and v.family_size == 1 and "'c'" in v.sentence
    assert v.verdict == "fail"


def test_family_is_per_verdict_holm():
    t = pd.concat([
        fairness.compare_counts(["a", "b", "c"], [500, 500, 500], [150, 90, 140]).assign(action="x", attribute="g"),
        fairness.compare_counts(["a", "b"], [500, 500], [150, 100]).assign(action="y", attribute="g"),
        fairness.compare_counts(["a", "b", "c"], [500, 500, 500], [150, 90, 140], reference="a").assign(
            action="z", attribute="g"),
    ], ignore_index=True)
    fam = fairness.decision_family(t, min_group_size=30).set_index(["action", "group"])
    p = fam.loc[("x", "b"), "p_value"]
    assert 0 < p < fam.loc[("x", "c"), "p_value"] == 1  # c/a = 0.93 lies inside the band: p = 1
    # x's comparison group was chosen for its rate: Holm over all 3 pairs of its 3 groups; y's one
    # comparison is not counted in x's family; z's comparison group was named: its 2 comparisons.
    assert abs(fam.loc[("x", "b"), "p_adjusted"] - min(1, 3 * p)) < 1e-12
    assert abs(fam.loc[("y", "b"), "p_adjusted"] - fam.loc[("y", "b"), "p_value"]) < 1e-12
    assert abs(fam.loc[("z", "b"), "p_adjusted"] - min(1, 2 * p)) < 1e-12


def test_suppressed_rows_show_no_number_in_the_sentence():
    t = fairness.compare_counts(["a", "b"], [2000, 200], [600, 5]).assign(action="offer", attribute="g")
    t["masked"] = t["group"] == "b"
    v = fairness.verdicts(t, thresholds=RATIO_ONLY, min_group_size=30, alpha=0.05).iloc[0]
    assert v.verdict == "fail" and "suppressed" in v.sentence
    assert "2.5%" not in v.sentence and "p =" not in v.sentence and "CI" not in v.sentence


def _masked_verdict(n, selected, masked="b"):
    t = fairness.compare_counts(["a", "b"], n, selected).assign(action="offer", attribute="g")
    t["masked"] = t["group"] == masked
    return fairness.verdicts(t, thresholds=RATIO_ONLY, min_group_size=30, alpha=0.05).iloc[0]


# where a hidden estimate lies, in any words a sentence might use (issue 24, item 6 of the review)
_WHERE = ("below", "above", "within 0.8", "inside", "beyond", "0.8", "1.25", "interval reaches", "gap of")


def test_a_sentence_about_a_suppressed_group_says_nothing_about_where_its_estimate_lies():
    cases = {
        "fail below": _masked_verdict([2000, 200], [600, 5]),          # ratio 0.08, far below the band
        "fail above": _masked_verdict([2000, 200], [200, 80]),         # ratio 4, far above
        "not significant": _masked_verdict([2000, 40], [600, 8]),      # ratio 0.67, interval wide
        "too wide": _masked_verdict([40, 40], [10, 10]),               # ratio 1.00 inside, interval wide
    }
    assert [list(v.groups.values()) for v in cases.values()] == [["fail"], ["fail"], ["not significant"], ["too wide"]]
    for name, v in cases.items():
        assert "suppressed" in v.sentence, name
        assert not [w for w in _WHERE if w in v.sentence], (name, v.sentence)
        assert "more customers" not in v.sentence, name
    # the two kinds of insufficient evidence read alike: telling them apart would say inside or outside
    assert cases["not significant"].sentence == cases["too wide"].sentence
    assert cases["fail below"].verdict == "fail" and "Holm" not in cases["fail below"].sentence


def test_the_selection_table_hides_the_status_of_a_suppressed_group_too():
    from workbench.fairness import views

    v = _masked_verdict([40, 40], [10, 10])
    assert views.published_status(v.groups, masked={"b"}) == {"b": "suppressed"}
    shown = {"b": "not significant", "c": "too wide", "d": "small", "e": "fail"}
    assert views.published_status(shown, masked=set()) == shown
    assert set(views.published_status(shown, masked=set(shown)).values()) == {"suppressed"}


def test_a_suppressed_small_group_is_not_named_as_small_nor_left_out_silently():
    t = fairness.compare_counts(["a", "b", "c", "d"], [3000, 3000, 12, 15], [300, 240, 0, 3])
    t = t.assign(action="offer", attribute="g", masked=t["group"] == "c")
    v = fairness.verdicts(t, thresholds=RATIO_ONLY, min_group_size=30, alpha=0.05).iloc[0]
    assert v.groups["c"] == "small" and v.groups["d"] == "small"  # decided on exact counts
    assert "'d'" in v.sentence and "'c'" not in v.sentence
    assert "suppressed are judged, or left out as too small" in v.sentence


def test_more_customers_is_searched_from_the_printed_counts():
    """Issue 24: "N more customers would settle it" is a printed number: it comes from the counts as printed
    (``printed=``), so two runs one erasure apart do not differ by the erased customer's effect on it."""
    exact = fairness.compare_counts(["a", "b"], [40, 40], [10, 10]).assign(action="offer", attribute="g")
    printed = fairness.compare_counts(["a", "b"], [42, 39], [11, 9]).assign(action="offer", attribute="g")
    rule = dict(thresholds=RATIO_ONLY, min_group_size=30, alpha=0.05, favourable={"offer": True})
    from_exact = fairness.verdicts(exact, **rule).iloc[0]
    from_printed = fairness.verdicts(exact, printed=printed, **rule).iloc[0]
    alone = fairness.verdicts(printed, **rule).iloc[0]
    assert from_printed.verdict == from_exact.verdict == "insufficient evidence"  # decided on the exact counts
    assert from_printed.more_customers == alone.more_customers != from_exact.more_customers
    assert f"{from_printed.more_customers:,}" in from_printed.sentence
