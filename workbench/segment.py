"""Learned segments: k-means on scaled customer features.

Writes the artifacts later stages read: ``segments/assignments.parquet`` (customer_id, segment,
segment_name), ``segments/features.parquet`` (the inputs, original units) and ``segments/segments.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .features import build_features
from .run import Run, register_stage

__all__ = ["DEFAULTS", "segment_run"]

DEFAULTS = {"k": 4}


@register_stage("segments/assignments.parquet")
def segment_run(run: Run) -> pd.DataFrame:
    settings = run.settings("segmentation", DEFAULTS)
    features = build_features(run.customers(), run.transactions(), run.roles)
    X = features.drop(columns=["customer_id"])
    model = make_pipeline(StandardScaler(), KMeans(settings["k"], n_init=4, random_state=run.seed))
    labels = model.fit_predict(X.to_numpy(dtype=float))
    names = {int(j): f"Segment {j}" for j in np.unique(labels)}
    assignments = pd.DataFrame(
        {"customer_id": features["customer_id"], "segment": labels, "segment_name": [names[j] for j in labels]}
    )
    run.write_table("segments/features.parquet", features)
    run.write_table("segments/assignments.parquet", assignments)
    run.write_json("artifacts/segments/segments.json", {"k": settings["k"], "names": names, "inputs": list(X.columns)})
    run.summarise("02_segmentation", k=settings["k"], sizes=assignments["segment"].value_counts().sort_index())
    return assignments
