"""Sentences about the assignment history for the notebooks (numbers from :func:`.stage.assignment_ages`)."""

from __future__ import annotations


def assignment_ages_markdown(ages: dict) -> str:
    """For notebook 05: how long since the current assignments were last confirmed by data (Markdown)."""
    text = (f"Assignment history ({ages['batches']} incremental batch{'es' if ages['batches'] != 1 else ''} since "
            f"the run): {int(ages['assigned']):,} customers hold a segment; counted to {ages['as_of']:%Y-%m-%d}, "
            f"their assignment was last confirmed by data (set by the run, or re-scored by a batch) a median "
            f"**{ages['median_days']:.0f} days** ago; {ages['share_over_90']:.0%} more than 90 days ago, "
            f"{ages['share_over_365']:.0%} more than a year ago.")
    if ages["without_segment"]:
        text += f" {int(ages['without_segment']):,} customers have no segment: their objection to profiling is in force."
    return text
