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
from workbench.segment import segment_run
from workbench.statement import read_ids, statements_run

N = 240


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
    config = {
        "name": "byo_statements", "seed": 5,
        "report": {"commissioned_by": "Example Retail Ltd", "contact": "privacy@example.org"},
        "dataset": {
            "name": "byo", "customers": "customers.csv", "transactions": "transactions.csv",
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
