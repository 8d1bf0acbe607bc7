"""The choices register's targeting join on both engines: the same holds per customer."""

import pandas as pd

from workbench import engine
from workbench.fairness._choices import choice_holds


def test_choice_holds_agree_on_duckdb_and_spark(spark_engine):
    ids = pd.Series([f"p{i:016x}" for i in range(6)])
    register = pd.DataFrame({
        "customer_id": [ids[1], ids[2], ids[2], ids[4]],
        "kind": ["contest", "object_action", "declare_segment", "declare_segment"],
        "target": ["", "premium_offer", "", ""], "segment": [None, None, "Top", "Nowhere"],
        "recorded_at": pd.Timestamp("2026-03-01"),
    })
    names = {0: "Bottom", 1: "Top"}
    results = {}
    for name in ("duckdb", "spark"):
        with engine.using({"engine": name}):
            results[name] = choice_holds(ids, register, ["premium_offer", "retention_discount"], names)
    duck, spark = results["duckdb"], results["spark"]
    assert duck.contested.tolist() == spark.contested.tolist() == [False, True, False, False, False, False]
    assert duck.declared.tolist() == spark.declared.tolist() == [-1, -1, 1, -1, -1, -1]
    assert duck.declared_unknown == spark.declared_unknown == 1
    for action in ("premium_offer", "retention_discount"):
        assert duck.objects[action].tolist() == spark.objects[action].tolist()
    assert duck.objects["premium_offer"].tolist() == [False, False, True, False, False, False]
