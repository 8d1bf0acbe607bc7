"""Preprocessing steps: winsorising and the log of non-negative values."""

import numpy as np

from workbench import segment


def test_winsorizer_clips_at_learned_quantiles_and_can_be_switched_off():
    X = np.c_[np.arange(101.0), -np.arange(101.0)]
    w = segment.Winsorizer(0.05).fit(X)
    np.testing.assert_allclose(w.lower_, [5.0, -95.0])
    np.testing.assert_allclose(w.upper_, [95.0, -5.0])
    out = w.transform(np.array([[-10.0, 10.0], [200.0, -200.0]]))
    np.testing.assert_allclose(out, [[5.0, -5.0], [95.0, -95.0]])
    off = segment.Winsorizer(0).fit(X)
    np.testing.assert_array_equal(off.transform(X), X)
    np.testing.assert_allclose(segment.log1p_nonneg([-3.0, 0.0, np.e - 1]), [0.0, 0.0, 1.0])
