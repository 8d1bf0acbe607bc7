"""The verdict table's value and interval columns: exactly the numbers summary.json publishes."""

import json
import re
from html import unescape

import pytest

from workbench.pipeline._executive import format_value, verdict_rows, verdict_table

@pytest.fixture()
def fairness_run(small_synthetic_run):
    """The session's end-to-end run (tests/conftest.py), whose index shows the fairness verdicts."""
    assert small_synthetic_run.ok, small_synthetic_run.message
    return small_synthetic_run.out


def _verdict_rows(page: str) -> list[list[str]]:
    table = re.search(r'<table class="verdicts">.*?</table>', page, re.S).group(0)
    body = table.split("</thead>", 1)[1]  # per verdict: a row of cells (check first), then its finding
    return [[unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_index_shows_summary_values_and_intervals(fairness_run):
    summary = json.loads((fairness_run / "summary.json").read_text())
    verdicts = summary["04_fairness"]["verdicts"]
    rows = _verdict_rows((fairness_run / "index.html").read_text())
    assert len(rows) == len(verdict_rows(summary)) and len(verdicts) > 0  # every stage's, 04's first
    with_value = 0
    for row, v in zip(rows[:len(verdicts)], verdicts):
        check, _band, value, interval, test = row[:5]
        assert check == f"{v['action'].replace('_', ' ')} by {v['attribute']}"
        assert value == format_value(v["value"])
        if v["value"] is None:  # withheld (suppressed counts): no number, in the sentence either
            assert interval == "–"
            continue
        with_value += 1
        assert interval == f"{format_value(v['interval_low'])}–{format_value(v['interval_high'])}"
        assert v["interval_low"] <= v["value"] <= v["interval_high"]
        # the sentence states the same interval, rounded the same way
        assert f"{v['interval_low']:.2f}–{v['interval_high']:.2f}" in v["sentence"]
        assert f"over {v['family_size']} " in test and "95% level, Holm" in test
        assert test.endswith(" pairs") if v["reference_by_rate"] else test.endswith(f" with {v['reference']}")
    assert with_value > 0


def test_withheld_value_shows_no_number():
    row = {"action": "premium_offer", "attribute": "age", "verdict": "insufficient evidence", "sentence": "s",
           "value": None, "interval_low": None, "interval_high": None, "level": 0.95, "correction": "bh",
           "family_size": 1, "reference": "30-45", "_stage": "04_fairness"}
    page = verdict_table({"04_fairness": {"verdicts": [row]}}, {}, ["04_fairness_audit"])
    cells = _verdict_rows(page)[0]
    assert cells[2:5] == ["–", "–", "95% level, Benjamini–Hochberg over 1 comparison with 30-45"]


def test_hyphenated_words_in_a_finding_stay_on_one_line():
    from workbench.pipeline._executive import unbroken_hyphens

    out = unbroken_hyphens("selected at 0.94 times the rate of non-binary customers aged 18-29 <b>")
    assert '<span class="nobr">non-binary</span>' in out and '<span class="nobr">18-29</span>' in out
    assert "&lt;b&gt;" in out and "0.94" in out
    assert "<span class=\"nobr\">0.8–1.25</span>" in unbroken_hyphens("within 0.8–1.25 but")
