"""The review's three attacks, planted: the whole-run check finds each with the mechanism off and
reports 0 recoverable with it on (issue 24)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from workbench import privacy
from workbench.privacy._attack import COMPLEMENT, SMALL, integer_intervals, is_disclosed
from workbench.privacy._joint import _long_form
from workbench.rundir import Run

SCORED = "customers with a predicted value"


def _run(tmp_path, k: int = 10) -> Run:
    run = Run(tmp_path / "run")
    (run.path / "data").mkdir(parents=True)
    (run.path / "data" / "prepare.json").write_text(json.dumps({"suppression_k": k}))
    return run


def _frame(rows: dict, index_name: str, columns: list, column_name: str) -> pd.DataFrame:
    return pd.DataFrame(list(rows.values()), index=pd.Index(list(rows), name=index_name),
                        columns=pd.Index(columns, name=column_name))


def _exact_with_totals(counts: pd.DataFrame) -> pd.DataFrame:
    full = counts.assign(Total=counts.sum(axis=1)).astype(float)
    full.loc["Total"] = full.sum()
    return full


def _recoverable_cells(check) -> set:
    return set(check.findings.loc[check.findings["how"] != "published below k", "cell"])


# -- leak 2: the printed rules and integrality ----------------------------------------------------
ROW = _frame({"a": [1, 1, 20, 24], "b": [30, 40, 20, 24]}, "segment", ["f", "m", "x", "y"], "gender")


def _naive_row_table() -> pd.DataFrame:
    """The review's row [1, 1, 20, 24] published as [–, –, 20, 24] (total 46), with the column
    partners a linear-programming attacker accepts: safe by the LP, both cells are 1 by the rules."""
    published = _exact_with_totals(ROW)
    published.loc["a", ["f", "m"]] = np.nan
    published.loc["b", ["f", "m"]] = np.nan
    published.attrs["complementary"] = [("b", "f"), ("b", "m")]
    return published


def test_the_printed_rule_attack_recovers_what_the_linear_attack_calls_safe():
    published = _naive_row_table()
    assert not privacy.disclosure_intervals(ROW, published, margins=True)["disclosed"].any()  # the old check
    check = privacy.joint_disclosure(_long_form("t", published, "segment", "gender"), 10)
    assert {"gender=f, segment=a", "gender=m, segment=a"} <= _recoverable_cells(check)
    assert set(check.findings["how"]) == {"recovered exactly"}
    assert "1" not in " ".join(check.findings["how"])  # the value itself is never reported


def test_suppression_with_the_integer_attack_leaves_nothing_to_recover():
    published = privacy.suppress_counts(ROW, 10, margins=True)
    check = privacy.joint_disclosure(_long_form("t", published, "segment", "gender"), 10)
    assert check.passed and check.recoverable == 0 and check.n_hidden >= 2


def test_a_narrow_interval_is_a_disclosure_below_the_protection_width():
    """x + y = 3 with both "< k": each is 1 or 2; exact it is not, narrow it is."""
    values = np.array([np.nan, np.nan, 3.0])
    equations = [(np.array([0, 1, 2]), np.array([1.0, 1.0, -1.0]), 0.0)]
    markers = np.array([SMALL, SMALL, 0])
    bounds = integer_intervals(values, equations, markers, k=10, width=2)
    assert bounds[0] == (1.0, 2.0) and is_disclosed(*bounds[0], SMALL, 10, width=2)
    assert not is_disclosed(*bounds[0], SMALL, 10, width=1)  # width 1: only exact values
    assert not is_disclosed(10.0, 10.0, COMPLEMENT, 10)  # a recovered "hidden†" count is >= k or 0


# -- leak 1: an intersection sums to its margins -------------------------------------------------
GENDER = _frame({"0": [20, 40], "1": [35, 45]}, "segment", ["m", "f"], "gender")
INTERSECTION = _frame({"0": [11, 9, 37, 3], "1": [20, 15, 30, 15]}, "segment",
                      ["m × young", "m × old", "f × young", "f × old"], "gender × age")


def _intersection_published_alone() -> pd.DataFrame:
    """segment x (gender × age) suppressed as if no other table existed: safe on its own."""
    return privacy.suppress_counts(INTERSECTION, 10, margins=True)


def test_an_intersection_linked_to_its_margin_gives_hidden_cells_away():
    alone = _intersection_published_alone()
    long_b = _long_form("composition_gender_x_age", alone, "segment", "gender × age")
    assert privacy.joint_disclosure(long_b, 10).passed
    long_a = _long_form("composition_gender", _exact_with_totals(GENDER), "segment", "gender")
    check = privacy.joint_disclosure(pd.concat([long_a, long_b], ignore_index=True), 10)
    # m × old in segment 0 = 20 (m, published) - 11 (m × young) = 9
    assert "age=old, gender=m, segment=0" in _recoverable_cells(check)
    assert not check.passed


def test_the_mechanism_hides_what_the_margin_link_would_give_away(tmp_path):
    run = _run(tmp_path)
    privacy.suppress_and_publish(run, "composition_gender", GENDER, "segment", "gender")
    b = privacy.suppress_and_publish(run, "composition_gender_x_age", INTERSECTION, "segment", "gender × age")
    assert np.isnan(b.loc["0", "m × old"]) and np.isnan(b.loc["0", "m × young"])  # the partner is hidden too
    check = privacy.disclosure_check(run)
    assert check.passed and check.recoverable == 0 and check.n_hidden > 0


# -- leak 4 of the review: populations that differ by a few customers ----------------------------
AGE = _frame({"all": [369, 500]}, "scope", ["60+", "under 60"], "age")
AGE_SCORED = _frame({"both": [200, 300], "neither": [168, 198]}, "value_selection", ["60+", "under 60"], "age")


def test_a_subpopulation_one_customer_short_is_differenced():
    all_customers = _long_form("composition_age", _exact_with_totals(AGE), "scope", "age")
    scored = _long_form("value_targeting_age", _exact_with_totals(AGE_SCORED), "value_selection", "age",
                        population=SCORED, within="")
    check = privacy.joint_disclosure(pd.concat([all_customers, scored], ignore_index=True), 10)
    differences = check.findings.loc[check.findings["how"] == "population difference below k", "cell"]
    assert "age=60+ (in all customers, not in customers with a predicted value)" in set(differences)
    assert check.n_differences >= 1 and not check.passed
    undeclared = _long_form("value_targeting_age", _exact_with_totals(AGE_SCORED), "value_selection", "age",
                            population=SCORED)
    assert privacy.joint_disclosure(pd.concat([all_customers, undeclared], ignore_index=True), 10).passed


def test_the_mechanism_hides_a_subpopulation_cell_that_would_difference(tmp_path):
    run = _run(tmp_path)
    privacy.suppress_and_publish(run, "composition_age", AGE, "scope", "age")
    scored = privacy.suppress_and_publish(run, "value_targeting_age", AGE_SCORED, "value_selection", "age",
                                          population=SCORED, within="")
    assert np.isnan(scored.loc["Total", "60+"])  # 368 of 369: hidden, with its partners
    check = privacy.disclosure_check(run)
    assert check.passed and check.recoverable == 0 and check.n_differences >= 1
    assert set(privacy.published_tables(run)["within"].dropna()) == {""}
