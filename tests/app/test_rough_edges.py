"""What a new user hits: save dialogs, exports, aligned charts, hidden constraints, focus, cosmetics."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

import models
from playground.views.widgets import save_dialogs

CTRL = Qt.KeyboardModifier.ControlModifier


def _answer_dialogs(monkeypatch, path: str, answer=QMessageBox.StandardButton.Yes) -> list[str]:
    """The file dialog returns `path`; a confirmation gets `answer`. Returns the questions asked."""
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (path, "")))
    # the folder dialog (its own widgets are driven in test_new_user): the user picked `path`
    monkeypatch.setattr(save_dialogs.FolderDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(save_dialogs.FolderDialog, "chosen", lambda self: path)

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def _generate(qtbot, window, tokens: int, prompt: str = "the cat") -> None:
    view = window.prompt_view
    view.sampling.max_tokens.setValue(tokens)
    view.prompt.setPlainText(prompt)
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: not view.running, timeout=30_000)


# ---- save as and exports --------------------------------------------------------------------------
def test_save_as_creates_a_new_folder(qtbot, window, monkeypatch, tmp_path):
    target = tmp_path / "my model"
    asked = _answer_dialogs(monkeypatch, str(target))
    window.show_view("training")
    qtbot.mouseClick(window.training_view.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: str(target) in window.message.text(), timeout=10_000)
    assert asked == []
    assert models.load(target)[0].config.n_layer == 2


def test_save_as_into_a_folder_with_files_asks_first(qtbot, window, monkeypatch, tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "mine.txt").write_text("keep me", encoding="utf-8")
    asked = _answer_dialogs(monkeypatch, str(target), QMessageBox.StandardButton.No)
    window.show_view("training")
    qtbot.mouseClick(window.training_view.save_button, Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    assert len(asked) == 1 and "already exists" in asked[0]
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt"]  # said no: nothing written
    asked = _answer_dialogs(monkeypatch, str(target), QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(window.training_view.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (target / "config.json").exists(), timeout=10_000)
    qtbot.waitUntil(lambda: "Saved the model" in window.message.text(), timeout=10_000)
    assert (target / "mine.txt").read_text(encoding="utf-8") == "keep me"  # the user's file stays


@pytest.mark.parametrize(
    ("action", "suffix"),
    [("png", ".png"), ("npy", ".npy"), ("csv", ".csv"), ("json", ".json")],
)
def test_exports_add_their_extension_and_say_where_they_wrote(
    qtbot, window, monkeypatch, tmp_path, action, suffix
):
    _generate(qtbot, window, 5)
    qtbot.waitUntil(lambda: window.attention_view.attentions.size > 0, timeout=10_000)
    _answer_dialogs(monkeypatch, str(tmp_path / "picture"))
    if action == "json":  # File ▸ Export run JSON, by its shortcut
        qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    else:  # the attention view's Export menu
        window.show_view("attention")
        _menu_action(window.attention_view.export_head, suffix).trigger()
    written = tmp_path / f"picture{suffix}"
    assert written.is_file() and written.stat().st_size > 0
    assert str(written) in window.message.text()
    assert not (tmp_path / "picture").exists()
    if action != "json":  # every figure export writes its recipe beside it
        assert (tmp_path / f"picture{suffix}.recipe.json").is_file()


def _menu_action(button, suffix: str):
    """The entry of an Export button's menu for one file type."""
    return next(a for a in button.menu().actions() if f"({suffix})" in a.text())


def test_an_export_that_cannot_be_written_says_why(qtbot, window, monkeypatch, tmp_path):
    _generate(qtbot, window, 5)
    qtbot.waitUntil(lambda: window.attention_view.attentions.size > 0, timeout=10_000)
    _answer_dialogs(monkeypatch, str(tmp_path / "no such folder" / "a.png"))
    window.show_view("attention")
    _menu_action(window.attention_view.export_head, ".png").trigger()
    assert window.errors.last is not None and window.errors.last.message.startswith("Could not write")


def test_the_extension_added_to_an_existing_name_asks_before_replacing(monkeypatch, tmp_path, qapp):
    (tmp_path / "a.csv").write_text("old", encoding="utf-8")
    asked = _answer_dialogs(monkeypatch, str(tmp_path / "a"), QMessageBox.StandardButton.No)
    assert save_dialogs.ask_file(None, "Export", "", "CSV", ".csv") == ""
    assert len(asked) == 1


# ---- the probabilities chart ------------------------------------------------------------------------
def test_each_bar_scores_the_token_it_stands_over(qtbot, window):
    view = window.probability_view
    window.show_view("probabilities")
    view.text.setText("the cat sat on the mat")
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.probe is not None and "".join(view.probe.tokens.texts) == view.text.text())
    probe = view.probe
    heights = np.asarray(view.prob_bars.opts["height"])
    x0 = np.asarray(view.prob_bars.opts["x0"])
    assert np.all(np.floor(x0) == np.arange(len(probe.tokens)))  # bar i sits over token i
    assert heights[0] == 0  # nothing before the first token to predict it from
    np.testing.assert_allclose(heights[1:], probe.target_prob[:-1])  # p(token i | tokens before it)
    assert "given the tokens before it" in view.summary.text()
    tip = view._tooltip(1)
    assert f"p(“{probe.tokens.texts[1]}”) = {probe.target_prob[0]:.3f}" in tip


# ---- hidden constraints -----------------------------------------------------------------------------
def test_picking_a_task_picks_the_task_preset_and_says_how_to_prompt(qtbot, window):
    form = window.training_view.form
    form.preset.setCurrentIndex(form.preset.findData("tiny"))
    form.apply(models.preset("tiny"))
    window.show_view("training")
    form.corpus.setCurrentIndex(form.corpus.findData("task:sort"))
    form.corpus.setFocus()
    qtbot.keyClick(form.corpus, Qt.Key.Key_Up)  # the user picks "copy" (the item above sort)
    assert form.corpus_source() == "task:reverse"
    assert form.preset.currentData() == "task"
    assert form.ints["context"].value() == models.preset("task").context
    form.corpus.setCurrentIndex(form.corpus.findData("task:copy"))
    assert "exactly 8 letters" in form.look_for.text()


def test_the_attention_view_says_when_it_shows_only_the_end(qtbot, window):
    view = window.attention_view
    window.show_view("attention")
    long_text = "the cat sat on the mat. " * 8  # 192 characters, context 64
    view.text.setText(long_text)
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.attentions.shape[-1] == 64, timeout=10_000)
    assert view.note.isVisible() and "more than the context of 64" in view.note.text()
    view.text.setText("the cat")
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.attentions.shape[-1] == 7, timeout=10_000)
    assert not view.note.isVisible()


def test_ctrl_enter_generates_wherever_the_focus_is_in_the_prompt_tab(qtbot, window):
    view = window.prompt_view
    assert window.focusWidget() is view.prompt  # at launch the prompt box takes the keys
    view.sampling.max_tokens.setValue(4)
    view.sampling.temperature.setFocus()
    before = view.request
    qtbot.keyClick(view.sampling.temperature, Qt.Key.Key_Return, CTRL)
    assert view.request != before
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    assert len(view.steps) == 4


def test_the_output_follows_new_text_unless_the_user_scrolled_up(qtbot, window):
    view = window.prompt_view
    window.resize(900, 500)
    _generate(qtbot, window, 600)
    bar = view.output.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    view.sampling.max_tokens.setValue(100_000)
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bar.maximum() > 200, timeout=30_000)
    bar.setValue(0)  # the user scrolls up to read: the view stays there
    count = len(view.steps)
    qtbot.waitUntil(lambda: len(view.steps) > count + 50, timeout=30_000)
    assert bar.value() == 0
    view.stop_button.click()
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)


# ---- cosmetics --------------------------------------------------------------------------------
def test_training_buttons_use_icons_not_glyphs_and_messages_start_upper_case(qtbot, window):
    view = window.training_view
    for button in (view.train_button, view.pause_button, view.step_button, view.stop_button):
        assert not button.icon().isNull()
        assert not any(ch in button.text() for ch in "⏸▶■")
    window.errors.report("the lower-case start of a library's message")
    assert window.errors.last.message == "The lower-case start of a library's message"


def test_empty_heatmap_axes_carry_no_scale_factor(window):
    for axis in (window.attention_view.head_plot.x_axis, window.attention_view.head_plot.y_axis):
        assert not axis.autoSIPrefix
        assert "x0.001" not in axis.labelString()


def test_the_score_key_is_in_the_title_not_over_the_curves(qtbot, window):
    chart = window.training_view.score_chart
    assert not [i for i in chart.getPlotItem().items if isinstance(i, pg.LegendItem)]
    scores = {name: np.zeros((2, 3), np.float32) for name in ("previous-token", "induction")}
    scores["induction"][1, 2] = 1.0
    chart.add(10, scores)
    chart.redraw()
    title = chart.getPlotItem().titleLabel.text
    assert "induction L1H2" in title and "previous-token L0H0" in title and "first-token" in title


def test_a_long_corpus_path_does_not_widen_the_settings_panel(qtbot, window, tmp_path):
    view = window.training_view
    window.show_view("training")
    qtbot.wait(50)
    width = view.splitter.sizes()[0]
    deep = tmp_path / ("a-very-long-folder-name-" * 6)
    deep.mkdir()
    corpus = deep / "a-corpus-with-an-unusually-long-file-name-for-testing.txt"
    corpus.write_text("hello world\n" * 50, encoding="utf-8")
    view.form.set_corpus_path(str(corpus))
    qtbot.wait(50)
    assert view.splitter.sizes()[0] == width


def test_export_during_a_run_is_refused_and_records_the_runs_own_settings(
    qtbot, window, monkeypatch, tmp_path
):
    view = window.prompt_view
    asked = []
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: asked.append(1) or ("", ""))
    )
    view.sampling.temperature.setValue(0.5)
    view.sampling.max_tokens.setValue(100_000)
    view.prompt.setPlainText("the cat")
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: len(view.steps) > 0, timeout=10_000)
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    assert asked == [] and "still running" in window.errors.last.message
    view.stop_button.click()
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    view.sampling.temperature.setValue(1.7)  # changed after the run: not what it ran with
    view.export_json(tmp_path / "run.json")
    import json

    record = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert record["settings"]["temperature"] == 0.5 and record["finish_reason"] == "stopped"


def test_thinning_snapshots_keeps_each_step_once(window):
    from models.results import Probe, TokenizedText
    from playground.views.training.view import MAX_SNAPSHOTS

    view = window.training_view
    tokens = TokenizedText(np.arange(2), ("a", "b"), np.zeros((2, 2), np.int64))
    empty = np.zeros((2, 0))
    probe = Probe(
        "gpt",
        tokens,
        np.zeros((1, 1, 2, 2), np.float32),
        empty,
        empty,
        ((), ()),
        np.zeros(2, np.float32),
        np.zeros(2, np.float32),
    )
    for step in range(1, MAX_SNAPSHOTS + 2):
        view._add_snapshot(step, probe)
    steps = [s for s, _ in view.snapshots]
    assert len(steps) == len(set(steps)) and steps[0] == 1 and steps[-1] == MAX_SNAPSHOTS + 1
