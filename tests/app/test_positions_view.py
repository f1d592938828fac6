"""The positional-encoding tab: the article's values, Marian's layout, the similarity map and its row."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, Qt


def test_the_table_holds_the_articles_values_in_either_layout(qtbot, window):
    positions = next(a for a in window.menuBar().actions() if a.text() == "&View").menu().actions()[-1]
    assert positions.text() == "Positions"
    positions.trigger()  # View ▸ Positions (the eleventh tab has no Ctrl+number)
    view = window.positions_view
    assert window.tabs.currentWidget() is view
    view.layout_box.setCurrentIndex(view.layout_box.findData("article"))
    view.width_box.setValue(16)
    view.positions_box.setValue(30)
    table = view.table_plot.data
    assert table.shape == (30, 16)
    for pos, i in ((0, 0), (5, 2), (29, 7)):
        angle = pos / 10000 ** (2 * i / 16)
        assert table[pos, 2 * i] == np.float32(math.sin(angle)) and table[pos, 2 * i + 1] == np.float32(
            math.cos(angle)
        )
    view.layout_box.setCurrentIndex(view.layout_box.findData("marian"))
    marian = view.table_plot.data
    np.testing.assert_array_equal(marian[:, :8], table[:, 0::2])  # the sines first
    np.testing.assert_array_equal(marian[:, 8:], table[:, 1::2])  # then the cosines
    # the similarity of two positions depends only on their distance, and is the same in both layouts
    sim = view.similarity_plot.data
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    np.testing.assert_allclose(sim[3, 7], sim[10, 14], atol=1e-6)


def test_clicking_a_position_plots_its_row(qtbot, window):
    window.show_view("positions")
    view = window.positions_view
    view.positions_box.setValue(20)
    qtbot.wait(100)  # laid out: the click lands where the cell is drawn
    vb = view.similarity_plot.getViewBox()
    at = view.plots.mapFromScene(vb.mapViewToScene(QPointF(3.5, 12.5)))  # column 3, row 12
    qtbot.mouseClick(view.plots.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert view.chosen == 12 and "position 12" in view.row_plot.titleLabel.text
    xs, ys = view.row_curve.getData()
    assert len(xs) == 20
    np.testing.assert_allclose(ys, view.similar[12])
