"""The overview mosaic: tiles in layer rows and head columns, long texts max-pooled."""

from __future__ import annotations

import numpy as np

from playground.views.widgets.mosaic import build_mosaic


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


def test_a_cross_attention_fills_square_tiles_by_repeating_its_rows():
    """Target × source (4 × 10): each row drawn twice (8 × 10), the last two rows of the tile empty."""
    att = np.random.default_rng(2).random((2, 3, 4, 10)).astype(np.float32)
    mosaic, s = build_mosaic(att)
    assert s == 10 and mosaic.shape == (20, 30)
    tile = mosaic[10:20, 20:30]  # layer 1, head 2
    np.testing.assert_array_equal(tile[:8], np.repeat(att[1, 2], 2, axis=0))
    assert np.isnan(tile[8:]).all()
    wide = build_mosaic(att.transpose(0, 1, 3, 2))[0][:10, :10]  # source × target: columns repeated
    np.testing.assert_array_equal(wide[:, :8], np.repeat(att[0, 0].T, 2, axis=1))
