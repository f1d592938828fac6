"""Head scores find the pattern they are named after, and only that one."""

import numpy as np

from models.inspect.head_scores import head_scores


def _pattern(T: int, key_of) -> np.ndarray:
    a = np.zeros((T, T), np.float32)
    for t in range(T):
        a[t, key_of(t)] = 1.0
    return a


def test_each_score_recognises_its_own_pattern():
    seq = np.array([5, 6, 7, 8, 5, 6, 7, 8])  # a repeated sequence, as in the induction task
    T = len(seq)
    prev = _pattern(T, lambda t: max(t - 1, 0))
    sink = _pattern(T, lambda t: 0)
    induct = _pattern(T, lambda t: t - 3 if t >= 4 else 0)  # token after the last occurrence
    att = np.stack([prev, sink, induct])[None]  # [1 layer, 3 heads, T, T]
    s = head_scores(att, seq)
    np.testing.assert_allclose(s["previous-token"][0], [1.0, 1 / 7, 1 / 7], atol=1e-6)
    np.testing.assert_allclose(s["first-token"][0], [1 / 7, 1.0, 3 / 7], atol=1e-6)
    np.testing.assert_allclose(s["induction"][0], [0.0, 0.0, 1.0], atol=1e-6)


def test_no_repeats_means_no_induction_score():
    att = np.full((2, 2, 4, 4), 0.25, np.float32)
    s = head_scores(att, np.array([1, 2, 3, 4]))
    assert np.all(np.isnan(s["induction"])) and s["previous-token"].shape == (2, 2)
