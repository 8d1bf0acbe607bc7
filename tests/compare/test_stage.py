"""``workbench compare`` end to end on real runs: no change, the planted migration, a small-cell canary, bad input."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.compare import ONLY_A, ONLY_B, compare_runs, migration_counts, migration_table, write_comparison

TOTAL = "Total"


def _cli(*args):
    return CliRunner().invoke(app, ["compare", *map(str, args)])


def _segments(table: dict) -> tuple[list[str], list[str]]:
    rows = [r for r in table if r not in (ONLY_B, TOTAL)]
    cols = [c for c in next(iter(table.values())) if c not in (ONLY_A, TOTAL)]
    return rows, cols


def _planted_label(run, column: str) -> dict[str, str]:
    """Learned segment name -> the planted segment most of its customers belong to (synthetic truth)."""
    assign = pd.read_parquet(run / "artifacts" / "segments" / "assignments.parquet")
    truth = pd.read_parquet(run / "data" / "truth.parquet")
    both = assign.merge(truth[["customer_id", column]].rename(columns={column: "planted"}), on="customer_id")
    return both.groupby("segment_name")["planted"].agg(lambda s: s.value_counts().index[0]).to_dict()


def test_identical_runs_report_no_change(migration_runs, tmp_path):
    run = migration_runs["earlier"]
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    result = _cli(run, twin, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert data["summary"][0].startswith("No change")
    assert data["verdicts"] and not any(v["changed"] for v in data["verdicts"])
    rows, cols = _segments(data["migration"]["table"])
    assert rows == cols
    off = [data["migration"]["table"][r][c] for r in rows for c in cols if r != c]
    assert off and all(v == 0 for v in off)  # zero, not hidden: nobody moved
    assert data["migration"]["moved"] == 0 and data["migration"]["only_earlier"] == 0
    assert data["drift"]["psi"] and all(p["psi"] == 0 for p in data["drift"]["psi"])
    html = (tmp_path / "out" / "compare.html").read_text()
    assert "No change" in html and "http://" not in html and "https://" not in html


def test_two_periods_show_the_planted_migration(migration_runs, tmp_path):
    """The Steady regulars -> Loyal high spenders flow is the planted one, and published as counted.

    Learned segments are named by the planted segment most of their customers belong to (before the
    migration in the earlier run, after it in the later one). The flow between them, among the
    source segment's planted Steady regulars, is the planted share; it is the largest flow into the
    Loyal segment. (It is not the largest off-diagonal flow of the whole table in this world: new
    customers that stop buying, and seasonal shoppers, move too.)
    """
    a, b = migration_runs["earlier"], migration_runs["later"]
    comparison = compare_runs(a, b)
    _, data_path = write_comparison(comparison, tmp_path)
    data = json.loads(data_path.read_text())
    before, after = _planted_label(a, "segment"), _planted_label(b, "segment_after_migration")
    src = [s for s, p in before.items() if p == "Steady regulars"]
    dst = [s for s, p in after.items() if p == "Loyal high spenders"]
    assert len(src) == 1 and len(dst) == 1, (before, after)
    src, dst = src[0], dst[0]
    assign_a = pd.read_parquet(a / "artifacts" / "segments" / "assignments.parquet")
    assign_b = pd.read_parquet(b / "artifacts" / "segments" / "assignments.parquet")
    exact = migration_counts(assign_a, assign_b)  # what compare counts before suppressing
    stays = [m.earlier for m in comparison.matches.itertuples() if m.later == dst]  # the target's counterpart
    into_target = exact[dst].drop(index=[*stays, ONLY_B])
    assert into_target.idxmax() == src, into_target
    truth = pd.read_parquet(a / "data" / "truth.parquet")
    steady = assign_a.merge(truth[["customer_id", "segment"]].rename(columns={"segment": "planted"}), on="customer_id")
    n_steady = int(((steady["segment_name"] == src) & (steady["planted"] == "Steady regulars")).sum())
    migration = json.loads((a / "data" / "truth.json").read_text())["migration"]
    planted = migration["n_moved"] / migration["n_source"]
    assert abs(exact.loc[src, dst] / n_steady - planted) < 0.1, (exact.loc[src, dst], n_steady, planted)
    # published: every shown cell is the exact count; hidden ones are None, never a different number
    table = data["migration"]["table"]
    for r in exact.index:
        for col in exact.columns:
            assert table[r][col] in (None, int(exact.loc[r, col])), (r, col)
    assert data["segments"]["k_before"] == data["segments"]["k_after"] == 5
    assert any("changed segment" in s or "not shown" in s for s in data["summary"])


def test_a_small_migration_cell_is_shown_as_below_k(migration_runs, tmp_path):
    run = migration_runs["earlier"]
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)
    path = moved / "artifacts" / "segments" / "assignments.parquet"
    assign = pd.read_parquet(path)
    names = assign[["segment", "segment_name"]].drop_duplicates().sort_values("segment")
    (s0, n0), (s1, n1) = names.iloc[0], names.iloc[1]
    canary = assign.index[assign["segment"] == s0][:3]  # three customers: a cell below k = 10
    assign.loc[canary, ["segment", "segment_name"]] = [s1, n1]
    assign.to_parquet(path, index=False)
    result = _cli(run, moved, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "compare.json").read_text())
    k = data["suppression_k"]
    assert data["migration"]["table"][n0][n1] is None  # hidden, in the JSON as in the page
    assert data["migration"]["moved"] is None or data["migration"]["moved"] >= k
    shown = migration_table(compare_runs(run, moved)).frame
    row = shown.loc[shown.iloc[:, 0] == n0].iloc[0]
    assert row[n1] == f"< {k}"
    html = (tmp_path / "out" / "compare.html").read_text()
    assert f"&lt; {k}" in html or f"< {k}" in html
    assert "3 of the" not in html and "3 changed segment" not in html


def _broken(run, tmp_path, how):
    copy = tmp_path / "broken"
    shutil.copytree(run, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    if how == "random key":
        manifest["dataset"]["pseudonym_key_origin"] = "random"
        manifest["dataset"]["pseudonym_key_check"] = None
    elif how == "other key":
        manifest["dataset"]["pseudonym_key_check"] = "0" * 64
    elif how == "other dataset":
        prep = json.loads((copy / "data" / "prepare.json").read_text())
        prep["dataset"] = "telco"
        (copy / "data" / "prepare.json").write_text(json.dumps(prep))
    elif how == "missing artifact":
        (copy / "artifacts" / "segments" / "assignments.parquet").unlink()
    elif how == "not a run":
        shutil.rmtree(copy / "data")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize("how, expected", [
    ("random key", "random per-run pseudonym key"),
    ("other key", "different pseudonym keys"),
    ("other dataset", "different datasets"),
    ("missing artifact", "assignments.parquet is missing"),
    ("not a run", "is not a run directory"),
])
def test_bad_input_is_refused_with_exit_2_and_nothing_written(migration_runs, tmp_path, how, expected):
    broken = _broken(migration_runs["earlier"], tmp_path, how)
    out = tmp_path / "out"
    result = _cli(migration_runs["earlier"], broken, "--out", out)
    assert result.exit_code == 2, result.output
    assert expected in result.output and str(broken) in result.output.replace("\n", "")
    assert not out.exists() or not any(out.iterdir())


def test_compare_json_is_deterministic_and_holds_no_pseudonym(migration_runs, tmp_path):
    a, b = migration_runs["earlier"], migration_runs["later"]
    first = compare_runs(a, b).to_json()
    assert json.dumps(first) == json.dumps(compare_runs(a, b).to_json())
    text = json.dumps(first)
    ids = pd.read_parquet(a / "artifacts" / "segments" / "assignments.parquet")["customer_id"]
    assert not any(i in text for i in ids[:500]) and str(a) not in text
    assert not np.isnan(first["drift"]["psi"][0]["psi"])


def test_a_run_naming_the_earlier_one_compares_itself_on_its_index(migration_runs):
    a, b = migration_runs["earlier"], migration_runs["later"]
    index = (b / "index.html").read_text()
    assert "Compared with the previous audit" in index and 'href="compare.html"' in index
    stored = json.loads((b / "compare.json").read_text())
    assert stored == json.loads(json.dumps(compare_runs(a, b).to_json()))
    assert "compare.html" in json.loads((b / "manifest.json").read_text())["output_sha256"]
