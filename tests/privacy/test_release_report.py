"""No exact value of the DP release reaches a reader: notebook 06's HTML and audit.pdf, at small size.

The review (issue 24, 5a) found notebook 06's report and ``audit.pdf`` printing the internal utility
table: the exact per-segment counts and means beside the noisy ones. The comparison stays internal
(``artifacts/privacy/dp_utility.parquet``); the report states who the guarantee covers and who not.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess

import pytest

from workbench import pipeline
from workbench.data import load_config

NOTEBOOKS = ["02_segmentation", "06_private_release"]
SMALL = ["dataset.params.n_customers=1500", "dataset.params.seed=5", "segmentation.k_range=[3,4]",
         "segmentation.n_bootstrap=2", "segmentation.compare_learned=false"]


@pytest.fixture(scope="module")
def release_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("release-report") / "run"
    result = pipeline.run(load_config(dataset="synthetic", overrides=SMALL), out, notebooks=NOTEBOOKS,
                          progress=lambda m: None)
    assert result.ok, result.message
    return result.out


def _text(page: str) -> str:
    """What a reader sees: the page without markup, styles or scripts."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _numbers(text: str) -> list[str]:
    """The numbers a reader could take for a statistic: not a name's digits ("SHA-256", "ISO-8601")."""
    text = re.sub(r"\b[A-Za-z]+-\d+\b", " ", text)
    return re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))


#: A heading only notebook 06 has: where its part of ``audit.pdf`` starts (it is the last notebook run).
_NOTEBOOK_06 = "What budget was declared"


def _readers_texts(run) -> dict[str, str]:
    """Notebook 06's page and its part of ``audit.pdf`` (other notebooks' numbers may equal a count by chance)."""
    texts = {"06_private_release.html": _text((run / "06_private_release.html").read_text())}
    if (run / "audit.pdf").exists() and shutil.which("pdftotext"):
        pdf = subprocess.run(["pdftotext", "-layout", str(run / "audit.pdf"), "-"],
                             capture_output=True, text=True, check=True).stdout
        assert _NOTEBOOK_06 in pdf
        texts["audit.pdf"] = pdf[pdf.index(_NOTEBOOK_06):]
    return texts


def test_no_exact_value_of_the_release_is_in_any_page_a_reader_gets(release_run):
    import pandas as pd

    utility = pd.read_parquet(release_run / "artifacts" / "privacy" / "dp_utility.parquet")  # internal, kept
    counts = utility.loc[(utility["statistic"] == "count") & utility["exact"].notna()]
    means = utility.loc[(utility["statistic"] != "count") & utility["exact"].notna()]
    assert len(counts) >= 3 and len(means) >= 3
    # what release/ itself publishes (noisy counts, noise scales, accuracy) may equal an exact count by chance
    public = {float(x) for p in (release_run / "release").iterdir() for x in _numbers(p.read_text())}
    texts = _readers_texts(release_run)
    for name, text in texts.items():
        tokens = set(re.findall(r"\d[\d,]*\.?\d*", text))
        numbers = {float(x) for x in _numbers(text)}
        assert not {"abs_error", "within_expected", "relative_error"} & set(text.split()), name
        for r in counts.itertuples():
            if float(r.dp) == float(r.exact):  # the noise drew 0: the released count itself is this number
                continue
            assert float(r.exact) in public or float(r.exact) not in numbers, (name, r.segment, "exact count")
        for r in means.itertuples():  # a mean at a published clipping bound (e.g. 6.000) is no leak
            shown = f"{r.exact:.3f}" in tokens
            assert float(f"{r.exact:.3f}") in public or not shown, (name, r.segment, r.statistic)
    index = _text((release_run / "index.html").read_text())  # many other numbers: headers and means only
    assert not {"abs_error", "within_expected", "relative_error"} & set(index.split())
    hidden_means = {f"{r.exact:.3f}" for r in means.itertuples() if float(f"{r.exact:.3f}") not in public}
    assert not hidden_means & set(re.findall(r"\d[\d,]*\.?\d*", index))
    page = texts["06_private_release.html"]
    assert "Who is not protected" in page and "fit sample" in page and "keyed hash" in page


def test_the_exact_comparison_is_an_internal_artefact_outside_release(release_run):
    assert (release_run / "artifacts" / "privacy" / "dp_utility.parquet").exists()
    published = sorted(p.name for p in (release_run / "release").iterdir())
    assert published == ["accuracy.csv", "ledger.json", "methodology.html", "release.csv"]
    assert "internal" in _text((release_run / "06_private_release.html").read_text()).lower()
