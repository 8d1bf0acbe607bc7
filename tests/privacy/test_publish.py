import numpy as np
import pandas as pd
import pytest

from workbench.privacy import publish_counts, published_tables, suppress_counts
from workbench.rundir import Run


def test_published_table_round_trips_in_long_form_with_hidden_cells(tmp_path):
    run = Run(tmp_path)
    exact = pd.DataFrame([[40, 3], [25, 30]], index=pd.Index([0, 1], name="segment"),
                         columns=pd.Index(["female", "male"], name="gender"))
    published = suppress_counts(exact, k=10, margins=True)
    long = publish_counts(run, "composition_gender", published, "segment", "gender")
    assert len(long) == published.size
    back = published_tables(run)
    hidden = back[back["suppressed"]]
    assert ("0", "male") in set(zip(hidden["row"], hidden["column"]))
    assert np.isnan(hidden["n"]).all()
    shown = back[~back["suppressed"]]
    assert set(shown["row"]) <= {"0", "1", "Total"}


def test_a_table_needs_two_dimensions(tmp_path):
    with pytest.raises(ValueError, match="two different dimensions"):
        publish_counts(Run(tmp_path), "x", pd.DataFrame([[1]]), "segment", "segment")


def test_no_published_tables_gives_an_empty_frame(tmp_path):
    assert published_tables(Run(tmp_path)).empty
