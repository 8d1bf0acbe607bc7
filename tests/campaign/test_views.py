"""Notebook 08's tables, figures and methodology, and the benefit verdicts in the executive summary."""

from workbench import campaign
from workbench.pipeline._executive import verdict_table


def test_tables_and_figures_render_with_suppressed_rows(campaign_run):
    _, result = campaign_run
    html = campaign.effects_view(result, "premium_offer")._repr_html_()
    assert "uplift 95% low" in html and "&lt; 10" in html
    fig = campaign.plot_uplift(result, "premium_offer")
    assert "(targeted)" in " ".join(t.get_text() for t in fig.axes[0].get_yticklabels())
    assert campaign.plot_group_uplift(result, "premium_offer", "gender").axes
    assert "who was left out" in campaign.left_out_view(result, "premium_offer")._repr_html_()
    text = campaign.methodology_markdown(result)
    assert "Newcombe" in text and "±0.05" in text and "k = 10" in text


def test_benefit_verdicts_stand_beside_the_selection_verdicts_in_the_executive_summary():
    summary = {
        "04_fairness": {"verdicts": [{"action": "premium_offer", "attribute": "gender", "verdict": "pass",
                                      "sentence": "Selection is even."}]},
        "08_campaign": {"verdicts": [{"campaign": "premium_offer", "attribute": "gender", "verdict": "fail",
                                      "sentence": "Women gain more."}]},
    }
    page = verdict_table(summary, {"campaign": {"thresholds": {"uplift_difference": 0.04}}},
                         ["04_fairness_audit", "08_campaign_effect"])
    assert "benefit of premium offer by gender" in page and "uplift gap ≤ 0.04" in page
    assert "premium offer by gender" in page and 'href="08_campaign_effect.html"' in page
    assert "Benefit checks (notebook 08)" in page


def test_compare_shows_a_changed_benefit_verdict():
    from workbench.compare._verdicts import verdict_changes

    before = [{"campaign": "premium_offer", "attribute": "gender", "verdict": "pass", "sentence": "a", "_stage": "08_campaign"}]
    after = [{"campaign": "premium_offer", "attribute": "gender", "verdict": "fail", "sentence": "b", "_stage": "08_campaign"}]
    changes = verdict_changes(before, after, None, None)
    row = changes.iloc[0]
    assert row["changed"] and row["action"] == "benefit of premium_offer"
    assert row["sentence"] == "Benefit of premium offer by gender: PASS -> FAIL."
