"""Config validation: unknown keys, wrong types and ranges are input errors naming key, origin and fix."""

import pytest
import yaml

from workbench import fairness
from workbench.data import InputError, load_config
from workbench.pipeline import check_config, known_config, resolved_config
from workbench.pipeline._config_schema import check_against_data


@pytest.mark.parametrize("name", ["synthetic", "telco", "cdnow", "telco_audit", "quickstart", "synthetic_migration"])
def test_every_builtin_config_is_valid(name):
    check_config(load_config(dataset=name))


def test_unknown_key_from_p_suggests_the_nearest_known_key():
    with pytest.raises(InputError) as err:
        check_config(load_config(dataset="synthetic", overrides=["n_customers=3000"]))
    msg = str(err.value)
    assert "unknown key 'n_customers' (from -p)" in msg
    assert "Did you mean dataset.params.n_customers?" in msg


def test_unknown_key_in_a_file_names_the_file_and_a_typo_gets_its_correction(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"dataset": {"builtin": "synthetic"}, "segmentation": {"k_rnage": [2, 5]}}))
    with pytest.raises(InputError) as err:
        check_config(load_config(config=path))
    assert f"in {path}" in str(err.value) and "Did you mean segmentation.k_range?" in str(err.value)


@pytest.mark.parametrize(
    "override, words",
    [
        ("privacy.dp.epsilon=0", "'privacy.dp.epsilon' (from -p) is 0: it must be > 0"),
        ("privacy.dp.epsilon=high", "must be a number"),
        ("fairness.thresholds.ratio=[1.25,0.8]", "0 < low <= 1 <= high"),
        ("segmentation.k_range=[5,2]", "2 <= low <= high"),
        ("fairness.min_group_size=ten", "must be a whole number"),
        ("fairness.alpha=1.5", "strictly between 0 and 1"),
        ("dynamics.psi_moderate=0.5", "psi_moderate' must be below"),
        ("explain.surrogate.n_estimator=10", "Did you mean explain.surrogate.n_estimators?"),
    ],
)
def test_wrong_types_and_ranges_are_named(override, words):
    with pytest.raises(InputError, match="Config error") as err:
        check_config(load_config(dataset="quickstart", overrides=[override]))
    assert words in str(err.value)


def test_free_form_sections_take_the_users_own_names():
    cfg = load_config(dataset="quickstart", overrides=[
        "fairness.policy.loyalty_gift={top_value: 2}", "fairness.bands.income=[0,10,20]",
        "privacy.dp.bounds.tenure=[0,10]", "dataset.encoding=cp1252",
    ])
    check_config(cfg)


def test_every_problem_is_listed_at_once():
    with pytest.raises(InputError) as err:
        check_config(load_config(dataset="quickstart", overrides=["seedd=1", "fairness.alpha=2"]))
    assert "seedd" in str(err.value) and "fairness.alpha" in str(err.value)


def test_new_stage_defaults_are_known_without_touching_the_schema(monkeypatch):
    monkeypatch.setitem(fairness.DEFAULTS, "favourable", "selected")
    check_config(load_config(dataset="quickstart", overrides=["fairness.favourable=declined"]))


def test_k_range_must_fit_the_customer_count():
    cfg = load_config(dataset="quickstart", overrides=["segmentation.k_range=[2,80]"])
    with pytest.raises(InputError, match="only 60 customers remain"):
        check_against_data(cfg, 60)


def test_resolved_config_fills_every_default():
    resolved = resolved_config(load_config(dataset="quickstart"))
    assert resolved["dataset"]["params"]["n_customers"] == 3000  # the config's value
    assert resolved["dataset"]["params"]["months"] == 24  # the generator's default
    assert resolved["fairness"]["n_boot"] == fairness.DEFAULTS["n_boot"]
    assert resolved["dataset"]["min_customers"] == 50
    assert set(known_config()) >= {"privacy", "segmentation", "explain", "fairness", "dynamics", "dataset"}


def test_duckdb_section_is_known_and_typed():
    check_config(load_config(dataset="quickstart", overrides=["duckdb.memory_limit=2GB", "duckdb.threads=2"]))
    with pytest.raises(InputError, match="'duckdb.threads' .* must be >= 1"):
        check_config(load_config(dataset="quickstart", overrides=["duckdb.threads=0"]))
    with pytest.raises(InputError, match="Did you mean duckdb.memory_limit"):
        check_config(load_config(dataset="quickstart", overrides=["duckdb.memory_limt=2GB"]))
