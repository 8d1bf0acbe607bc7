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


def test_primary_and_complementary_cells_read_differently_with_their_own_footnotes():
    from workbench.privacy import suppress_counts

    counts = pd.DataFrame({"female": [530, 4, 300], "male": [1204, 77, 250]},
                          index=pd.Index(["Loyal", "Lapsed", "New"], name="segment"))
    published = suppress_counts(counts, k=10, margins=True)
    # 4 is below k (primary); the cells hidden to protect it count k or more (complementary)
    assert published.attrs["complementary"] and ("Lapsed", "female") not in published.attrs["complementary"]
    t = report.table(published, k=10)
    lapsed = t.frame.set_index("Segment").loc["Lapsed"]
    assert lapsed["Female"] == "< 10"
    shown = t.frame.drop(columns="Segment").to_numpy().ravel().tolist()
    assert shown.count("< 10") == 1 and shown.count("hidden†") == len(published.attrs["complementary"]) >= 1
    totals = counts.assign(Total=counts.sum(axis=1))
    totals.loc["Total"] = totals.sum()
    assert all(totals.loc[row, col] >= 10 for row, col in published.attrs["complementary"])
    html = t._repr_html_()
    assert "“&lt; 10”: fewer than 10 customers" in html
    assert "“hidden†”: hidden so that a smaller cell cannot be recovered from the totals" in html
    # told explicitly: no cell is complementary, so the footnote for that marker is absent
    plain = report.table(published, k=10, complementary=[])
    assert "hidden†" not in plain._repr_html_()
    # without the knowledge (a frame built elsewhere) both reasons are named under one marker
    unknown = report.table(pd.DataFrame({"n": [5.0, np.nan]}), k=10)
    assert unknown.frame["N"].tolist() == ["5", "< 10"] and "or was hidden together with" in unknown._repr_html_()


def test_complementary_row_of_suppress_rows_is_marked():
    from workbench.privacy import suppress_rows

    rows = suppress_rows(pd.DataFrame({"segment": ["a", "b", "c"], "n": [3, 40, 500], "spend": [1.0, 2.0, 3.0]}),
                         "n", k=10)
    assert rows.attrs["complementary"] == [(1, "n"), (1, "spend")]
    t = report.table(rows.drop(columns="suppressed"), k=10)
    assert t.frame["N"].tolist() == ["< 10", "hidden†", "500"]
    assert t.frame["Spend"].tolist() == ["< 10", "hidden†", "3"]


def test_a_table_published_unmarked_prints_one_marker_for_every_hidden_cell():
    """When printing which cells are "< k" would narrow a hidden count (issue 24), the mechanism
    publishes the table with ``attrs["unmarked"]``: one marker, both reasons in its footnote."""
    from workbench.privacy import suppress_counts

    counts = pd.DataFrame({"female": [530, 4, 300], "male": [1204, 77, 250]},
                          index=pd.Index(["Loyal", "Lapsed", "New"], name="segment"))
    published = suppress_counts(counts, k=10, margins=True)
    published.attrs["unmarked"] = True
    t = report.table(published, k=10)
    shown = t.frame.drop(columns="Segment").to_numpy().ravel().tolist()
    assert "hidden†" not in shown and shown.count("< 10") == int(published.isna().sum().sum()) > 1
    assert "or was hidden together with" in t._repr_html_()
