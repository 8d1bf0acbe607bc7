"""The whole-run disclosure check: every published table attacked jointly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench import privacy
from workbench.rundir import Run

SEG = pd.DataFrame([[50, 40, 3], [60, 45, 2], [30, 35, 3]], index=pd.Index([0, 1, 2], name="segment"),
                   columns=pd.Index(["f", "m", "nb"], name="gender"))
ACT = pd.DataFrame([[70, 60, 2], [70, 60, 6]], index=pd.Index(["selected", "not selected"], name="action"),
                   columns=SEG.columns)


def _run(tmp_path, k: int = 10) -> Run:
    run = Run(tmp_path / "run")
    (run.path / "data").mkdir(parents=True)
    (run.path / "data" / "prepare.json").write_text(json.dumps({"suppression_k": k}))
    return run


def _long(name, table, row_dim, col_dim):
    table = table.copy()
    rows = [str(r) for r in table.index for _ in table.columns]
    cols = [str(c) for c in table.columns] * len(table.index)
    n = table.to_numpy(dtype=float).ravel()
    return pd.DataFrame({"table": name, "row_dim": row_dim, "row": rows, "col_dim": col_dim, "column": cols,
                         "n": n, "suppressed": np.isnan(n)})


def test_a_total_shown_in_one_table_gives_away_what_another_hides():
    """The review's attack: segment x gender hides the small gender total and its complement;
    a second table (as if suppressed on its own) shows the complement: total minus the rest."""
    a = privacy.suppress_counts(SEG, 10, margins=True)
    assert np.isnan(a.loc["Total", "nb"]) and np.isnan(a.loc["Total", "m"])
    alone = privacy.joint_disclosure(_long("a", a, "segment", "gender"), 10)
    assert alone.passed and alone.n_tables == 1 and alone.n_hidden == int(a.isna().sum().sum())
    leaky = pd.DataFrame([[140.0, 120.0, 268.0]], index=pd.Index(["Total"], name="action"),
                         columns=pd.Index(["f", "m", "Total"], name="gender"))  # gender totals alone
    both = pd.concat([_long("a", a, "segment", "gender"), _long("b", leaky, "action", "gender")])
    check = privacy.joint_disclosure(both, 10)
    recovered = set(check.findings.loc[check.findings["how"] == "recovered exactly", "cell"])
    assert "gender=nb" in recovered  # total minus the published columns
    assert check.recoverable >= 1 and not check.passed
    assert "recoverable" in check.sentence
    assert "8" not in " ".join(check.findings.astype(str).to_numpy().ravel())  # never the value


def test_the_joint_attack_agrees_with_the_single_table_attack():
    exact = pd.DataFrame([[20, 3, 15], [12, 0, 30], [2, 25, 11]])
    naive = pd.DataFrame(np.where(exact.to_numpy() < 10, np.nan, exact.to_numpy()))
    naive["Total"] = exact.sum(axis=1).astype(float)
    naive.loc["Total"] = list(exact.sum().astype(float)) + [float(exact.to_numpy().sum())]
    naive.loc["Total", 1] = exact[1].sum()
    single = privacy.disclosure_intervals(exact, naive, margins=True)
    naive.index, naive.columns = naive.index.astype(str), naive.columns.astype(str)
    joint = privacy.joint_disclosure(_long("t", naive, "r", "c"), 10)
    # a hidden cell recovered as 0 describes no one: the joint attack counts only the customers' counts
    assert joint.recoverable == int((single["disclosed"] & (single["true"] > 0)).sum()) > 0


def test_suppress_and_publish_hides_everywhere_what_an_earlier_table_hides(tmp_path):
    run = _run(tmp_path)
    earlier = pd.DataFrame([[np.nan, 120.0, np.nan, np.nan]], index=pd.Index(["Total"], name="region"),
                           columns=pd.Index(["f", "m", "nb", "Total"], name="gender"))
    privacy.publish_counts(run, "earlier", earlier, "region", "gender")
    a = privacy.suppress_and_publish(run, "composition", SEG, "segment", "gender")
    assert np.isnan(a.loc["Total", "f"]) and np.isnan(a.loc["Total", "Total"])  # hidden by the earlier table
    assert a.loc["Total", "m"] == 120  # shown by the earlier table: hiding it would protect nothing
    b = privacy.suppress_and_publish(run, "targeting", ACT, "action", "gender")
    for col in ("f", "m", "nb"):
        assert np.isnan(b.loc["Total", col]) == np.isnan(a.loc["Total", col])
    check = privacy.disclosure_check(run)
    assert check.passed and check.n_tables == 3
    summary = json.loads((run.path / "summary" / "disclosure.json").read_text())
    assert summary["recoverable_cells"] == 0 and "3 published table(s)" in summary["headline"][0]


def test_tables_of_different_populations_are_not_linked():
    a = _long("a", pd.DataFrame([[40.0, 60.0, 100.0]], index=["all"], columns=["f", "m", "Total"]), "p", "gender")
    b = _long("b", pd.DataFrame([[20.0, np.nan, np.nan]], index=["all"], columns=["f", "m", "Total"]), "p", "gender")
    check = privacy.joint_disclosure(pd.concat([a, b]), 10)
    assert check.conflicts == ["gender=f, p=all"] and check.passed  # b's hidden pair stays hidden


def _leak_pair():
    """segment x gender hiding the nb total (and a complement), and a gender-totals table showing it away."""
    a = privacy.suppress_counts(SEG, 10, margins=True)
    leaky = pd.DataFrame([[140.0, 120.0, 268.0]], index=pd.Index(["Total"], name="action"),
                         columns=pd.Index(["f", "m", "Total"], name="gender"))
    return _long("a", a, "segment", "gender"), _long("b", leaky, "action", "gender")


def _buyers(population):
    """A table over a subpopulation (buyers) with the same dimensions and other totals."""
    table = pd.DataFrame([[30.0, 25.0, 55.0]], index=pd.Index(["Total"], name="action"),
                         columns=pd.Index(["f", "m", "Total"], name="gender"))
    return _long("buyers", table, "action", "gender").assign(population=population)


def test_a_declared_population_is_linked_only_to_itself_and_the_rest_stay_linked():
    a, b = _leak_pair()
    check = privacy.joint_disclosure(pd.concat([a, b, _buyers("customers with a predicted value")]), 10)
    assert not check.conflicts and not check.unlinked
    assert "gender=nb" in set(check.findings["cell"])  # a and b are still attacked together


def test_an_undeclared_population_unlinks_only_the_tables_that_disagree():
    """Before: one disagreeing table made the check attack every table alone, and the leak of b was missed."""
    a, b = _leak_pair()
    check = privacy.joint_disclosure(pd.concat([a, b, _buyers("")]), 10)
    assert check.conflicts and check.unlinked == ["buyers"]
    assert "gender=nb" in set(check.findings["cell"]) and not check.passed
    assert "attacked alone" in check.sentence and "buyers" in check.sentence


def test_publish_counts_records_the_population(tmp_path):
    run = _run(tmp_path)
    table = privacy.suppress_and_publish(run, "value", SEG, "segment", "gender", population="buyers")
    long = privacy.published_tables(run)
    assert set(long["population"]) == {"buyers"} and table.loc["Total", "Total"] == SEG.to_numpy().sum()


# -- whole runs: the tables a run publishes, on every default-suite dataset and on small cells ------
def _segment_and_groups(run: Run) -> tuple[pd.Series, dict]:
    """A stand-in segmentation (quintiles of the first numeric input) and the sensitive groups."""
    customers = run.customers()
    numeric = [c for c in customers.columns if c != "customer_id" and pd.api.types.is_numeric_dtype(customers[c])
               and not pd.api.types.is_bool_dtype(customers[c])]
    if run.roles.segment:
        segment = customers[run.roles.segment].astype(str)
    elif numeric:
        segment = pd.qcut(customers[numeric[0]].rank(method="first"), 5, labels=False)
    else:
        spend = run.transactions().groupby("customer_id")["amount"].sum()
        segment = pd.qcut(customers["customer_id"].map(spend).fillna(0).rank(method="first"), 5, labels=False)
    groups = {}
    for attr in run.roles.sensitive:
        values = customers[attr]
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > 10:
            values = pd.cut(values, [0, 25, 35, 50, 65, 200]).astype(str)
        groups[attr] = values.astype(str)
    return segment.rename("segment"), groups


def _publish_like_a_run(run: Run) -> int:
    """Composition (segment x attribute), targeting (action x attribute) and segment x action."""
    segment, groups = _segment_and_groups(run)
    action = pd.Series(np.where(segment.astype(str).isin(sorted(segment.astype(str).unique())[-2:]),
                                "selected", "not selected"), index=segment.index, name="action")
    tables = [("segment_x_action", pd.crosstab(segment, action), "segment", "action")]
    for attr, values in groups.items():
        tables.append((f"composition_{attr}", pd.crosstab(segment, values), "segment", attr))
        tables.append((f"targeting_{attr}", pd.crosstab(action, values), "action", attr))
    for name, counts, rows, cols in tables:
        privacy.suppress_and_publish(run, name, counts, rows, cols)
    return len(tables)


@pytest.mark.parametrize("dataset", ["synthetic", "telco", "cdnow", "telco_audit"])
def test_a_run_of_each_suite_dataset_discloses_no_cell(dataset, tmp_path):
    from workbench import data, pipeline

    config = data.load_config(config=f"configs/{dataset}.yaml")
    if dataset == "synthetic":
        config["dataset"]["params"]["n_customers"] = 1500
    run = pipeline.prepare(config, tmp_path / dataset)
    n = _publish_like_a_run(run)
    check = privacy.disclosure_check(run)
    assert check.n_tables == n and check.passed, check.findings


def _small_cell_run(tmp_path, k: int) -> tuple[Run, pd.DataFrame]:
    """Six segments, a gender with a rare group and a region: groups of 1-9 customers in several
    segments, and a run directory with suppression threshold ``k``."""
    rng = np.random.default_rng(3)
    rows = []
    for seg, size in enumerate([120, 80, 60, 45, 30, 25]):
        rare = int(rng.integers(1, 10))
        rows += [{"segment": seg, "gender": "x", "region": "north"}] * rare
        rows += [{"segment": seg, "gender": rng.choice(["f", "m"]), "region": rng.choice(["north", "south", "east"])}
                 for _ in range(size)]
    frame = pd.DataFrame(rows)
    return _run(tmp_path, k), frame


@pytest.mark.parametrize("k, judged_at, disclosed", [(10, None, False), (1, 10, True)])
def test_small_cells_are_protected_and_the_control_without_suppression_is_caught(tmp_path, k, judged_at, disclosed):
    run, frame = _small_cell_run(tmp_path, k)
    action = np.where(frame["segment"] >= 3, "selected", "not selected")
    privacy.suppress_and_publish(run, "composition_gender", pd.crosstab(frame["segment"], frame["gender"]),
                                 "segment", "gender")
    privacy.suppress_and_publish(run, "composition_region", pd.crosstab(frame["segment"], frame["region"]),
                                 "segment", "region")
    privacy.suppress_and_publish(run, "targeting_gender", pd.crosstab(action, frame["gender"]), "action", "gender")
    privacy.suppress_and_publish(run, "segment_x_action", pd.crosstab(frame["segment"], action), "segment", "action")
    check = privacy.disclosure_check(run, k=judged_at)
    assert check.n_tables == 4
    if disclosed:  # suppression off: the same check finds the rare group's cells
        small = set(check.findings["cell"])
        assert {f"gender=x, segment={s}" for s in range(6)} <= small
    else:
        assert check.passed and check.n_hidden > 0, check.findings


def test_cells_hidden_because_another_table_hides_them_are_marked_complementary(tmp_path):
    run = _run(tmp_path)
    earlier = pd.DataFrame([[np.nan, 120.0, np.nan, np.nan]], index=pd.Index(["Total"], name="region"),
                           columns=pd.Index(["f", "m", "nb", "Total"], name="gender"))
    privacy.publish_counts(run, "earlier", earlier, "region", "gender")
    a = privacy.suppress_and_publish(run, "composition", SEG, "segment", "gender")
    marked = set(a.attrs["complementary"])
    assert ("Total", "f") in marked and ("Total", "Total") in marked  # 140 and 263 customers: hidden, not small
    hidden = {(r, c) for r in a.index for c in a.columns if np.isnan(a.loc[r, c])}
    exact = SEG.assign(Total=SEG.sum(axis=1))
    exact.loc["Total"] = exact.sum()
    assert marked <= hidden
    # every hidden cell not marked counts 1..k-1 customers: its "< k" label is literally true
    assert all(0 < exact.loc[r, c] < 10 for r, c in hidden - marked)
    assert all(not 0 < exact.loc[r, c] < 10 for r, c in marked)
