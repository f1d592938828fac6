"""The Head types tab: every head scored as it opens, the map and the table, a kind shown alone and
knocked out in one click, a head opened in Attention."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from models.inspect.head_types import TYPES


def test_the_gallery_scores_filters_knocks_out_a_kind_and_opens_a_head(qtbot, window, wait_signal):
    view = window.head_types_view
    wait_signal(window.client.head_types_scored, lambda: window.show_view("head-types"))
    L, H = window.info.n_layer, window.info.n_head
    qtbot.waitUntil(lambda: view.table.rowCount() == L * H, timeout=10_000)
    assert view.map.image.image.shape == (L, H, 4) and "heads:" in view.map.titleLabel.text
    names, _ = view.named()
    kind = next(n for n in TYPES if (names == n).any())
    view.kind.setCurrentIndex(view.kind.findData(kind))
    count = int((names == kind).sum())
    assert view.table.rowCount() == count and {view.table.item(r, 2).text() for r in range(count)} == {kind}
    assert view.knock_button.isEnabled() and str(count) in view.knock_button.text()
    heads, _mode = wait_signal(
        window.client.ablation_changed, lambda: qtbot.mouseClick(view.knock_button, Qt.MouseButton.LeftButton)
    )
    assert (
        sorted(heads) == sorted(view.heads_of(kind))
        and f"Knocked out {count} {kind}" in window.message.text()
    )
    view.table.sortItems(3, Qt.SortOrder.DescendingOrder)  # by the induction score
    layer, head = (int(view.table.item(0, c).text()) for c in (0, 1))
    rect = view.table.visualItemRect(view.table.item(0, 0))
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.tabs.currentWidget() is window.attention_view
    assert (window.attention_view.layer, window.attention_view.head) == (layer, head)
    induction = view.scores()["induction"]
    shown = [induction[lh] for lh in view.heads_of(kind)]
    assert np.isclose(induction[layer, head], max(shown), atol=1e-3)  # the table's top row, by that column


def test_the_gallery_and_the_neurons_export_their_numbers_and_reopen_from_their_recipes(
    qtbot, window, tmp_path, wait_signal
):
    import csv
    import json

    types = window.head_types_view
    wait_signal(window.client.head_types_scored, lambda: window.show_view("head-types"))
    types.kind.setCurrentIndex(types.kind.findData("diffuse"))
    assert types.export_button.export(tmp_path / "types.csv")
    rows = list(csv.reader(open(tmp_path / "types.csv", encoding="utf-8")))
    assert (
        rows[0][:3] == ["layer", "head", "kind"] and len(rows) == 1 + window.info.n_layer * window.info.n_head
    )
    recipe = json.loads((tmp_path / "types.csv.recipe.json").read_text(encoding="utf-8"))
    assert recipe["view"] == "head-types" and recipe["settings"]["kind"] == "diffuse"
    types.kind.setCurrentIndex(0)
    wait_signal(
        window.client.head_types_scored, lambda: window.open_recipe(tmp_path / "types.csv.recipe.json")
    )
    assert types.kind.currentData() == "diffuse"
    neurons = window.neurons_view
    neurons.text.setText("the cat sat on the mat")
    wait_signal(window.client.neurons_read, lambda: neurons.read(3))
    assert neurons.export_button.export(tmp_path / "neurons.png")
    recipe = json.loads((tmp_path / "neurons.png.recipe.json").read_text(encoding="utf-8"))
    assert recipe["view"] == "neurons" and recipe["settings"]["position"] == 3
    neurons.text.setText("something else")
    (again,) = wait_signal(
        window.client.neurons_read, lambda: window.open_recipe(tmp_path / "neurons.png.recipe.json")
    )
    assert again.position == 3 and neurons.text.text() == "the cat sat on the mat"
