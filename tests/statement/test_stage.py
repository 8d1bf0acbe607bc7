"""Statements for five customers of a bring-your-own run: each shows only that customer's own values.

Every customer carries unique canary values (a free-text segment note, a loyalty code and a tenure
that no one else has); a statement must contain its own customer's canaries and none of anyone else's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench import pipeline
from workbench.data import InputError, load_config
from workbench.report import chromium_available
from workbench.fairness import fairness_run
from workbench.segment import segment_run
from workbench.statement import read_ids, statements_run

N = 240
#: The controller's texts an Art. 15(1) answer must contain (``report.*``), each a canary of its own.
CONTROLLER = {
    "controller": "Example Retail Ltd, 1 High Street",
    "purpose": "choosing which offers to send",
    "legal_basis": "legitimate interest (Art. 6(1)(f))",
    "recipients": "our mailing house, Post-It Ltd",
    "retention": "24 months after your last purchase",
    "supervisory_authority": "the Information Commissioner's Office",
}


def _byo(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    ids = [f"C{i:05d}" for i in range(N)]
    customers = pd.DataFrame({
        "cust_ref": ids,
        "full_name": [f"Name{i}" for i in range(N)],
        "age": rng.integers(18, 80, N),
        "gender": rng.choice(["female", "male"], N),
        # canaries: unique per customer, so any value of another customer is recognisable
        "loyalty_tier": [f"TIER{i:05d}X" for i in range(N)],
        "tenure_months": 1000 + np.arange(N) * 7,
        "visits_90d": rng.poisson(6, N),
        "opted_out": np.where(np.arange(N) == 9, "yes", "no"),
    })
    n_tx = N * 6
    tx = pd.DataFrame({
        "cust_ref": rng.choice(ids, n_tx),
        "ts": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, n_tx), unit="D")).strftime("%Y-%m-%d"),
        "amt": rng.gamma(2.0, 30.0, n_tx).round(2),
    })
    customers.to_csv(folder / "customers.csv", index=False)
    tx.to_csv(folder / "transactions.csv", index=False)
    pd.DataFrame([("C00017", "contest", "this is not me", "2026-04-10"),
                  ("C00088", "declare_segment", "Big spenders", "2026-04-11"),
                  ("C00150", "rectify", "visits_90d=3", "2026-03-01"),
                  ("C00004", "object_action", "premium_offer", "2026-03-02"),
                  ("C00023", "object_profiling", None, "2026-03-05")],
                 columns=["id", "kind", "value", "recorded_at"]).to_csv(folder / "choices.csv", index=False)
    config = {
        "name": "byo_statements", "seed": 5,
        "report": {"commissioned_by": "Example Retail Ltd", "contact": "privacy@example.org", **CONTROLLER},
        "dataset": {
            "name": "byo", "customers": "customers.csv", "transactions": "transactions.csv", "choices": "choices.csv",
            "roles": {
                "customers": {
                    "id": "cust_ref", "direct_identifier": ["full_name"], "sensitive": ["gender", "age"],
                    "feature": {"behavioural": ["tenure_months"], "engagement": ["visits_90d"],
                                "other": ["loyalty_tier"]},
                    "consent": {"profiling_opt_out": "opted_out"},
                },
                "transactions": {"id": "cust_ref", "timestamp": "ts", "amount": "amt"},
            },
        },
        "segmentation": {"k": 3},
        "fairness": {"proxy": {"shap": False},
                     "mitigation": {"correlation_remover": False, "threshold_optimizer": False}},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def byo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("byo")
    with pytest.MonkeyPatch.context() as patch:  # the same fixed key as conftest's per-test fixture
        patch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
        run = pipeline.prepare(load_config(config=_byo(folder)), folder / "run")
        segment_run(run)
        fairness_run(run)
    return folder


def test_statements_for_five_ids_hold_only_their_own_values(byo_run, tmp_path):
    chosen = [4, 17, 88, 150, 239]
    raw = pd.read_csv(byo_run / "customers.csv")
    results = statements_run(byo_run / "run", [f"C{i:05d}" for i in chosen], tmp_path, pdf=False)
    assert [r["status"] for r in results] == ["written"] * 5
    for i, r in zip(chosen, results):
        page = Path(r["file"]).read_text()
        assert f"TIER{i:05d}X" in page and f"{1000 + 7 * i:,}" in page  # their own values
        others = [j for j in range(N) if j != i]
        leaked = [j for j in others if f"TIER{j:05d}X" in page or f"C{j:05d}" in page]
        assert not leaked, f"statement of C{i:05d} shows customers {leaked[:5]}"
        assert f"Name{i}" not in page  # direct identifiers were dropped at load and are not held
        for heading in ["Your segment", "The main reasons", "What would change your segment",
                        "The data we hold about you", "The model", "Your rights"]:
            assert heading in page, heading
        # what would change the segment is a future action, never a relabelling of past purchases (issue 25)
        assert not re.search(r"moving \d+ of your|of your \d+ purchases|relabel", page)
        assert "privacy@example.org" in page and "Art. 21" in page and "Art. 22" in page
        assert "used only to check that segments treat groups fairly" in page  # gender, age
        assert "<script" not in page and "http" not in page.replace("privacy@example.org", "")
    assert raw.loc[4, "loyalty_tier"] == "TIER00004X"


def test_unknown_and_opted_out_ids_get_a_message_not_a_crash(byo_run, tmp_path):
    results = statements_run(byo_run / "run", ["C00001", "NOT-A-CUSTOMER", "C00009"], tmp_path, pdf=False)
    assert [r["status"] for r in results] == ["written", "not found", "not found"]
    assert "line 2" in results[1]["message"] and "NOT-A-CUSTOMER" not in results[1]["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["statement-001.html"]


def test_refused_without_a_persistent_key(byo_run, tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_PSEUDONYM_KEY")
    with pytest.raises(InputError, match="No pseudonym key"):
        statements_run(byo_run / "run", ["C00001"], tmp_path, pdf=False)


@pytest.mark.skipif(not chromium_available() or shutil.which("pdftotext") is None,
                    reason="needs Debian's chromium and poppler-utils (make browser installs them)")
def test_each_pdf_holds_its_own_canaries_and_no_one_elses(byo_run, tmp_path):
    chosen = [4, 17, 88]
    results = statements_run(byo_run / "run", [f"C{i:05d}" for i in chosen] + ["NOT-A-CUSTOMER"], tmp_path)
    assert [r["status"] for r in results] == ["written"] * 3 + ["not found"]
    assert sorted(p.name for p in tmp_path.glob("*.pdf")) == [f"statement-00{n}.pdf" for n in (1, 2, 3)]
    for i, r in zip(chosen, results):
        assert Path(r["pdf"]) == Path(r["file"]).with_suffix(".pdf")
        text = subprocess.run(["pdftotext", "-layout", r["pdf"], "-"], capture_output=True, text=True,
                              check=True).stdout
        assert f"TIER{i:05d}X" in text and f"{1000 + 7 * i:,}" in text  # their own canaries, printed
        assert "Your rights" in text and "privacy@example.org" in text and "page 1 of" in text
        leaked = [j for j in range(N) if j != i and (f"TIER{j:05d}X" in text or f"C{j:05d}" in text)]
        assert not leaked, f"PDF statement of C{i:05d} shows customers {leaked[:5]}"


def test_pdf_refused_up_front_without_chromium(byo_run, tmp_path, monkeypatch):
    import workbench.statement.stage as stage

    monkeypatch.setattr(stage, "chromium_available", lambda: False)
    with pytest.raises(InputError, match="--no-pdf"):
        statements_run(byo_run / "run", ["C00001"], tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_read_ids_skips_a_header_and_blank_lines(tmp_path):
    f = tmp_path / "ids.txt"
    f.write_text("customer_id\nA1\n\nB2\n")
    assert read_ids(f) == ["A1", "B2"]
    f.write_text("\n")
    with pytest.raises(InputError, match="no customer id"):
        read_ids(f)


def _page(byo_run, tmp_path, i: int, **kwargs) -> str:
    results = statements_run(byo_run / "run", [f"C{i:05d}"], tmp_path, pdf=False, **kwargs)
    return Path(results[0]["file"]).read_text()


@pytest.mark.parametrize("key", sorted(CONTROLLER))
def test_statement_contains_each_art_15_item(byo_run, tmp_path, key):
    import html

    page = _page(byo_run, tmp_path, 17)
    assert html.escape(CONTROLLER[key]) in page, key
    assert "DRAFT" not in page


def test_statement_names_the_source_and_the_right_to_complain(byo_run, tmp_path):
    page = _page(byo_run, tmp_path, 17)
    assert "Where the data comes from" in page and "customers.csv" in page
    assert "complain to the supervisory authority" in page


def test_statement_says_what_the_customer_told_us_and_what_was_done(byo_run, tmp_path):
    assert "Your contest of 2026-04-10 is awaiting review" in _page(byo_run, tmp_path / "a", 17)
    declared = _page(byo_run, tmp_path / "b", 88)
    assert "you told us you belong to “Big spenders”" in declared and "decided by the model" in declared
    assert "Your correction of visits (90 days) recorded on 2026-03-01" in _page(byo_run, tmp_path / "c", 150)
    objected = _page(byo_run, tmp_path / "d", 4)
    assert "Objection to premium offers recorded on 2026-03-02: since then you are not selected" in objected
    assert "this is not me" not in _page(byo_run, tmp_path / "e", 17)  # a contest's text is never shown


def test_statement_shows_consequences_and_every_profiling_output(byo_run, tmp_path):
    from workbench.privacy import pseudonym_for
    from workbench.rundir import Run

    run = Run(byo_run / "run")
    premium = run.read_json("summary/04_fairness.json")["policy"]["premium_offer"]
    assignments = run.read_table("segments/assignments.parquet").set_index("customer_id")["segment_name"]
    raw = [f"C{i:05d}" for i in range(20, 60)]
    pseudonyms = pseudonym_for(raw, run.settings("privacy", {}))
    i = next(int(r[1:]) for r, p in zip(raw, pseudonyms) if assignments.get(p) in premium)
    page = _page(byo_run, tmp_path, i)
    assert "What your segment means for you" in page and "Your segment leads to: premium offers" in page
    assert "how clearly you belong to it" in page and "the next closest segment" in page


def test_without_controller_texts_refused_unless_draft(byo_run, tmp_path):
    config_path = byo_run / "run" / "config.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    for key in ("legal_basis", "retention"):
        config["report"].pop(key)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        with pytest.raises(InputError, match=r"report\.legal_basis, report\.retention") as err:
            statements_run(byo_run / "run", ["C00017"], tmp_path / "refused", pdf=False)
        assert "--draft" in str(err.value) and not (tmp_path / "refused").exists()
        page = _page(byo_run, tmp_path / "draft", 17, draft=True)
        assert page.count("DRAFT") >= 3 and "not stated (draft)" in page
    finally:
        config_path.write_text(original)


def test_consent_reads_yes_or_no_and_features_in_customer_words():
    import numpy as np

    from workbench.statement._content import missing_controller_texts, readable, shown

    assert shown(np.bool_(True)) == "yes" and shown(False) == "no"
    assert readable("recency") == "days since your last purchase"
    assert readable("category_grocery") == "share of your purchases in grocery"
    assert missing_controller_texts(CONTROLLER, ["age", "ethnicity"]) == ["report.special_category_basis"]
    assert missing_controller_texts(CONTROLLER, ["age", "gender"]) == []


def test_a_reason_every_customer_shares_is_left_out():
    from workbench.statement.views import _reasons

    shared = {"feature": "returns_rate", "value": 0.0, "typical": 0.0, "population_median": 0.0}
    real = {"feature": "recency", "value": 12.0, "typical": 20.0, "population_median": 90.0}
    page = _reasons({"contributions": [shared, real]})
    assert "days since your last purchase" in page and "returns" not in page
    assert "No feature-level explanation" in _reasons({"contributions": [shared]})


def test_a_customer_who_objected_to_profiling_gets_a_true_and_complete_statement(byo_run, tmp_path):
    """Issue 27: left out of the run for their objection, they are told that we hold and honour it, that
    nothing was computed about them, what our records still hold, who is responsible and what they can do."""
    import html

    results = statements_run(byo_run / "run", ["C00023", "C00009"], tmp_path, pdf=False)
    assert [r["status"] for r in results] == ["written", "not found"]  # C00009 opted out by flag: no record
    assert results[0]["objection"]
    page = Path(results[0]["file"]).read_text()
    assert "Objection to profiling for marketing recorded on 2026-03-05: since then you are in no segment" in page
    assert "only the record of your objection" in page and "None of your values is in it" in page
    assert "customers.csv" in page and "loyalty tier" in page and "your purchases" in page
    assert "You have no segment" in page and "premium offers" in page
    for text in CONTROLLER.values():
        assert html.escape(text) in page, text
    assert "Withdraw your objection" in page and "privacy@example.org" in page and "DRAFT" not in page
    assert not re.search(r"TIER\d{5}X", page) and "Name23" not in page  # no value of theirs or anyone's
    assert "The main reasons" not in page and "You are in the segment" not in page
