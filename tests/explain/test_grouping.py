"""Model columns map back to the original feature they come from."""

from workbench import explain


def test_group_columns_maps_dummies_to_their_feature():
    cols = ["region_North", "region_South", "price_sensitivity", "frequency"]
    assert explain.group_columns(cols, ["region", "price_sensitivity", "price"]) == [
        "region", "region", "price_sensitivity", "frequency"]
