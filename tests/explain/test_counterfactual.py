"""Counterfactuals: a small change in actionable features that moves a customer to the runner-up."""

from workbench import explain


def test_counterfactual_moves_customer_with_actionable_features_only(fitted):
    X, _, _, exp = fitted
    res = exp.explain(X.iloc[:40])
    moved = 0
    for i in range(40):
        x = X.iloc[[i]]
        target = int(res["runner_up"][i])
        members = X[exp.predict(X) == target]
        typical = {c: float(members[c].median()) for c in ["spend", "visits"]}
        cf = explain.counterfactual(x, exp.predict, target, typical, ["spend", "visits"],
                                    scale={"spend": float(X["spend"].std()), "visits": float(X["visits"].std())})
        if cf is None:
            continue
        moved += 1
        changed = x.copy()
        for c in cf["changes"]:
            assert c["feature"] in {"spend", "visits"}
            changed[c["feature"]] = c["to"]
        assert exp.predict(changed)[0] == target
    assert moved >= 20
