"""One small synthetic run with the planted campaign, its segments fitted (k fixed) and notebook 08's stage run."""

from __future__ import annotations

import pytest

from workbench import campaign, pipeline
from workbench.data import load_config


@pytest.fixture(scope="session")  # shared by the modules of this folder: fitting segments costs seconds
def campaign_run(tmp_path_factory):
    cfg = load_config(dataset="synthetic", overrides=[
        "dataset.params.n_customers=2500", "dataset.params.seed=3", "segmentation.k=5"])
    run = pipeline.prepare(cfg, tmp_path_factory.mktemp("campaign") / "run", fresh=True)
    return run, campaign.campaign_run(run)
