"""The customer choices register at preparation: read on both input paths, resolved, applied, checked."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import data, pipeline
from workbench.cli import app
from workbench.data import InputError, load_config


@pytest.fixture(scope="module")
def world():
    """300 synthetic customers and their raw ids (customer 4 opted out of profiling by flag)."""
    ds = data.load("synthetic", n_customers=300, seed=1)
    return ds, ds.customers["customer_id"].astype(str).tolist()


def _register(ids):
    """A register touching customers 0-8: every kind, a withdrawal, a future record, an unknown id."""
    rows = [
        (ids[0], "object_profiling", None, "2026-03-02"),
        (ids[1], "object_profiling", None, "2026-01-01"),
        (ids[1], "withdraw", "object_profiling", "2026-02-01"),  # withdrawn: customer 1 comes back
        (ids[2], "rectify", "age=41", "2026-03-01"),
        (ids[2], "rectify", "age=40", "2026-02-01"),  # older: the later record wins
        (ids[3], "contest", "this is not me", "2026-04-10"),
        (ids[5], "declare_segment", "Steady regulars", "2026-04-11"),
        ("nobody-we-know", "contest", "x", "2026-01-01"),  # unknown customer: counted, never listed
        (ids[6], "object_action", "marketing_opt_in", "2026-01-05"),
        (ids[7], "object_profiling", None, "2099-01-01"),  # after as_of: excluded and counted
        (ids[8], "contest", "wrong segment", "2026-02-01"),
        (ids[8], "resolved", None, "2026-03-01"),  # the contest was reviewed
    ]
    return pd.DataFrame(rows, columns=["id", "kind", "value", "recorded_at"])


def _prepare(tmp_path, world, register, fmt="csv", read="pandas", columns=None):
    ds, _ = world
    ds = data.Dataset(**{**vars(ds), "choices": register})
    config = load_config(config=data.write_byo(ds, tmp_path / "byo", fmt=fmt))
    config["dataset"]["read"] = read
    if columns:
        config["dataset"]["roles"]["choices"] = columns
    return pipeline.prepare(config, tmp_path / "run")


@pytest.mark.parametrize("fmt,read", [("csv", "pandas"), ("parquet", "engine")])
def test_choices_in_force_are_applied_and_counted(tmp_path, world, fmt, read):
    ds, ids = world
    run = _prepare(tmp_path, world, _register(ids), fmt, read)
    prep = run.read_json("data/prepare.json")
    kinds = prep["choices"]["kinds"]
    assert prep["counts"]["objected_to_profiling"] == 1
    assert kinds["object_profiling"] == {"records": 3, "excluded_future": 1, "excluded_unknown_customer": 0,
                                         "in_force": 1, "customers": 1}
    assert kinds["contest"]["excluded_unknown_customer"] == 1 and kinds["contest"]["in_force"] == 1
    assert kinds["rectify"]["in_force"] == 1 and prep["choices"]["applied"]["rectified_values"] == 1
    assert prep["choices"]["applied"]["consent_withdrawn_marketing_opt_in"] == 1
    assert "nobody-we-know" not in json.dumps(prep)

    key = pd.Series(range(len(ds.customers)), index=ds.customers["customer_id"].astype(str))
    customers = run.customers()
    # the prepared table keeps the input order: map pseudonyms back through the kept raw ids
    kept_raw = [i for i in ids if i not in (ids[0],) and not ds.customers.loc[key[i], "profiling_opt_out"]]
    assert len(customers) == len(kept_raw)
    prepared = dict(zip(kept_raw, customers.to_dict("records")))
    assert ids[0] not in prepared and ids[1] in prepared and ids[7] in prepared
    assert prepared[ids[2]]["age"] == 41
    original = ds.customers.set_index(ds.customers["customer_id"].astype(str))
    unchanged = [i for i in kept_raw if i != ids[2]]
    assert (customers.set_index(pd.Index(kept_raw)).loc[unchanged, "age"] == original.loc[unchanged, "age"]).all()
    assert not prepared[ids[6]]["consent_marketing_opt_in"]

    register = pd.read_parquet(run.path / "data" / "choices.parquet")
    assert set(register["customer_id"]) <= set(customers["customer_id"])
    assert sorted(register["kind"]) == ["contest", "declare_segment", "object_action", "rectify"]
    assert register.loc[register["kind"] == "declare_segment", "segment"].tolist() == ["Steady regulars"]
    assert "this is not me" not in register.to_string()
    tx = run.transactions()
    assert prepared[ids[1]]["customer_id"] in set(tx["customer_id"])


def test_register_columns_are_named_by_roles_and_value_is_optional(tmp_path, world):
    _, ids = world
    register = pd.DataFrame({"who": [ids[0]], "what": ["object_profiling"], "when": ["2026-01-01"]})
    run = _prepare(tmp_path, world, register, columns={"id": "who", "kind": "what", "recorded_at": "when"})
    assert run.read_json("data/prepare.json")["counts"]["objected_to_profiling"] == 1


BAD = {
    "unknown_kind": ((0, "opt_out_everything", None, "2026-01-01"), ["'kind'", "'opt_out_everything'", "use one of"]),
    "declaration_without_segment": ((0, "declare_segment", None, "2026-01-01"),
                                    ["'value'", "names no segment", "segment the customer says"]),
    "objection_without_action": ((0, "object_action", "", "2026-01-01"), ["'value'", "names no action"]),
    "withdraw_of_nothing": ((0, "withdraw", "everything", "2026-01-01"), ["'value'", "'everything'"]),
    "rectify_without_equals": ((0, "rectify", "41", "2026-01-01"), ["'value'", "column=value"]),
    "rectify_unknown_column": ((0, "rectify", "shoe_size=44", "2026-01-01"),
                               ["'shoe_size'", "not a declared feature or sensitive column"]),
    "rectify_identifier": ((0, "rectify", "email=a@b.c", "2026-01-01"),
                           ["'email'", "not a declared feature or sensitive column"]),
    "rectify_wrong_type": ((0, "rectify", "age=forty", "2026-01-01"),
                           ["'age'", "wrong type", "a whole number"]),
    "unparseable_time": ((0, "contest", "no", "last tuesday"),
                         ["'recorded_at'", "'last tuesday'", "ISO dates"]),
    "missing_time": ((0, "contest", "no", None), ["'recorded_at'", "is empty"]),
    "missing_id": ((None, "contest", "no", "2026-01-01"), ["'id'", "is empty"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_register_is_an_input_error_naming_column_and_fix(tmp_path, world, case):
    _, ids = world
    (who, kind, value, when), expected = BAD[case]
    register = pd.DataFrame([(ids[who] if who is not None else None, kind, value, when)],
                            columns=["id", "kind", "value", "recorded_at"])
    register = pd.concat([register, _register(ids)], ignore_index=True)
    with pytest.raises(InputError) as err:
        _prepare(tmp_path, world, register)
    message = str(err.value)
    assert "table 'choices'" in message and "What to do" in message
    for text in expected:
        assert text in message, message
    assert ids[0] not in message and "this is not me" not in message
    assert not (tmp_path / "run" / "data").exists()


def test_cli_refuses_a_bad_register_with_exit_2_writing_nothing(tmp_path, world):
    ds, ids = world
    register = pd.DataFrame([(ids[0], "rectify", "email=x", "2026-01-01")], columns=["id", "kind", "value", "recorded_at"])
    config = data.write_byo(data.Dataset(**{**vars(ds), "choices": register}), tmp_path / "byo")
    out = tmp_path / "reports" / "byo"
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "'email'" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_unknown_choices_role_is_a_config_error(tmp_path, world):
    _, ids = world
    with pytest.raises(InputError, match="unknown choices role"):
        _prepare(tmp_path, world, _register(ids), columns={"customer": "id"})


def test_notebook_01_register_table_is_published_suppressed(tmp_path, world):
    from workbench import privacy

    _, ids = world
    run = _prepare(tmp_path, world, _register(ids))
    table = privacy.privacy_audit_run(run)["choices"]
    assert list(table.columns[:4]) == list(privacy.stage.CHOICE_STATUS) and "Total" in table.index
    # every record count here is 0, 1 or 2: the non-zero ones are below k, so hidden; registered for the
    # whole-run check
    cells = table.drop(index="Total", columns="Total")
    assert (cells.isna() | (cells == 0)).all().all() and cells.isna().any().any()
    assert (run.path / "artifacts" / "disclosure" / "choices_register.parquet").exists()


@pytest.mark.parametrize("encoding,sep", [("latin-1", ";"), ("cp1252", "\t"), ("utf-8-sig", "|")])
def test_register_is_read_with_the_customer_exports_detection(tmp_path, world, encoding, sep):
    """A register exported like the customer table (Latin-1 or Windows-1252, semicolons or tabs, a BOM) is
    read as that table is: encoding and delimiter detected, accented text intact, nothing configured."""
    ds, ids = world
    register = _register(ids)
    register.loc[register["kind"] == "contest", "value"] = "ce n’est pas moi – très mal classé"[: 40]
    if encoding == "latin-1":  # no curly quote or dash in Latin-1
        register["value"] = register["value"].str.replace("’", "'").str.replace("–", "-")
    config_path = data.write_byo(data.Dataset(**{**vars(ds), "choices": register}), tmp_path / "byo")
    register.to_csv(config_path.parent / "choices.csv", sep=sep, encoding=encoding, index=False)
    config = load_config(config=config_path)
    config["dataset"]["read"] = "pandas"
    run = pipeline.prepare(config, tmp_path / "run")
    prep = run.read_json("data/prepare.json")
    assert prep["choices"]["read_as"]["delimiter"] == sep
    # Latin-1 text without C1 control bytes is Windows-1252 text too: the detection tries cp1252 first
    assert prep["choices"]["read_as"]["encoding"] == ("utf-8-sig" if encoding == "utf-8-sig" else "cp1252")
    assert prep["counts"]["objected_to_profiling"] == 1
    assert prep["choices"]["kinds"]["contest"]["in_force"] == 1
    assert prep["choices"]["applied"]["rectified_values"] == 1


def test_register_encoding_set_in_the_config_wins(tmp_path, world):
    ds, ids = world
    register = _register(ids)
    config_path = data.write_byo(data.Dataset(**{**vars(ds), "choices": register}), tmp_path / "byo")
    register.to_csv(config_path.parent / "choices.csv", sep=";", encoding="utf-16", index=False)
    config = load_config(config=config_path)
    config["dataset"]["read"] = "pandas"
    with pytest.raises(InputError, match="table 'choices'"):  # detection cannot read UTF-16: a clear error
        pipeline.prepare(config, tmp_path / "run")


def test_objection_record_is_kept_for_the_statement_and_erasure_removes_it(tmp_path, world):
    """``data/objections.parquet`` holds the pseudonym and date of each objection to profiling in force
    (their statement reads it); a customer who is also erased leaves no record at all."""
    from workbench.privacy import pseudonym_for

    _, ids = world
    run = _prepare(tmp_path / "kept", world, _register(ids))
    record = pd.read_parquet(run.path / "data" / "objections.parquet")
    assert record["customer_id"].tolist() == pseudonym_for([ids[0]], run.settings("privacy", {}))
    assert record["recorded_at"].dt.date.astype(str).tolist() == ["2026-03-02"]
    assert list(record.columns) == ["customer_id", "recorded_at"]

    ds, _ = world
    forget = tmp_path / "forget.txt"
    forget.write_text(f"{ids[0]}\n")
    config = load_config(config=data.write_byo(data.Dataset(**{**vars(ds), "choices": _register(ids)}),
                                               tmp_path / "byo"))
    config.setdefault("privacy", {})["forget"] = str(forget)
    erased = pipeline.prepare(config, tmp_path / "erased")
    assert erased.read_json("data/prepare.json")["counts"]["erased"] == 1
    assert len(pd.read_parquet(erased.path / "data" / "objections.parquet")) == 0
