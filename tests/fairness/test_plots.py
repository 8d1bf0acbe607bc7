"""Figures of the audit: one panel per attribute."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from workbench import fairness  # noqa: E402


def test_plots_of_the_telco_audit(telco_audit):
    _, audit = telco_audit
    n_attr = len(audit.attributes)
    fig = fairness.plot_selection_rates(audit, audit.policy["action"].iloc[0])
    assert len(fig.axes) == n_attr
    fig = fairness.plot_proxies(audit)
    assert len(fig.axes) == audit.proxies["attribute"].nunique()
    fig = fairness.plot_representation(audit, audit.attributes[0])
    assert len(fig.axes) == 2  # the heat map and its colour bar
    plt.close("all")
