import pytest


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    """A fixed key, so that pseudonyms (and anything keyed by them) repeat between runs in tests."""
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
