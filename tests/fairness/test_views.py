"""What notebook 04 shows: tables, Markdown and the nbval text of an audit."""

from __future__ import annotations

from workbench import fairness


def test_views_of_the_telco_audit(telco_audit):
    _, audit = telco_audit
    assert fairness.verdict_text(audit).splitlines() == [
        f"{r.action} / {r.attribute}: {r.verdict}" for r in audit.verdicts.itertuples()]
    md = fairness.verdict_markdown(audit).splitlines()
    assert md[0] == "| action | attribute | verdict | why |" and len(md) == len(audit.verdicts) + 2
    assert fairness.given_markdown(audit) is None  # segments learned in this run
    for action in audit.policy["action"]:
        view = fairness.selection_view(audit, action)
        assert list(view.columns) == ["customers", "selection rate (CI)", "ratio to comparison group (CI)",
                                      "p (corrected)", "status"]
        assert (view["ratio to comparison group (CI)"] == "comparison group").sum() == len(audit.attributes)
    assert len(fairness.dp_view(audit)) == len(audit.dp)
    assert fairness.consent_view(audit) is None  # the telco policy names no consent
    text = fairness.methodology_markdown(audit)
    for words in ("intersection–union", "Holm correction over the **family**", "Wilson", "Koopman", "Newcombe",
                  "0.8–1.25", "at least 30 customers", "every pair", "outside", "equals that edge"):
        assert words in text
    assert list(fairness.proxy_joint_view(audit).columns)[:2] == ["AUC, segmentation inputs",
                                                                  "AUC, all customer columns"]
    assert len(fairness.outcome_view(audit)) == len(audit.outcome_summary)
    assert fairness.proxy_view(audit).index.names == ["attribute", "rank"]
    by_attribute, cost, reach = fairness.mitigation_view(audit)
    assert list(cost.columns) == ["as segmented", "after CorrelationRemover"]


def test_not_applicable_audit():
    audit = fairness.FairnessAudit(applicable=False, reason="no sensitive attribute")
    assert fairness.verdict_text(audit) == "not applicable"
    assert fairness.given_markdown(audit) is None
