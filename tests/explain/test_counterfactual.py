"""Feasible counterfactuals: changes in purchasing, applied to transactions, recomputed and verified by the model."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench import explain, segment
from workbench.features import DEFAULTS as FEATURE_DEFAULTS
from workbench.features import build_features

CLOCK_AND_PROFILE = {"recency", "tenure", "age", "region", "postcode", "price_sensitivity", "brand_affinity",
                     "eco_concern"}


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """A synthetic run segmented by the real pipeline model (k-means on the default inputs), explained."""
    import os

    from workbench import open_run

    os.environ.setdefault("WORKBENCH_PSEUDONYM_KEY", "test-key-not-secret-0123456789")
    folder = tmp_path_factory.mktemp("cf")
    cfg = folder / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"name": "t", "dataset": {"builtin": "synthetic", "params": {
        "n_customers": 1500, "seed": 2}}, "seed": 3, "segmentation": {"k": 5}}))
    run = open_run(folder / "run", cfg)
    segment.segment_run(run)
    explain.explain_run(run)
    return run, explain.load_state(run)


#: Words that would ask a customer to change what they already did ("moving 1 of your 2 purchases ...").
PAST = re.compile(r"\bmov(e|ing)\b|of your \d+ purchases|instead of|past purchase|already bought|relabel", re.I)


def test_actions_are_future_purchases_only_and_leave_the_past_alone():
    tx = pd.DataFrame({"customer_id": "c", "timestamp": pd.to_datetime(["2024-01-05", "2024-03-01", "2024-05-01"]),
                       "amount": [10.0, 30.0, 20.0], "category": ["food", "food", "toys"], "channel": "web"})
    ctx = explain.FeatureContext(as_of=pd.Timestamp("2024-06-01"), settings=dict(FEATURE_DEFAULTS),
                                 levels={"category": ["food", "toys", "tech"], "channel": ["web", "store"]},
                                 typical_basket=15.0, columns=["frequency"])
    sets = explain.candidate_actions(tx, ctx)
    assert {a.kind for s in sets for a in s} == {"add"}
    # as usual, 3 categories, 2 channels, 3 x 2 pairs: 12 level choices x 6 counts x 3 baskets
    assert len(sets) == 12 * 6 * 3
    add = next(s for s in sets if s[0].n == 2 and s[0].basket == 1.0 and not s[0].levels)
    changed = explain.apply_actions(tx, add, ctx.as_of)
    pd.testing.assert_frame_equal(changed.iloc[:3], tx.astype({"category": object, "channel": object}))  # the past
    new = changed.iloc[3:]
    assert len(changed) == 5 and (new["amount"] == 20.0).all()  # the customer's median basket
    assert (new["timestamp"] > ctx.as_of).all() and (new["timestamp"] < ctx.period_end).all()
    assert (new["category"] == "food").all()  # as usual: the customer's most common category
    tech = next(s for s in sets if s[0].n == 1 and s[0].basket == 1.0 and s[0].levels == {"category": "tech",
                                                                                          "channel": "store"})
    added = explain.apply_actions(tx, tech, ctx.as_of).iloc[3:]
    assert added[["category", "channel"]].values.tolist() == [["tech", "store"]]
    assert tech[0].text == ("1 more purchase of your typical basket (about 20.00 each) in category \u201ctech\u201d "
                            "through channel \u201cstore\u201d in the next 90 days")
    assert not any(PAST.search(a.text) for s in sets for a in s)


def test_every_counterfactual_is_verified_and_consistent_with_its_transactions(segmented):
    run, state = segmented
    ctx = state["feature_context"]
    features = run.read_table("segments/features.parquet")
    assignments = run.read_table("segments/assignments.parquet").set_index("customer_id")
    customers, transactions = run.customers(), run.transactions()
    model = state["model"]
    assert model is not None and state["counterfactual_model"] == "segmentation model"
    fsettings = {**FEATURE_DEFAULTS, **((run.config.get("segmentation") or {}).get("features") or {})}
    cols = [c for c in features.columns if c != "customer_id"]
    found = 0
    for i in np.random.default_rng(0).choice(len(features), 8, replace=False):
        pid = features["customer_id"].iloc[i]
        row = features.iloc[[i]][cols].reset_index(drop=True)
        tx = transactions[transactions["customer_id"] == pid]
        current = int(assignments.loc[pid, "segment"])
        cf = explain.feasible_counterfactual(row, tx, model.predict, current, ctx, state["scale"])
        if not cf["found"]:
            assert cf["searched"] > 0
            continue
        found += 1
        assert cf["target"] != current and cf["actions"]
        assert not any(PAST.search(a) for a in cf["actions"])
        assert cf["target"] != cf["without_action"]  # not where doing nothing leads anyway
        # recompute the features of the whole run at the period's end with this customer's purchases added
        changed = explain.apply_actions(tx, cf["action_sets"], ctx.as_of).assign(customer_id=pid)  # none yet: no id
        others = transactions[transactions["customer_id"] != pid]
        all_tx = pd.concat([others, changed.astype({c: others[c].dtype for c in ("category", "channel")
                                                     if c in others and not isinstance(others[c].dtype,
                                                                                       pd.CategoricalDtype)})],
                           ignore_index=True)
        for c in ("category", "channel"):
            if c in all_tx:
                all_tx[c] = all_tx[c].astype(str)
        recomputed = build_features(customers, all_tx, run.roles, fsettings, as_of=ctx.period_end)
        mine = recomputed[recomputed["customer_id"] == pid][cols].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, cf["features"][cols], check_dtype=False, atol=1e-9)
        assert model.predict(mine)[0] == cf["target"]  # verified with the model
        moved = {c["feature"] for c in cf["changes"]}
        assert moved and not moved & {"age", "region", "price_sensitivity", "brand_affinity", "eco_concern"}
        for c in cf["changes"]:
            assert mine[c["feature"]].iloc[0] == pytest.approx(c["to"])
    assert found >= 4


def test_customer_explanation_suggests_behaviour_not_the_clock(segmented):
    run, _ = segmented
    pid = run.read_table("segments/assignments.parquet")["customer_id"].iloc[3]
    exp = explain.explain_customer(run, pid)
    cf = exp["counterfactual"]
    assert cf is not None
    if cf["found"]:
        text = " ".join(cf["actions"])
        assert "purchase" in text and not any(w in text for w in ("recency", "tenure", "age", "survey"))
        assert not PAST.search(text)
        assert "would move you to" in exp["paragraph"]
    else:
        assert "moves you to another segment" in cf["why"]
