"""The overview mosaic: tiles in layer rows and head columns, long texts max-pooled."""

from __future__ import annotations

import numpy as np

from playground.views.mosaic import build_mosaic


def test_tiles_sit_at_layer_rows_and_head_columns():
    att = np.random.default_rng(0).random((3, 4, 5, 5)).astype(np.float32)
    mosaic, s = build_mosaic(att)
    assert s == 5 and mosaic.shape == (15, 20) and mosaic.flags.c_contiguous
    np.testing.assert_array_equal(mosaic[10:15, 5:10], att[2, 1])


def test_long_texts_are_max_pooled():
    att = np.random.default_rng(1).random((2, 3, 50, 50)).astype(np.float32)
    mosaic, s = build_mosaic(att, max_tile=16)  # f = 4: 50 -> padded 52 -> 13 cells a side
    assert s == 13 and mosaic.shape == (26, 39)
    padded = np.zeros((2, 3, 52, 52), np.float32)
    padded[:, :, :50, :50] = att
    expected = padded.reshape(2, 3, 13, 4, 13, 4).max(axis=(3, 5))
    np.testing.assert_array_equal(mosaic[13:26, 26:39], expected[1, 2])
