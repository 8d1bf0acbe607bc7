"""Issue 24: every published count table goes through the one seam that decides what is hidden on the
perturbed count (:func:`workbench.privacy.suppress_and_publish`, or :func:`~workbench.privacy.suppress_printed`
for ``compare``'s two-run tables), and no stage can forget it.

Two defences, each tested here: a static one (no stage or ``compare`` module suppresses counts itself, and
every call a stage makes to a function that takes ``suppress`` passes it) and a run-time one (the registry
refuses a table suppressed on its exact counts in a run that perturbs). Then the attacker the routing
defends against, on two real runs one erasure apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import pipeline, privacy
from workbench.data import load_config

PACKAGE = Path(workbench.__file__).resolve().parent
#: what only the privacy unit may call: suppression decided on whatever counts it is handed
RAW = {"suppress_counts", "suppress_jointly", "publish_counts", "publish_printed"}
#: (stage, function) calls that take no ``suppress`` on purpose, each with its reason; only without ``k=``
INTERNAL = {
    ("dynamics/stage.py", "staleness_curve"): "the exact curve the refresh advice is decided on, never published "
                                              "(its published twin passes suppress=)",
}


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), filename=str(path))
            for path in sorted(PACKAGE.rglob("*.py")) if "privacy" not in path.relative_to(PACKAGE).parts}


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _takes_suppress(trees) -> set[str]:
    """Every function outside privacy with a ``suppress`` parameter: it suppresses exact counts unless given one."""
    return {node.name for tree in trees.values() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and "suppress" in [a.arg for a in node.args.args + node.args.kwonlyargs]}


def _enclosing(tree: ast.Module) -> dict[ast.AST, ast.FunctionDef | None]:
    """Each node's innermost enclosing function."""
    out: dict = {}

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            out[child] = func
            visit(child, child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func)

    visit(tree, None)
    return out


def routing_violations(trees: dict[Path, ast.Module]) -> list[str]:
    """Where a module outside privacy could publish counts suppressed on their exact values.

    * a stage (``stage.py``, the only modules that write a run) or any ``compare`` module names one of
      :data:`RAW`;
    * a stage calls a function that takes ``suppress`` without passing one (or passes ``None``);
    * any other module calls ``suppress_counts`` / ``suppress_jointly`` outside a function that takes
      ``suppress`` (there it is the library default for tables no run publishes, and the stage passes the seam).
    """
    seam_users = _takes_suppress(trees)
    found = []
    for path, tree in trees.items():
        rel = path.relative_to(PACKAGE)
        strict = rel.name == "stage.py" or rel.parts[0] == "compare"
        parent = _enclosing(tree)
        for node in ast.walk(tree):
            name = _name(node)
            if strict and isinstance(node, (ast.Name, ast.Attribute, ast.alias)) and \
                    (name if not isinstance(node, ast.alias) else node.name) in RAW:
                found.append(f"{rel}:{node.lineno}: names {name or node.name}")
            if not isinstance(node, ast.Call):
                continue
            called = _name(node.func)
            if strict and rel.name == "stage.py" and called in seam_users:
                given = {k.arg: k.value for k in node.keywords}
                if (str(rel), called) in INTERNAL and "suppress" not in given and "k" not in given:
                    continue
                if "suppress" not in given or (isinstance(given["suppress"], ast.Constant)
                                               and given["suppress"].value is None):
                    found.append(f"{rel}:{node.lineno}: {called}(...) without suppress=")
            if not strict and called in {"suppress_counts", "suppress_jointly"}:
                func = parent.get(node)
                while func is not None and "suppress" not in [a.arg for a in func.args.args + func.args.kwonlyargs]:
                    func = parent.get(func)
                if func is None:
                    found.append(f"{rel}:{node.lineno}: {called} outside a function taking suppress")
    return found


def test_no_stage_or_compare_module_suppresses_counts_on_their_exact_values():
    """The seam is structural: switching any routed call back (e.g. ``segment.stage`` calling
    ``rfm_group_counts(rfm, k)`` without ``suppress=``, or ``compare`` calling ``privacy.suppress_counts``)
    fails here."""
    assert routing_violations(_trees()) == []


def test_the_checker_finds_a_forgotten_seam(tmp_path):
    """The check itself: a stage that calls a suppressing function without ``suppress=``, a compare module
    that calls the raw suppression and an algorithm module calling it outside a ``suppress`` default."""
    sources = {
        "unit/_algo.py": "def table(counts, k, suppress=None):\n    return suppress(counts) if suppress else "
                         "suppress_counts(counts, k)\n\ndef other(counts):\n    return suppress_counts(counts, 10)\n",
        "unit/stage.py": "def run_stage(run, counts):\n    return table(counts, 10)\n",
        "compare/_x.py": "from .. import privacy\n\ndef f(c):\n    return privacy.suppress_jointly(c)\n",
    }
    trees = {}
    for rel, text in sources.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
        trees[PACKAGE / rel] = ast.parse(text)
    found = routing_violations(trees)
    assert any("unit/stage.py:2: table(...) without suppress=" in f for f in found), found
    assert any("compare/_x.py" in f and "suppress_jointly" in f for f in found), found
    assert any("unit/_algo.py:5: suppress_counts outside" in f for f in found), found
    assert not any("unit/_algo.py:2" in f for f in found), found


@pytest.fixture(scope="module")
def perturbing_run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
        cfg = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=200"])
        return pipeline.prepare(cfg, tmp_path_factory.mktemp("routing") / "run", fresh=True)


def test_the_registry_refuses_a_table_suppressed_on_exact_counts(perturbing_run, tmp_path):
    """Run-time: a run that perturbs will not register a table whose "< k" cells were decided on the exact
    counts; the seam's table registers; a bare run directory (no keys: nothing to perturb) takes either."""
    counts = pd.DataFrame([[40, 9, 13], [31, 52, 18]], index=pd.Index(["1", "2"], name="segment"),
                          columns=pd.Index(["female", "male", "non-binary"], name="gender"))
    exact = privacy.suppress_counts(counts, 10, margins=True)
    with pytest.raises(ValueError, match="suppress_and_publish"):
        privacy.publish_counts(perturbing_run, "composition_gender", exact, "segment", "gender")
    assert not (perturbing_run.path / "artifacts" / privacy.DISCLOSURE_DIR / "composition_gender.parquet").exists()
    printed = privacy.suppress_and_publish(perturbing_run, "composition_gender", counts, "segment", "gender")
    assert printed.attrs["decided_on_perturbed"]
    bare = workbench.rundir.Run(tmp_path / "bare")
    privacy.publish_counts(bare, "composition_gender", exact, "segment", "gender")


def test_sizes_only_registers_the_total_column_alone(perturbing_run):
    """A column of sizes printed once: the column and its total are one quantity under two cell keys, and
    printing both would print one count with two independent perturbations (an average halves the noise)."""
    sizes = pd.DataFrame({"customers": [120, 7, 73]}, index=pd.Index(["a", "b", "c"], name="rfm_group"))
    shown = privacy.suppress_and_publish(perturbing_run, "rfm_sizes", sizes, "rfm_group", "customers", sizes_only=True)
    assert list(shown.columns) == [privacy.TOTAL] and np.isnan(shown.loc["b", privacy.TOTAL])
    long = pd.read_parquet(perturbing_run.path / "artifacts" / privacy.DISCLOSURE_DIR / "rfm_sizes.parquet")
    assert set(long["column"]) == {privacy.TOTAL}
    with pytest.raises(ValueError, match="one column"):
        privacy.suppress_and_publish(perturbing_run, "x", sizes.assign(more=1), "rfm_group", "customers",
                                     sizes_only=True)


# -- the attacker of the routed tables: two real runs one erasure apart --------------------------------------
#: a small world; the attack needs only notebook 02's tables (segment sizes, RFM groups)
BASE = ["dataset.params.n_customers=400", "dataset.params.seed=5", "segmentation.k=3"]
KEY = "test-key-not-secret-0123456789"


def _segment_tables(folder: Path, name: str, overrides: list[str]):
    cfg = load_config(dataset="synthetic", overrides=[*BASE, *overrides])
    run = pipeline.prepare(cfg, folder / name, fresh=True)
    run.require("segments/assignments.parquet")
    return run


@pytest.fixture(scope="module")
def erased_at_k(tmp_path_factory):
    """Runs A and B of one world, B with one customer erased, ``suppression_k`` set to the size of that
    customer's RFM group in A, the smallest: the group is exactly at the threshold in A (and nothing below
    it, so nothing needs hiding there) and one below it in B, the case
    where a "< k" decided on the exact count gives the erased customer, and their group's count, away."""
    folder = tmp_path_factory.mktemp("erased_at_k")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
        probe = _segment_tables(folder, "probe", [])
        rfm = probe.read_table("segments/rfm.parquet")
        sizes = rfm["rfm_group"].astype(str).value_counts()
        group = sizes.sort_values().index[0]  # the smallest group: nothing else is below k in A
        k = int(sizes[group])
        assert k >= 5, sizes
        erased = str(rfm.loc[rfm["rfm_group"].astype(str) == group, "customer_id"].iloc[0])
        world = workbench.load("synthetic", n_customers=400, seed=5)
        raw = [str(i) for i in world.customers["customer_id"]]
        raw_id = raw[privacy.pseudonym_for(raw).index(erased)]
        (folder / "forget.txt").write_text(f"{raw_id}\n")
        a = _segment_tables(folder, "a", [f"privacy.suppression_k={k}"])
        b = _segment_tables(folder, "b", [f"privacy.suppression_k={k}", f"privacy.forget={folder / 'forget.txt'}"])
    return a, b, group, k


def _rule_interval(n: float, marker: str, k: int, slack: int) -> tuple[float, float]:
    """What the printed rules tell about one cell's exact count: shown ``n`` (within ``slack`` of it, and a
    shown count is at least ``k - slack``), "< k" (1 to ``k - 1 + slack``) or hidden otherwise (0 or more)."""
    if not np.isnan(n):
        return max(n - slack, k - slack), n + slack
    return (1.0, k - 1.0 + slack) if marker == "< k" else (0.0, np.inf)


def hidden_cell_intervals(a: pd.DataFrame, b: pd.DataFrame, k: int, slack: int) -> dict:
    """The differencing attacker: each cell hidden in one run and shown in the other, narrowed by the other
    run's value and the one erasure between them (the later count is the earlier one or one less).

    ``a``, ``b``: the two runs' registered tables (long form) as the attacker reads them; ``slack`` how far a
    printed count may lie from the exact one (0: exact counts). Returns ``{(table, row, column): (low, high)}``.
    """
    def cells(long):
        return {(t, str(r), str(c)): (float(n), str(m or "")) for t, r, c, n, m in
                zip(long["table"], long["row"], long["column"], long["n"], long["marker"])}

    ca, cb = cells(a), cells(b)
    out = {}
    for key in ca.keys() & cb.keys():
        (na, ma), (nb, mb) = ca[key], cb[key]
        if np.isnan(na) == np.isnan(nb):
            continue
        lo_a, hi_a = _rule_interval(na, ma, k, slack)
        lo_b, hi_b = _rule_interval(nb, mb, k, slack)
        if np.isnan(nb):  # hidden in B: B's count is A's or one less
            out[key] = (max(lo_b, lo_a - 1), min(hi_b, hi_a))
        else:  # hidden in A: A's count is B's or one more
            out[key] = (max(lo_a, lo_b), min(hi_a, hi_b + 1))
    return out


def test_a_hidden_small_count_is_not_recovered_by_differencing_two_runs(erased_at_k):
    """Notebook 02's size tables (RFM groups, segment sizes), which used to be suppressed on exact counts.

    Defence off (each run's exact counts suppressed on their exact values, as before the routing): the erased
    customer's group is shown at k in A and "< k" in B, so the attacker learns that the customer was in it and
    that it held exactly k - 1 customers after the erasure: a hidden count recovered exactly (interval width 0).
    Defence on (the tables the stage registered, decided on and printed with perturbed counts): every cell
    hidden in one run and shown in the other stays at least ``protection_width`` wide."""
    a, b, group, k = erased_at_k
    tables = {"rfm_groups": ("segments/rfm.parquet", "rfm_group"), "segment_sizes": ("segments/assignments.parquet",
                                                                                      "segment")}

    def exact_sizes(run, name):  # every exact count behind the table, hidden ones included (internal artifacts)
        artifact, column = tables[name]
        rows = [r for r in privacy.printed_table(run, name).index if r != privacy.TOTAL]
        counts = run.read_table(artifact)[column].astype(str).value_counts()
        return pd.DataFrame({"customers": [int(counts.get(r, 0)) for r in rows]}, index=pd.Index(rows, name="row"))

    assert exact_sizes(a, "rfm_groups").loc[group, "customers"] == k
    assert exact_sizes(b, "rfm_groups").loc[group, "customers"] == k - 1

    def exact_decision(run):  # the control: each table suppressed on its exact counts, printed exactly
        from workbench.privacy._joint import _long_form

        return pd.concat([_long_form(name, privacy.suppress_counts(exact_sizes(run, name), k, margins=True)[[
            privacy.TOTAL]], "row", "customers") for name in tables], ignore_index=True)

    off = hidden_cell_intervals(exact_decision(a), exact_decision(b), k, slack=0)
    recovered = {key: v for key, v in off.items() if v[1] - v[0] < 2}
    assert ("rfm_groups", group, privacy.TOTAL) in recovered, off
    assert recovered[("rfm_groups", group, privacy.TOTAL)] == (k - 1, k - 1)

    printed_a, printed_b = (privacy.printed_tables(r) for r in (a, b))
    printed_a, printed_b = (p.loc[p["table"].isin(list(tables))] for p in (printed_a, printed_b))
    slack = privacy.perturbation_settings(a).max_perturbation
    on = hidden_cell_intervals(printed_a, printed_b, k, slack)
    width = privacy.publish.protection_width(a)
    print(f"differencing two runs at k = {k} ({group}): exact decisions recover {len(recovered)} hidden count(s) "
          f"{recovered}; perturbed decisions leave {len(on)} hidden-in-one-run cell(s) with intervals {on}")
    assert all(hi - lo >= width for lo, hi in on.values()), on
    shown = pd.concat([printed_a, printed_b])
    assert (shown["n"].dropna().loc[lambda n: n > 0] >= k).all()  # nothing shown is printed below k


def test_two_comparisons_one_erasure_apart_do_not_single_out_the_erased_customers_segment(erased_at_k):
    """``compare``'s migration table, differenced: A against itself, then B (A less one customer) against A.
    Printed exactly, the two tables differ in one number only, by exactly one, in the erased customer's
    segment (its row total, here): their segment, named. Printed by the mechanism (both runs' cell keys, redrawn when either
    run's customers change), shown cells the customer was not in move too and no cell is singled out."""
    from workbench.compare._migration import migration_counts, publish_migration

    a, b, _, k = erased_at_k
    assignments = {r: r.read_table("segments/assignments.parquet") for r in (a, b)}
    # B's refit named its segments afresh: the attacker matches them to A's by id (compare matches by profile)
    names = dict(zip(assignments[a]["segment"], assignments[a]["segment_name"].astype(str)))
    assignments[b] = assignments[b].assign(segment_name=assignments[b]["segment"].map(names))
    keys = {r: privacy.perturbation_settings(r) for r in (a, b)}
    erased = set(assignments[a]["customer_id"]) - set(assignments[b]["customer_id"])
    segment = assignments[a].set_index("customer_id").loc[list(erased), "segment_name"].astype(str).item()

    def migration(earlier, later, perturb: bool) -> pd.DataFrame:
        cells = privacy.two_run_perturbation(keys[earlier], keys[later]) if perturb else None
        return publish_migration(migration_counts(assignments[earlier], assignments[later]), k, perturbation=cells)

    moved = {}
    for perturb in (False, True):
        same, erased_run = migration(a, a, perturb), migration(b, a, perturb)
        rows = [r for r in same.index if r in erased_run.index]
        cols = [c for c in same.columns if c in erased_run.columns]
        diff = (same.loc[rows, cols] - erased_run.loc[rows, cols]).stack().dropna()
        moved[perturb] = diff[diff != 0]
    print(f"migration differenced: exact {moved[False].to_dict()}; perturbed {len(moved[True])} cells moved")
    # the leak: one printed number moves, by exactly one, and it is the erased customer's segment's
    assert len(moved[False]) == 1 and moved[False].iloc[0] == 1 and segment in moved[False].index[0], moved[False]
    assert len(moved[True]) >= 3, moved[True]
    assert any(segment not in cell for cell in moved[True].index)  # cells without the customer move too
