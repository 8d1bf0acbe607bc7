import pytest

from workbench.data import apply_overrides, deep_merge, load_config, section
from workbench.data import InputError


def test_overrides_are_parsed_as_yaml_and_nested():
    cfg = apply_overrides({"a": {"b": 1}}, ["a.b=5", "a.c=[2, 6]", "name='007'", "x.y.z=true"])
    assert cfg == {"a": {"b": 5, "c": [2, 6]}, "name": "007", "x": {"y": {"z": True}}}


def test_bad_override_is_an_input_error():
    with pytest.raises(InputError, match="key=value"):
        apply_overrides({}, ["seed"])
    with pytest.raises(InputError, match="not a section"):
        apply_overrides({"seed": 1}, ["seed.x=2"])


def test_builtin_configs_load_with_defaults():
    cfg = load_config(dataset="synthetic", overrides=["dataset.params.n_customers=100"])
    assert cfg["name"] == "synthetic" and cfg["seed"] == 42
    assert cfg["dataset"]["params"]["n_customers"] == 100


def test_section_merges_over_module_defaults():
    defaults = {"k": 4, "nested": {"a": 1, "b": 2}}
    assert section({"seg": {"nested": {"b": 3}}}, "seg", defaults) == {"k": 4, "nested": {"a": 1, "b": 3}}
    assert deep_merge(defaults, {}) == defaults and deep_merge(defaults, {}) is not defaults


def test_exactly_one_source_is_required(tmp_path):
    with pytest.raises(InputError, match="exactly one"):
        load_config()
    with pytest.raises(InputError, match="does not exist"):
        load_config(config=tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("seed: 1\n")
    with pytest.raises(InputError, match="dataset"):
        load_config(config=tmp_path / "bad.yaml")
