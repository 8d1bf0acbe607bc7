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


def test_a_table_published_again_is_suppressed_against_the_tables_before_it_the_first_time(tmp_path):
    """A notebook re-run in the lab: the later stages' tables of the first pass must not change what it hides."""
    from workbench.privacy.publish import registration_order, suppress_and_publish, tables_before

    run = Run(tmp_path)
    by_gender = pd.DataFrame([[40, 3], [25, 30]], index=pd.Index([0, 1], name="segment"),
                             columns=pd.Index(["female", "male"], name="gender"))
    by_age = pd.DataFrame([[20, 23], [4, 51]], index=pd.Index([0, 1], name="segment"),
                          columns=pd.Index(["18–29", "30+"], name="age"))
    first = suppress_and_publish(run, "composition_gender", by_gender, "segment", "gender", k=10)
    suppress_and_publish(run, "composition_age", by_age, "segment", "age", k=10)
    assert tables_before(run, "composition_gender").empty
    assert set(tables_before(run, "composition_age")["table"]) == {"composition_gender"}
    assert set(tables_before(run, "a_new_table")["table"]) == {"composition_gender", "composition_age"}

    again = suppress_and_publish(run, "composition_gender", by_gender, "segment", "gender", k=10)
    pd.testing.assert_frame_equal(again, first)
    assert registration_order(run) == ["composition_gender", "composition_age"]
