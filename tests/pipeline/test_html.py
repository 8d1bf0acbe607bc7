"""Offline HTML export of an executed notebook."""

import nbformat
from nbclient import NotebookClient

from workbench import pipeline


def test_cells_tagged_report_hidden_stay_out_of_the_html(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('print("shown-to-reviewer")'),
        nbformat.v4.new_code_cell('print("for-nbval-only")', metadata={"tags": [pipeline.REPORT_HIDDEN]}),
    ])
    NotebookClient(nb, kernel_name="python3").execute()
    nbformat.write(nb, tmp_path / "nb.ipynb")
    pipeline.export_html(tmp_path / "nb.ipynb", tmp_path / "nb.html")
    html = (tmp_path / "nb.html").read_text()
    assert "shown-to-reviewer" in html and "for-nbval-only" not in html
