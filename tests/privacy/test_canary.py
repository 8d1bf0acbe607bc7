"""End-to-end privacy test: canaries planted in direct identifiers and raw ids never reach the run.

A bring-your-own dataset (CSV + YAML roles) holds unique canary strings in its names, emails, phones,
an undeclared free-text column and the raw customer ids. The whole pipeline runs on it with a
configured pseudonym key (itself a canary), an erasure list and opted-out customers; then every file
under the run directory (HTML, ipynb, JSON, CSV, Parquet bytes and decoded values, anything else
as bytes) is searched.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from workbench import pipeline, privacy
from workbench.data import load_config

N = 300
KEY = "KEYCNRY-" + secrets.token_hex(16)
FORGOTTEN = ["CNRYID00007", "CNRYID00123"]


def _byo(folder: Path) -> Path:
    rng = np.random.default_rng(11)
    ids = [f"CNRYID{i:05d}" for i in range(N)]
    opt_out = np.zeros(N, dtype=bool)
    opt_out[[3, 50, 51, 200, 299]] = True
    customers = pd.DataFrame({
        "cust_ref": ids,
        "full_name": [f"Cnryname{i} Cnrysurname{i}" for i in range(N)],
        "email_address": [f"cnrymail{i}@example.org" for i in range(N)],
        "mobile": [f"+44 7700 9{i:05d}" for i in range(N)],
        "notes": [f"cnrynote {i}: called about a parcel" for i in range(N)],  # no role: must be dropped
        "age": rng.integers(18, 80, N),
        "gender": rng.choice(["female", "male"], N),
        "postcode": rng.choice([f"Z{i}" for i in range(30)], N),
        "tenure_months": rng.integers(1, 60, N),
        "visits_90d": rng.poisson(6, N),
        "opted_out": np.where(opt_out, "yes", "no"),
    })
    n_tx = N * 8
    tx = pd.DataFrame({
        "cust_ref": rng.choice(ids, n_tx),
        "ts": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n_tx), unit="D")).strftime("%Y-%m-%d"),
        "amt": rng.gamma(2.0, 30.0, n_tx).round(2),
        "cat": rng.choice(["books", "music", "games"], n_tx),
        "chan": rng.choice(["web", "store"], n_tx),
    })
    customers.to_csv(folder / "customers.csv", index=False)
    tx.to_csv(folder / "transactions.csv", index=False)
    (folder / "erase.txt").write_text("customer_id\n" + "\n".join(FORGOTTEN) + "\n")
    config = {
        "name": "byo_canary",
        "seed": 5,
        "dataset": {
            "name": "byo",
            "customers": "customers.csv",
            "transactions": "transactions.csv",
            "roles": {
                "customers": {
                    "id": "cust_ref",
                    "direct_identifier": ["full_name", "email_address", "mobile"],
                    "quasi_identifier": ["age", "gender", "postcode"],
                    "sensitive": ["gender", "age"],
                    "feature": {"behavioural": ["tenure_months"], "engagement": ["visits_90d"],
                                "geographic": ["postcode"]},
                    "consent": {"profiling_opt_out": "opted_out"},
                },
                "transactions": {"id": "cust_ref", "timestamp": "ts", "amount": "amt",
                                 "category": "cat", "channel": "chan"},
            },
        },
        "privacy": {
            "forget": "erase.txt",
            "dp": {"enabled": True, "epsilon": 1.0, "delta": 1e-7,
                   "bounds": {"tenure_months": [0, 120], "visits_90d": [0, 50]}},
        },
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def byo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("byo")
    config_path = _byo(folder)
    mp = pytest.MonkeyPatch()
    mp.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    try:
        config = load_config(config=config_path)
        notebooks = pipeline.NOTEBOOKS + [n for n in ["06_private_release"] if n not in pipeline.NOTEBOOKS]
        result = pipeline.run(config, folder / "run", notebooks=notebooks, progress=lambda _: None)
        raw = pd.read_csv(folder / "customers.csv")
        pseudonyms = dict(zip(raw["cust_ref"], privacy.pseudonym_for(raw["cust_ref"], {})))
    finally:
        mp.undo()
    return result, raw, pseudonyms


def _texts(path: Path) -> list[str]:
    """The file as text, plus (Parquet) every decoded value and the schema metadata."""
    data = path.read_bytes()
    out = [data.decode("utf-8", errors="replace")]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        out.append(str(table.schema.metadata))
        for column in table.columns:
            out.append("\n".join(map(str, column.to_pylist())))
        out.append("\n".join(table.column_names))
    return out


def test_pipeline_completes_on_the_canary_dataset(byo_run):
    result, _, _ = byo_run
    assert result.ok, result.message


_IMAGE = re.compile(r'(data:image/[a-z+]+;base64,|"image/png": ")[A-Za-z0-9+/=]+(\\n[A-Za-z0-9+/=]+)*')


def test_no_canary_appears_in_any_file_of_the_run(byo_run):
    result, raw, _ = byo_run
    files = [p for p in result.out.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".html", ".ipynb", ".json", ".parquet"} <= kinds
    exact = set(raw["cust_ref"]) | set(raw["full_name"]) | set(raw["email_address"]) | set(raw["mobile"])
    exact |= {m.replace(" ", "") for m in raw["mobile"]}
    leaks = []
    for path in files:
        for text in _texts(path):
            text = _IMAGE.sub("", text)  # a figure's base64 bytes can spell "cnry" by chance; no value lives there
            low = text.lower()
            if "cnry" in low:
                i = low.index("cnry")
                leaks.append(f"{path.relative_to(result.out)}: ...{text[max(0, i - 40):i + 40]}...")
                break
            hit = next((c for c in exact if c in text), None)
            if hit:
                leaks.append(f"{path.relative_to(result.out)}: {hit}")
                break
    assert not leaks, "\n".join(leaks[:20])


def test_the_pseudonym_key_is_written_nowhere(byo_run):
    result, _, _ = byo_run
    needles = [KEY.encode(), KEY.encode().hex().encode(), KEY[8:].encode()]
    for path in result.out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
    prep = json.loads((result.out / "data" / "prepare.json").read_text())
    assert prep["pseudonym_key"] == "env:WORKBENCH_PSEUDONYM_KEY" and prep["pseudonyms_persistent"]


def test_forgotten_and_opted_out_customers_appear_in_no_output(byo_run):
    result, raw, pseudonyms = byo_run
    opted_out = raw.loc[raw["opted_out"] == "yes", "cust_ref"].tolist()
    gone = [pseudonyms[c] for c in FORGOTTEN + opted_out]
    kept = raw.loc[(raw["opted_out"] == "no") & ~raw["cust_ref"].isin(FORGOTTEN), "cust_ref"]
    prepared = pd.read_parquet(result.out / "data" / "customers.parquet")
    assert set(prepared["customer_id"]) == {pseudonyms[c] for c in kept}  # the key reproduces pseudonyms
    for path in result.out.rglob("*"):
        if path.is_file():
            for text in _texts(path):
                found = [p for p in gone if p in text]
                assert not found, f"{path.relative_to(result.out)} holds an excluded customer's pseudonym"


def test_consent_and_erasure_counts_match_in_summary_report_and_manifest(byo_run):
    result, raw, _ = byo_run
    n_opt = int((raw["opted_out"] == "yes").sum())
    summary = json.loads((result.out / "summary.json").read_text())
    counts = summary["privacy"]
    assert counts["opted_out_of_profiling"] == n_opt
    assert counts["erasure_requests"] == len(FORGOTTEN) and counts["erased"] == len(FORGOTTEN)
    assert counts["customers_kept"] == N - n_opt - len(FORGOTTEN) == summary["n_customers"]
    html = (result.out / "01_data_privacy.html").read_text()
    for line in (f"opted_out_of_profiling {n_opt}", f"erased {len(FORGOTTEN)}",
                 f"customers_kept {N - n_opt - len(FORGOTTEN)}"):
        assert " ".join(line.split()) in " ".join(html.split()), line
    manifest = json.loads((result.out / "manifest.json").read_text())
    key = privacy.PseudonymKey(KEY.encode(), "env:WORKBENCH_PSEUDONYM_KEY")
    assert manifest["dataset"]["erasure_list_hmac_sha256"] == privacy.fingerprint(FORGOTTEN, key)
    ledger = manifest["dp_ledger"]
    assert len(ledger["queries"]) == 3
    assert sum(q["epsilon"] for q in ledger["queries"]) == pytest.approx(1.0)
    prepared = pd.read_parquet(result.out / "data" / "customers.parquet")["customer_id"]
    text = json.dumps(summary)
    assert not any(p in text for p in prepared), "summary.json must hold no pseudonyms"
