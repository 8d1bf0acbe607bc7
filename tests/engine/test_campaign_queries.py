"""The campaign table's checks and its prepared rows: the same on DuckDB and Spark (issue 26)."""

import pandas as pd
import pytest

from workbench import engine, privacy
from workbench.data import Roles, TransactionRoles
from workbench.data._campaigns import as_text

KEY = privacy.PseudonymKey(b"campaign-key-0123456789", "file")


def _prepared_inputs(eng):
    customers = pd.DataFrame({"cid": ["a", "b", "c", "d", "e"],
                              "opt_out": pd.array([False, True, False, False, False], dtype="boolean")})
    roles = Roles(id="cid", consent={"profiling_opt_out": "opt_out"},
                  transactions=TransactionRoles(id="cid", timestamp="ts", amount="amt"))
    tx = pd.DataFrame({"cid": ["a", "a", "c", "d", "e"],
                       "ts": pd.to_datetime(["2024-02-02", "2024-04-01", "2024-02-20", "2024-01-20", "2024-02-01"]),
                       "amt": [10.0, 99.0, 5.0, 7.0, -3.0]})
    privacy.register_inputs(eng, customers, tx, roles, ["e"], KEY)
    privacy.exclusion_counts(eng, roles, ["e"], "no_consent", transactions=True)
    return roles


CAMPAIGNS = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "campaign": "spring",
                          "arm": ["Treatment", "control", "treatment", "CONTROL", "treatment"],
                          "assigned_at": pd.to_datetime(["2024-02-01"] * 5)})


@pytest.mark.parametrize("name", ["duckdb", "spark"])
def test_prepared_campaign_rows_compute_the_response_from_transactions(engines, name):
    eng = engines[name]
    roles = _prepared_inputs(eng)
    present = engine.register_campaigns(eng, as_text(CAMPAIGNS))
    assert engine.campaign_problems(eng, present, pd.Timestamp("2024-12-31"), "test") == []
    rows = eng.fetch_rows(engine.prepared_campaigns_query(present, "cid", "cid", "ts", "amt", 30))
    rows = rows.sort_values(["arm", "revenue"]).reset_index(drop=True)
    # b opted out and e erased: removed; a bought 10 within 30 days (99 is later), c 5, d before assignment
    assert list(rows["arm"]) == ["control", "treatment", "treatment"]
    assert list(rows["response"]) == [0, 1, 1] and list(rows["revenue"]) == [0.0, 5.0, 10.0]
    assert rows["customer_id"].str.fullmatch(r"p[0-9a-f]{16}").all()


@pytest.mark.parametrize("name", ["duckdb", "spark"])
def test_campaign_problems_are_worded_alike_on_both_engines(engines, name):
    eng = engines[name]
    _prepared_inputs(eng)
    bad = pd.concat([CAMPAIGNS, pd.DataFrame({"id": ["a", "zz"], "campaign": ["spring", "autumn"],
                                              "arm": ["control", "holdout"], "assigned_at": ["2024-02-01", "soon"]})])
    present = engine.register_campaigns(eng, as_text(bad))
    lines = engine.campaign_problems(eng, present, pd.Timestamp("2024-12-31"), "test")
    text = "\n".join(lines)
    assert "column 'arm': 1 row(s) hold a value other than treatment or control (e.g. 'holdout')" in text
    assert "column 'assigned_at': 1 row(s) are not a date or timestamp (e.g. 'soon')" in text
    assert "column 'arm': 1 customer(s) are in both the treatment and the control arm" in text
    assert "column 'id': 1 customer id(s) are not in the customer table" in text and "zz" not in text
