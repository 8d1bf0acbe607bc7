"""Campaign effect (notebook 08): did the targeting work, and for whom?

A randomised campaign (the optional table ``dataset.campaigns``: treatment and a control holdout)
is measured per segment, with segment membership as of the day each customer was assigned:
response rates in both arms, the uplift with its Newcombe score interval, relative lift, incremental
responders and revenue. Inside the segments the campaign targeted (the fairness policy's action of
the campaign's name, or ``campaign.actions``) the uplift is compared across sensitive groups with the
verdict rule of notebook 04, and customers left out who would have gained are counted.

Algorithms: ``_effects`` (counts, rates, uplift, intervals), ``_benefit`` (fairness-of-benefit
verdicts, who was left out), ``_defaults``. ``stage.py`` alone touches the run directory
(``campaign_run``); ``views.py`` and ``plots.py`` show the result.
"""

from ._benefit import benefit_verdict, left_out, pooled
from ._defaults import DEFAULTS
from ._effects import CELLS, effect_counts, effects_from_counts, mask_effects, uplift_difference
from .plots import plot_group_uplift, plot_kpis, plot_uplift
from .stage import CampaignResult, campaign_run, segment_kpis, segments_at_assignment
from .views import (
    effects_view, group_view, headline, kpi_view, left_out_view, methodology_markdown, reach_sentences, strategies_view,
    verdict_markdown,
)

__all__ = [
    "CELLS", "DEFAULTS", "CampaignResult", "benefit_verdict", "campaign_run", "effect_counts", "effects_from_counts",
    "effects_view", "group_view", "headline", "kpi_view", "left_out", "left_out_view", "reach_sentences", "strategies_view", "mask_effects", "methodology_markdown",
    "plot_group_uplift", "plot_kpis", "plot_uplift", "segment_kpis", "pooled", "segments_at_assignment", "uplift_difference", "verdict_markdown",
]
