import numpy as np
import pandas as pd

from workbench.value import views

MODELS = {"bgnbd": {"r": 0.243, "alpha": 4.41, "a": 0.793, "b": 2.43}, "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.4},
          "scored_customers": 2357, "customers": 2400, "fitted_customers": 2357, "gamma_gamma_customers": 946,
          "converged": True, "spend_frequency_correlation": 0.11,
          "holdout": {"holdout_days": 273, "calibration_end": "1997-10-01"},
          "settings": {"horizon_days": 365, "discount_rate": 0.1, "growth_rank_gap": 0.5}}


def test_parameter_table_and_lines_name_every_parameter():
    t = views.parameter_table(MODELS)
    assert t["parameter"].tolist() == ["r", "alpha", "a", "b", "p", "q", "v"] and t["meaning"].notna().all()
    lines = views.model_lines(MODELS)
    assert "r=0.243" in lines[1] and "2357 of 2400" in lines[0]


def test_headline_uses_only_published_holdout_rows():
    holdout = pd.DataFrame({"bucket": ["0", "1"], "customers": [100.0, np.nan], "actual": [1.0, np.nan],
                            "predicted": [2.0, np.nan]})
    lines = views.headline(MODELS, holdout, 40.0)
    assert "1.00 repeat purchases per customer observed, 2.00 predicted" in lines[1]
    assert lines[2].startswith("40 customers")
    assert len(views.headline(MODELS, holdout, np.nan)) == 2


def test_targeting_and_left_out_tables_show_suppressed_cells_as_such():
    rates = pd.DataFrame({
        "policy": ["historical value"] * 2 + ["predicted value"] * 2, "group": ["a", "b"] * 2,
        "n": [100.0, np.nan] * 2, "selected": [10.0, np.nan] * 2, "rate": [0.1, np.nan, 0.12, np.nan],
        "rate_low": [0.05, np.nan, 0.07, np.nan], "rate_high": [0.15, np.nan, 0.18, np.nan]})
    t = views.targeting_table(rates)
    assert t.loc[0, "historical value"] == "10.0% [5.0%, 15.0%]" and t.loc[1, "predicted value"] == "suppressed"
    assert t["customers"].tolist() == ["100", "suppressed"]
    overlap = pd.DataFrame({"both": [5.0, np.nan], "historical only": [5.0, np.nan], "predicted only": [7.0, 3.0],
                            "neither": [83.0, 40.0], "Total": [100.0, 50.0]}, index=["a", "Total"])
    left = views.left_out_table(overlap)
    assert left.loc[0, "left out by historical (predicted only)"] == 0.07 and len(left) == 1


def test_growth_sentence_reads_the_published_total():
    counts = pd.DataFrame({"growth potential": [12.0, 12.0], "other": [88.0, 88.0], "Total": [100.0, 100.0]},
                          index=["s", "Total"])
    assert views.growth_sentence(counts).startswith("12 of 100")
    counts.loc["Total", "growth potential"] = np.nan
    assert "suppressed" in views.growth_sentence(counts)


def test_methodology_renders_fit_holdout_and_targeting_settings():
    from workbench.value.views import methodology_markdown

    models = {"fitted_customers": 900, "gamma_gamma_customers": 700, "scored_customers": 950,
              "holdout": {"calibration_end": "2025-01-01", "observation_end": "2025-07-01", "holdout_days": 181},
              "settings": {"fit_sample": 5000, "step_days": 30, "horizon_days": 180, "discount_rate": 0.08,
                           "growth_rank_gap": 0.4, "top_share": 0.2}}
    text = " ".join(methodology_markdown(models, k=8, min_group_size=50).split())
    assert "at most 5,000 customers" in text and "900 for BG/NBD" in text and "700 repeat buyers" in text
    assert "next 180 days" in text and "8% a year" in text
    assert "up to 2025-01-01, holdout of 181 days" in text and "fewer than 8 customers" in text
    assert "at least 0.4" in text and "top 20%" in text and "at least 50 customers" in text
    assert "Wilson score interval" in text and "Holm-corrected" in text
