"""The driver's scoring of a small batch (:mod:`workbench.scoring._local`) against the exported query on DuckDB."""

import numpy as np
import pandas as pd

from workbench import engine, scoring
from workbench.scoring import _local, stage


def _both(run, model, frozen):
    """Every customer of the run scored by the exported query and by the driver on the query's features."""
    with engine.make_engine(run.config) as eng:
        wh = stage._register_scope(eng, run, frozen)
        on_engine = _local.score_in(eng, model, frozen, wh)  # no row count: the exported query
        features = eng.fetch_rows(_local.features_query(model, frozen, wh))
    return on_engine.set_index("customer_id").sort_index(), _local.score(model, features).set_index("customer_id")


def test_driver_scoring_equals_the_exported_query(scored_run):
    run, _ = scored_run
    model, frozen = stage.load_centroid_model(run), scoring.frozen_features(run)
    on_engine, local = _both(run, model, frozen)
    local = local.loc[on_engine.index]
    assert len(local) == len(on_engine) == len(run.customers())
    np.testing.assert_array_equal(local["segment"].to_numpy(), on_engine["segment"].to_numpy())
    np.testing.assert_allclose(local["margin"].to_numpy(), on_engine["margin"].to_numpy(dtype=float), rtol=1e-12,
                               atol=1e-12)
    assert model.transforms_ and "onehot" in set(model.transforms_.values())  # both kinds of input are covered


def test_driver_scoring_reads_missing_inputs_as_the_query_does(scored_run):
    """NULL and NaN inputs (imputed, or the one-hot level ``missing``) and a value below the winsorised range."""
    run, _ = scored_run
    model = stage.load_centroid_model(run)
    features = run.read_table("segments/features.parquet").head(6)
    features = features[["customer_id", *model.feature_names_in_]].astype({c: object for c in model.transforms_
                                                                           if model.transforms_[c] == "onehot"})
    numeric = [c for c, t in model.transforms_.items() if t != "onehot"]
    onehot = [c for c, t in model.transforms_.items() if t == "onehot"]
    features.loc[features.index[0], numeric] = np.nan
    features.loc[features.index[1], onehot] = None
    features.loc[features.index[2], numeric[0]] = -1e12
    with engine.make_engine(run.config) as eng:
        eng.register_rows("features", features)
        from workbench.engine import score_parts

        ctes, final = score_parts(model, "features", margin=True)
        expected = eng.fetch_rows(f"WITH {', '.join(ctes)} {final}").set_index("customer_id")
        typed = eng.fetch_rows("SELECT customer_id, " + ", ".join(
            f'CAST("{c}" AS {"VARCHAR" if c in onehot else "DOUBLE"}) AS "{c}"' for c in model.transforms_)
            + " FROM features")
    got = _local.score(model, typed).set_index("customer_id").loc[expected.index]
    np.testing.assert_array_equal(got["segment"].to_numpy(), expected["segment"].to_numpy())
    np.testing.assert_allclose(got["margin"].to_numpy(), expected["margin"].to_numpy(dtype=float), rtol=1e-12)
    assert isinstance(got, pd.DataFrame) and len(got) == 6
