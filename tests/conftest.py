import os

import pytest


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    """A fixed key, so that pseudonyms (and anything keyed by them) repeat between runs in tests."""
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")


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
