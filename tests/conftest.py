"""Fixtures every test shares, and how the suite is spread over the two xdist workers.

``make test`` runs ``pytest -n 2 --dist loadgroup``: each test module is a group (its module fixtures are
built once, on one worker), except where modules share something expensive, which then travels as one
group: every module that starts Spark (``spark``: one JVM per test session), every module that reads
the one end-to-end run (``small_synthetic_run``), and the notebooks nbval re-executes (``notebooks``:
they share a run directory and must run in order). Groups are handed out longest first (figures from
``python bench/bench_suite.py tests``), so neither worker idles at the end.
"""

import os

import pytest

from workbench import pipeline
from workbench.data import load_config

PSEUDONYM_KEY = "test-key-not-secret-0123456789"
#: the end-to-end run many tests read: every notebook, audit.pdf, a signed-off report
SMALL_SYNTHETIC = ["dataset.params.n_customers=1500", "dataset.params.seed=11",
                   "report.purpose=Quarterly fairness audit", "report.reviewer=A. Reviewer"]
_SPARK_FIXTURES = {"spark_engine", "engines", "spark_session", "spark_settings"}
#: the groups that take longest, started first (the rest follow in collection order)
_LONGEST_FIRST = ["small_synthetic_run", "spark", "notebooks", "migration_runs", "tests/pipeline/test_shapes.py"]


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


def _shared_fixtures(item) -> set[str]:
    """The expensive things ``item`` shares with other modules: our session fixtures, and Spark.

    Private (``_``) fixtures are autouse plumbing every test has (the DP ledger), not shared work.
    """
    shared = set()
    for name, defs in getattr(item, "_fixtureinfo", None) and item._fixtureinfo.name2fixturedefs.items() or ():
        if name in _SPARK_FIXTURES:
            shared.add("spark")
        elif not name.startswith("_") and any(d.scope == "session" and d.baseid.startswith("tests") for d in defs):
            shared.add("small_synthetic_run" if name == "small_synthetic_config" else name)
    return shared


def _module_groups(items) -> dict:
    """Module path -> group name: modules linked by a shared fixture (transitively) form one group."""
    parent: dict = {}

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
        find(module)
    names = {}
    for node in parent:
        names.setdefault(find(node), node if not node.endswith((".py", ".ipynb")) else None)
    return {node: names[find(node)] or find(node) for node in parent if node.endswith((".py", ".ipynb"))}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the marks into groups
def pytest_collection_modifyitems(session, config, items):
    groups = _module_groups(items)
    module = {id(item): str(item.path.relative_to(item.config.rootpath)) for item in items}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[module[id(item)]]))

    def rank(item):
        group = groups[module[id(item)]]
        return _LONGEST_FIRST.index(group) if group in _LONGEST_FIRST else len(_LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a group is kept
