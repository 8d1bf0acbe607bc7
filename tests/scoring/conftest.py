"""A finished segmentation run (1,500 synthetic customers) and the raw tables it was prepared from."""

import os

import pytest

import workbench
from workbench import privacy, segment
from workbench.data import load_config
from workbench.pipeline import prepare

KEY = "test-key-scoring-0123456789"


@pytest.fixture(scope="session")
def scored_run(tmp_path_factory):
    """``(run, raw)``: a prepared run with stage 02 done (kmeans, k=4) and its raw input tables as Parquet.

    ``raw`` holds ``customers``, ``transactions`` and ``choices`` (the choices register: its objections to
    profiling removed those customers from the run) as paths, with the customer's own ids and column names,
    and ``pseudonym``, a function from raw ids to the run's pseudonyms (the run's persistent key).
    """
    previous = os.environ.get("WORKBENCH_PSEUDONYM_KEY")
    os.environ["WORKBENCH_PSEUDONYM_KEY"] = KEY
    try:
        key = privacy.resolve_key(privacy.DEFAULTS)
        cfg = load_config(dataset="synthetic", overrides=[
            "dataset.params.n_customers=1500", "dataset.params.seed=3", "segmentation.k=4",
        ])
        run = prepare(cfg, tmp_path_factory.mktemp("scored") / "run")
        segment.segment_run(run)
    finally:
        if previous is None:
            del os.environ["WORKBENCH_PSEUDONYM_KEY"]
        else:
            os.environ["WORKBENCH_PSEUDONYM_KEY"] = previous
    data = workbench.load("synthetic", n_customers=1500, seed=3)
    folder = tmp_path_factory.mktemp("warehouse")
    raw = {"customers": folder / "customers.parquet", "transactions": folder / "transactions.parquet",
           "choices": folder / "choices.parquet"}
    data.customers.to_parquet(raw["customers"])
    data.transactions.to_parquet(raw["transactions"])
    data.choices.to_parquet(raw["choices"])
    raw["pseudonym"] = lambda ids: privacy.pseudonymise(ids.astype(str), key).to_numpy()
    return run, raw
