"""The chunked synthetic writer: unique ids, one chunk per file, prefixes equal smaller writes."""

import pandas as pd

from workbench.data import write_parquet_chunks


def test_chunks_have_unique_ids_and_a_prefix_is_the_smaller_base(tmp_path):
    big = write_parquet_chunks(tmp_path / "big", 900, chunk=300, seed=5)
    small = write_parquet_chunks(tmp_path / "small", 600, chunk=300, seed=5)
    assert len(big) == 3 and len(small) == 2
    customers = pd.concat(pd.read_parquet(c) for c, _ in big)
    transactions = pd.concat(pd.read_parquet(t) for _, t in big)
    assert customers["customer_id"].is_unique and len(customers) == 900
    assert customers["customer_id"].iloc[0] == "C000000001" and customers["customer_id"].iloc[-1] == "C000000900"
    assert set(transactions["customer_id"]) <= set(customers["customer_id"])
    assert transactions["customer_id"].notna().all() and len(transactions) > 5 * 900
    for (c_big, t_big), (c_small, t_small) in zip(big, small):
        pd.testing.assert_frame_equal(pd.read_parquet(c_big), pd.read_parquet(c_small))
        pd.testing.assert_frame_equal(pd.read_parquet(t_big), pd.read_parquet(t_small))


def test_chunks_differ_from_each_other(tmp_path):
    (c0, _), (c1, _) = write_parquet_chunks(tmp_path, 400, chunk=200, seed=1)
    a, b = pd.read_parquet(c0), pd.read_parquet(c1)
    assert not (a["age"].to_numpy() == b["age"].to_numpy()).all()
