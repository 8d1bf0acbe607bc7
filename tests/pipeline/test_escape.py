"""Report tables escape HTML: a segment named <script> is text in every table, Styler included."""

import pandas as pd

from workbench.pipeline._prepare import escape_tables

NAME = '<script>alert("x")</script> & <b>Big</b>'


def test_styler_and_dataframe_tables_escape_html_after_a_run_is_opened():
    df = pd.DataFrame({"segment_name": [NAME], "customers": [12]})
    with pd.option_context("styler.format.escape", None):
        assert "<script>" in df.style.hide(axis="index").to_html()  # the pandas default: raw HTML
        escape_tables()
        for html in (
            df.style.hide(axis="index").to_html(),
            df.style.format({"customers": "{:.0f}"}).to_html(),
            df.style.format(precision=2).to_html(),
            df._repr_html_(),
            df.to_html(),
        ):
            assert "<script>" not in html and "<b>" not in html
            assert "&lt;script&gt;" in html
