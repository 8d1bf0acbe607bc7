"""Notebook display helpers: reviewer-ready tables, figure alt text, the colour-blind-safe style."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from workbench import report  # noqa: E402


def test_table_shows_counts_as_integers_and_suppressed_cells_with_a_reason():
    counts = pd.DataFrame({"female": [530.0, np.nan], "male": [1204.0, 77.0]},
                          index=pd.Index(["Holiday shoppers, small baskets, price-sensitive", "Lapsed"],
                                         name="segment_name"))
    t = report.table(counts, k=10)
    assert list(t.frame.columns) == ["Segment name", "Female", "Male"]  # the index is a column, no 2nd header
    assert t.frame["Female"].tolist() == ["530", "< 10"] and t.frame["Male"].tolist() == ["1,204", "77"]
    html = t._repr_html_()
    assert "530.0" not in html and "NaN" not in html and "nan" not in html
    assert "&lt; 10" in html and "privacy.suppression_k = 10" in html  # footnote says why
    assert html.count('<th scope="col">') == 3 and "Holiday shoppers, small baskets, price-sensitive" in html
    assert '<td class="num">1,204</td>' in html


def test_table_escapes_text_names_columns_and_formats_shares():
    df = pd.DataFrame({"segment_name": ["<script>x</script>"], "share": [0.2547], "mean_spend": [12.345],
                       "opted_in": [True]})
    t = report.table(df, names={"mean_spend": "mean spend (£)"}, percent=["share"])
    html = t._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert list(t.frame.columns) == ["Segment name", "Share", "mean spend (£)", "Opted in"]
    assert t.frame.iloc[0].tolist() == ["<script>x</script>", "25.5%", "12.35", "yes"]
    assert "Segment name" in repr(t) and "footnote" not in html  # nothing hidden, no footnote
    assert report.table(pd.DataFrame({"n": [1.0, None]}))._repr_html_().count("not available") == 1


def test_figure_alt_describes_titles_axes_and_legend():
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [3, 4], label="customers")
    ax.set_title("Segment sizes")
    ax.set_xlabel("segment")
    ax.set_ylabel("customers")
    ax.legend()
    alt = report.figure_alt(fig)
    assert alt == "Figure: Segment sizes; Bar chart: x axis 'segment', y axis 'customers'; legend: customers."
    plt.close(fig)
    empty = plt.figure()
    assert report.figure_alt(empty) == "Figure (no title or axis labels)."
    plt.close(empty)


def test_report_style_is_colour_blind_safe_and_attaches_alt_text():
    report.use_report_style()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == [c.lower() for c in report.OKABE_ITO] \
        or matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == report.OKABE_ITO
    assert matplotlib.rcParams["image.cmap"] == "cividis"
    from matplotlib_inline import backend_inline

    fig, ax = plt.subplots()
    ax.set_title("Drift")
    assert backend_inline._fetch_figure_metadata(fig)["alt"].startswith("Figure: Drift")
    report.use_report_style()  # twice: still one wrapper
    assert backend_inline._fetch_figure_metadata.__wrapped__.__name__ == "_fetch_figure_metadata"
    plt.close(fig)
