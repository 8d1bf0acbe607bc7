"""Keyed pseudonyms: stable under a configured key, unlinkable under a random one."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import privacy
from workbench.data import InputError


def test_keyed_pseudonyms_are_stable_per_key_and_differ_between_keys(monkeypatch, tmp_path):
    ids = pd.Series(["C1", "C2", "C3"])
    monkeypatch.setenv("WB_TEST_KEY", "a-secret-key-of-some-length")
    key = privacy.resolve_key({"key_env": "WB_TEST_KEY"})
    assert key.persistent and key.origin == "env:WB_TEST_KEY"
    assert "secret" not in repr(key)
    first = privacy.pseudonymise(ids, key)
    assert first.tolist() == privacy.pseudonymise(ids, privacy.resolve_key({"key_env": "WB_TEST_KEY"})).tolist()
    assert first.str.fullmatch(r"p[0-9a-f]{16}").all() and first.is_unique
    assert privacy.pseudonym_for(["C2"], {"key_env": "WB_TEST_KEY"}) == [first[1]]
    key_file = tmp_path / "key"
    key_file.write_text("another-secret-key-0123456789\n")
    monkeypatch.delenv("WB_TEST_KEY")
    file_key = privacy.resolve_key({"key_env": "WB_TEST_KEY", "key_file": str(key_file)})
    assert file_key.origin == "file"
    assert privacy.pseudonymise(ids, file_key).tolist() != first.tolist()


def test_random_key_changes_every_run_and_cannot_be_looked_up(monkeypatch, tmp_path):
    monkeypatch.delenv("WB_TEST_KEY", raising=False)
    a = privacy.resolve_key({"key_env": "WB_TEST_KEY"})
    b = privacy.resolve_key({"key_env": "WB_TEST_KEY"})
    assert a.origin == "random" and not a.persistent
    assert privacy.pseudonymise(pd.Series(["C1"]), a)[0] != privacy.pseudonymise(pd.Series(["C1"]), b)[0]
    with pytest.raises(InputError, match="random key"):
        privacy.pseudonym_for(["C1"], {"key_env": "WB_TEST_KEY"})
    short = tmp_path / "short"
    short.write_text("tiny")
    with pytest.raises(InputError, match="shorter than 16"):
        privacy.resolve_key({"key_env": "WB_TEST_KEY", "key_file": str(short)})


def test_a_short_key_from_the_environment_is_refused_like_a_short_key_file(monkeypatch, tmp_path):
    monkeypatch.setenv("WB_TEST_KEY", "short-key")
    with pytest.raises(InputError, match="WB_TEST_KEY is shorter than 16 bytes"):
        privacy.resolve_key({"key_env": "WB_TEST_KEY"})
    monkeypatch.setenv("WB_TEST_KEY", "x" * 16)
    assert privacy.resolve_key({"key_env": "WB_TEST_KEY"}).persistent
    (tmp_path / "k").write_text("short")
    monkeypatch.delenv("WB_TEST_KEY")
    with pytest.raises(InputError, match="shorter than 16 bytes"):
        privacy.resolve_key({"key_env": "WB_TEST_KEY", "key_file": str(tmp_path / "k")})
