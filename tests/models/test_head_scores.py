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


def test_cross_attention_scores_find_the_diagonal_and_the_anti_diagonal():
    """Target 4 tokens + </s> over source 4 tokens + </s>: a copying head reads key i for target i, a
    reversing head key 3 - i; the </s> row is not scored."""
    from models.inspect.head_scores import cross_scores

    T, S = 5, 5
    cross = np.zeros((1, 3, T, S), np.float32)
    cross[0, 0, np.arange(T), np.arange(T)] = 1.0  # copy
    cross[0, 1, np.arange(4), 3 - np.arange(4)] = 1.0  # reverse
    cross[0, 1, 4, 4] = 1.0
    cross[0, 2] = 1.0 / S  # uniform
    scores = cross_scores(cross)
    np.testing.assert_allclose(scores["diagonal"][0], [1.0, 0.0, 0.2])
    np.testing.assert_allclose(scores["anti-diagonal"][0], [0.0, 1.0, 0.2])
    short = cross_scores(np.ones((1, 1, 1, 3), np.float32))  # only </s> was chosen: nothing scored
    assert np.isnan(short["diagonal"]).all()
