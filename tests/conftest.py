"""Fixtures every test shares, and how the suite is spread over the two xdist workers.

``make test`` runs ``pytest -n 2 --dist loadgroup``, served by this file's scheduler
(:func:`pytest_xdist_make_scheduler`). What must run on one worker travels as one unit: modules that
share something expensive (transitively) form a group: every module that starts Spark (``spark``: one
JVM per test session), every module that reads the one end-to-end run (``small_synthetic_run``), each
folder's session fixtures; a module with a module-scoped fixture of its own is a unit. The tests of any
other module are handed out one by one. Units are handed out longest first (:data:`_SECONDS`, figures from
``python bench/bench_suite.py tests``), so neither worker idles at the end.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from workbench import pipeline
from workbench.data import load_config

PSEUDONYM_KEY = "test-key-not-secret-0123456789"
#: the end-to-end run many tests read: every notebook, audit.pdf, a signed-off report
SMALL_SYNTHETIC = ["dataset.params.n_customers=1500", "dataset.params.seed=11",
                   "report.purpose=Quarterly fairness audit", "report.reviewer=A. Reviewer"]
#: the erasure requests of :func:`engine_audits`: two customers of the synthetic world and an id it lacks
ENGINE_AUDIT_FORGET = "customer_id\nC0000007\nC0000011\nnot-a-customer\n"
_SPARK_FIXTURES = {"spark_engine", "engines", "spark_session", "spark_settings", "engine_audits"}


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    """A fixed key, so that pseudonyms (and anything keyed by them) repeat between runs in tests."""
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", PSEUDONYM_KEY)


@pytest.fixture(scope="session", autouse=True)
def _session_dp_ledger(tmp_path_factory):
    """Tests are not releases: session-wide fixtures spend a temporary budget ledger, never the user's."""
    before = os.environ.get("WORKBENCH_DP_LEDGER")
    os.environ["WORKBENCH_DP_LEDGER"] = str(tmp_path_factory.mktemp("dp-ledger") / "dp_ledger.json")
    yield
    if before is None:
        os.environ.pop("WORKBENCH_DP_LEDGER", None)
    else:
        os.environ["WORKBENCH_DP_LEDGER"] = before


@pytest.fixture(autouse=True)
def _dp_ledger(monkeypatch, tmp_path_factory):
    """Each test its own empty budget ledger (a test that needs a shared one names it in the config)."""
    monkeypatch.setenv("WORKBENCH_DP_LEDGER", str(tmp_path_factory.mktemp("dp-ledger") / "dp_ledger.json"))


@pytest.fixture(scope="session")
def spark_settings() -> dict:
    """The Spark settings of the test session: ``local[2]``, or the cluster ``WORKBENCH_TEST_SPARK_MASTER`` names.

    ``make test-cluster`` sets it to the standalone cluster of ``scripts/spark_cluster.sh`` (master and
    two 1-core workers on 127.0.0.1). There the driver must be reachable by executors in other
    processes, so it binds to the loopback address too; executors stay within a worker's 1 GB.
    """
    master = os.environ.get("WORKBENCH_TEST_SPARK_MASTER") or "local[2]"
    if master.startswith("local"):
        return {"master": master}
    return {"master": master, "conf": {
        "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
        "spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.cores.max": "2",
    }}


@pytest.fixture(scope="session")
def spark_engine(spark_settings):
    """One SparkSession for the whole test session, shared by every Spark test (:func:`spark_settings`).

    Starting the JVM costs seconds (engine.spark_session keeps one per process anyway); views are
    dropped after each use via close().
    """
    from workbench import engine

    eng = engine.SparkEngine(spark_settings)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def small_synthetic_config() -> dict:
    """The config of :func:`small_synthetic_run` (a fresh copy per call site is made by ``load_config``)."""
    return load_config(dataset="synthetic", overrides=SMALL_SYNTHETIC)


@pytest.fixture(scope="session")
def small_synthetic_run(tmp_path_factory, small_synthetic_config):
    """One complete ``pipeline.run`` (every notebook, HTML, ``audit.pdf``) shared by the tests that read it.

    Tests only read it; a test that changes a run copies it first.
    """
    out = tmp_path_factory.mktemp("runs") / "small"
    with pytest.MonkeyPatch.context() as patch:  # the same fixed key as the per-test fixture
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", PSEUDONYM_KEY)
        return pipeline.run(small_synthetic_config, out, progress=lambda m: None)


@pytest.fixture(scope="session")
def engine_audits(tmp_path_factory, spark_engine) -> dict:
    """The whole audit (every stage but the campaign's, in-process) on DuckDB and on Spark: engine -> (run, summary).

    Synthetic, 2,000 customers, k chosen from 2-4, an erasure request for two customers and one unknown id
    (:data:`ENGINE_AUDIT_FORGET`). The stages run in this process in the notebooks' order with the calls the
    notebooks make, so the session's one SparkSession (:func:`spark_engine`, the cluster of ``make
    test-cluster`` there) serves every stage. Built once for the parity tests that compare the two engines'
    outputs (the prepared tables, the segments, the whole summary); they only read it.
    """
    from workbench import dynamics, explain, fairness, privacy, segment, value
    from workbench.pipeline import prepare
    from workbench.pipeline._manifest import merge_summary

    base = tmp_path_factory.mktemp("engine-audits")
    forget = base / "forget.txt"
    forget.write_text(ENGINE_AUDIT_FORGET)
    audits = {}
    with pytest.MonkeyPatch.context() as patch:
        # a random key would do too (summary.json holds no pseudonyms); a fixed one makes failures repeatable
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", "parity-key-0123456789abcdef")
        # both audits spend one temporary DP budget ledger: two releases, well within it
        patch.setenv("WORKBENCH_DP_LEDGER", str(base / "dp_ledger.json"))
        for name in ("duckdb", "spark"):
            # the scratch folder named, as on a cluster (storage the driver and every executor see)
            cfg = load_config(config="configs/synthetic.yaml", overrides=[
                "dataset.params.n_customers=2000", "segmentation.k_range=[2, 4]", f"engine={name}",
                f"spark.scratch={base / name / 'scratch'}", f"privacy.forget={forget}",
            ])
            run = prepare(cfg, base / name / "run")
            privacy.privacy_audit_run(run)
            segment.segment_run(run)
            explain.explain_run(run)
            fairness.fairness_run(run)
            dynamics.dynamics_run(run)
            privacy.load_private_release(run)
            privacy.disclosure_check(run)
            result = value.value_run(run)
            growth, targeting = value.growth_by_segment(run), value.targeting_audit(run)
            value.summarise_value(run, result, growth, targeting)
            audits[name] = (run, merge_summary(run))
    return audits


# --- how the suite is spread over the two xdist workers -----------------------------------------------
#
# xdist's own ``--dist loadgroup`` reads ``xdist_group`` marks by renaming each test's node id, which
# pytest 9.2 no longer allows (the id is no longer a plain attribute): every test became a unit of its
# own and both workers built every shared fixture. So ``make test``'s ``--dist loadgroup`` is served by
# the scheduler below: each worker writes, after collection, which module belongs to which unit, and the
# controller reads that when it hands out work.

#: seconds a unit took on its worker (``python bench/bench_suite.py tests``, 7 December 2026, load average
#: about 14 on the 2-core machine: read them as weights), so that the longest start first and neither
#: worker idles at the end; a key is a group, a module or a test (with or without its parameters). Units
#: not listed follow in collection order. ``spark``: 1,183 s less the segmentation (172 s) and prepare
#: (99 s) parity tests' own runs, which read :func:`engine_audits` since 8 December (both ~0.1 s now), plus
#: ~100 s for three modules that joined the group then (value summary, dynamics windows, privacy audit
#: queries: 139 s alone with their own JVM start, load 6-10).
_SECONDS: dict[str, float] = {
    "spark": 1010, "small_synthetic_run": 960,
    "tests/pipeline/test_shapes.py::test_sensitive_attribute_shapes[40 groups-values2]": 379,
    "tests/pipeline/test_shapes.py::test_fifty_given_segments": 197, "migration_runs": 187,
    "tests/explain/test_stage.py": 183, "tests/test_audit_mode.py": 145, "tests/privacy/test_differencing.py": 130,
    "tests/explain/test_counterfactual.py": 114, "tests/privacy/test_canary.py": 96,
    "tests/pipeline/test_shapes.py::test_one_given_segment_audits_composition_only": 69,
    "tests/fairness/test_choices.py::"
    "test_objecting_and_contested_customers_are_in_no_selection_of_the_written_targeting": 64,
}
_GROUPS_FILE = "workbench_groups_file"


def _shared_fixtures(item) -> set[str]:
    """The expensive things ``item`` shares with other modules: our session fixtures, and Spark.

    Private (``_``) fixtures are autouse plumbing every test has (the DP ledger), not shared work. Only
    fixtures a test names (directly or through its fixtures) are seen: one fetched with
    ``request.getfixturevalue`` is not, so a test that starts Spark names ``spark_settings`` or
    ``spark_engine`` in its signature, or its module lands on the other worker and starts a second JVM.
    """
    shared = set()
    for name, defs in getattr(item, "_fixtureinfo", None) and item._fixtureinfo.name2fixturedefs.items() or ():
        if name in _SPARK_FIXTURES:
            shared.add("spark")
        elif not name.startswith("_") and any(d.scope == "session" and d.baseid.startswith("tests") for d in defs):
            shared.add("small_synthetic_run" if name == "small_synthetic_config" else name)
    return shared


def _keeps_module_together(item) -> bool:
    """Whether ``item``'s module builds something once for all its tests (a module or class fixture)."""
    fixtures = getattr(item, "_fixtureinfo", None)
    return fixtures is not None and any(d.scope in ("module", "class", "package") and not name.startswith("_")
                                        for name, defs in fixtures.name2fixturedefs.items() for d in defs)


def _module_groups(items) -> dict:
    """Module path -> unit, for the modules whose tests must run on one worker (the rest run test by test).

    Modules linked by a shared fixture (transitively) form one unit named after it; a module with a
    fixture of its own that is built once per module is a unit named after the module.
    """
    parent: dict = {}
    together: set = set()

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for item in items:
        module = str(item.path.relative_to(item.config.rootpath))
        if module.endswith(".ipynb"):
            parent[find(module)] = find("notebooks")
        for shared in _shared_fixtures(item):
            parent[find(module)] = find(shared)
        if _keeps_module_together(item):
            together.add(module)
        find(module)
    names = {}
    for node in parent:
        names.setdefault(find(node), node if not node.endswith((".py", ".ipynb")) else None)
    return {node: names[find(node)] or find(node) for node in parent if node.endswith((".py", ".ipynb"))
            and (node in together or names[find(node)] or find(node) != node)}


def _unit(nodeid: str, groups: dict) -> str:
    """The unit of work a test belongs to: its module's group, or the test itself."""
    return groups.get(nodeid.split("::")[0], nodeid)


def _estimate(unit: str) -> float:
    """Seconds :data:`_SECONDS` gives ``unit`` (a group, a module, or one test), 0 when not measured."""
    return _SECONDS.get(unit, _SECONDS.get(unit.split("[")[0], 0.0))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    groups = _module_groups(items)
    path = getattr(config, "workerinput", {}).get(_GROUPS_FILE)
    if path:  # an xdist worker: tell the controller's scheduler (every worker writes the same map)
        tmp = f"{path}.{config.workerinput['workerid']}"
        Path(tmp).write_text(json.dumps(groups))
        os.replace(tmp, path)
    items.sort(key=lambda item: -_estimate(_unit(item.nodeid, groups)))  # stable: longest units first


def _groups_file(config) -> str:
    """Where the workers write the group map for the controller: one temporary folder per test session."""
    if not hasattr(config, "_workbench_groups_file"):
        folder = Path(tempfile.mkdtemp(prefix="workbench-groups-"))
        config._workbench_groups_file = str(folder / "groups.json")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    return config._workbench_groups_file


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """The controller gives every worker the path of the group map (:func:`pytest_xdist_make_scheduler`)."""
    node.workerinput[_GROUPS_FILE] = _groups_file(node.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: units from :func:`_module_groups`, handed out in the workers' order."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    path = Path(_groups_file(config))

    class GroupScheduling(LoadScopeScheduling):
        groups = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once, after every worker has collected
                self.groups = json.loads(path.read_text())
            return _unit(nodeid, self.groups)

    return GroupScheduling(config, log)
