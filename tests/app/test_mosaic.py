"""The overview mosaic: tiles in layer rows and head columns, long texts max-pooled."""

from __future__ import annotations

import numpy as np
import pytest

from playground.overview import build_mosaic


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


def test_a_long_texts_tiles_scaled_and_pooled_by_torch_equal_numpys(monkeypatch):
    """Every colour scale, a sink, empty (NaN) cells, a text not a multiple of the pooling: the
    fast path (torch) draws what rescaling and pooling each layer with numpy draws."""
    from playground import overview as mosaic
    from playground.views.widgets.attention_scale import SCALES, rescaled

    fast_rows = []
    pooled_row = mosaic._pooled_row
    monkeypatch.setattr(mosaic, "_pooled_row", lambda *a: fast_rows.append(a[1]) or pooled_row(*a))
    rng = np.random.default_rng(3)
    att = rng.random((2, 3, 50, 50)).astype(np.float32)
    att[..., 0] += 20.0  # a sink on the first token
    att /= att.sum(-1, keepdims=True)
    att[0, 1, 7, :] = np.nan  # an empty row, and a few empty cells
    att[1, 2, 30:33, 40:44] = np.nan
    att[1, 0, 3, 1:] = 0.0  # a row wholly on its sink: nothing left to share ("no-first")
    att[0, 2] = np.nan  # a head with nothing drawn (its rows each to its max: zeros)
    for half in (att, att.astype(np.float16)):
        for scale in [s for s in SCALES if s != "auto"]:
            fast, s = build_mosaic(half, max_tile=16, scale=scale)
            tiles = [mosaic._tile_row(rescaled(half[i : i + 1], scale), 16) for i in range(2)]
            slow = np.vstack([t for t, _ in tiles])
            assert s == tiles[0][1] == 13
            np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-7, equal_nan=True, err_msg=scale)
    assert len(fast_rows) == 2 * 2 * 5  # each layer of both dtypes, every scale, went the fast way


def test_a_layered_probes_overview_equals_the_whole_attentions_in_every_scale():
    """The pooler a long text's probe hands each layer to: its overview, in every scale (pooled, or
    from the linear pooling), its sink share and its one whole layer equal what the whole attention
    gives; automatic keeps both of its choices, and no stream or layer is left out."""
    import torch

    from playground.overview import OverviewPooler, mosaic_in
    from playground.views.widgets.attention_scale import SCALES, sink_share

    rng = np.random.default_rng(4)
    att = rng.random((3, 2, 40, 40)).astype(np.float32)
    att[..., 0] += 10.0 * rng.random((3, 2, 40))
    att = np.tril(att)
    att /= att.sum(-1, keepdims=True)
    for asked in SCALES:
        pooler = OverviewPooler("a text", asked, layer=1, max_tile=16)
        for layer in range(3):
            pooler(layer, torch.from_numpy(att[layer]), torch.full((40, 8), float(layer)))
        pooled = pooler.result()
        assert (pooled.text, pooled.layers, pooled.heads) == ("a text", 3, 2)
        assert pooled.sink_share == pytest.approx(sink_share(att), rel=1e-6)
        np.testing.assert_array_equal(pooler.kept, att[1])
        assert [float(s[0, 0]) for s in pooler.streams] == [0.0, 1.0, 2.0]
        kept = {"auto": {"linear", "no-first"}, "row": {"linear", "row"}, "no-first": {"linear", "no-first"}}
        assert set(pooled.mosaics) == kept.get(asked, {"linear"}), asked
        for scale in [s for s in SCALES if s != "auto"]:
            got = mosaic_in(pooled, scale)
            if got is None:
                assert scale in ("row", "no-first") and scale not in kept.get(asked, ())
                continue
            want = build_mosaic(att, max_tile=16, scale=scale)
            assert got[1] == want[1] == 14
            np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=scale)
