"""The Neurons tab: a clicked token's neurons, one picked tints the text and lists its corpus
contexts (found once per layer, then kept), a corpus of the user's, refusals."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog


def test_a_tokens_neurons_their_activations_and_corpus_contexts(
    qtbot, window, tmp_path, monkeypatch, wait_signal
):
    view = window.neurons_view
    view.text.setText("the cat sat on the mat")
    wait_signal(window.client.neurons_read, lambda: window.show_view("neurons"))  # read as the tab opens
    effects = view.effects
    assert effects.position == len(effects.tokens) - 1 and view.table.rowCount() == len(effects.layers)
    qtbot.waitUntil(
        lambda: view.contexts is not None and view.contexts.done == view.contexts.total, timeout=30_000
    )
    layer, neuron = view.neuron
    assert f"L{layer} neuron {neuron}" in view.found.toPlainText()
    assert any(c is not None for c in view.tokens._colors)  # the text tinted by its activation
    at = view.tokens.token_rect_center(4)  # another token: its own neurons
    (fresh,) = wait_signal(
        window.client.neurons_read,
        lambda: qtbot.mouseClick(view.tokens.viewport(), Qt.MouseButton.LeftButton, pos=at),
    )
    assert fresh.position == 4 and fresh.target == int(fresh.tokens.ids[5])
    same = next((r for r in range(len(fresh.layers)) if int(fresh.layers[r]) == view.contexts.layer), None)
    if same is not None:  # the layer read before: its contexts are kept, shown at once
        kept = view.contexts
        view.table.selectRow(same)
        assert view.contexts is kept and "strongest activations" in view.found.toPlainText()
    corpus = tmp_path / "mine.txt"
    corpus.write_text("the dog sat on the log. " * 200, encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(corpus), "Text (*.txt)"))
    qtbot.mouseClick(view.corpus_button, Qt.MouseButton.LeftButton)
    assert "mine.txt" in view.corpus_button.text()

    def read_mine() -> bool:
        c = view.contexts
        return c is not None and c.done == c.total and all("og" in "".join(w) for w in c.texts)

    qtbot.waitUntil(read_mine, timeout=30_000)
    view.text.clear()
    qtbot.mouseClick(view.read_button, Qt.MouseButton.LeftButton)
    assert "Type a text whose neurons to read" in window.message.text()


def test_a_bert_has_no_neurons_tab(qtbot, bert_window):
    assert not bert_window.tabs.isTabEnabled(bert_window.tabs.indexOf(bert_window.neurons_view))
