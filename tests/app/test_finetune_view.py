"""Fine-tuning in the app: pick the model and data, start, pause, continue, stop, save and compare;
a from-scratch twin beside it; text fine-tunes before and after; refusals that leave every control working."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

import models


def _set(view, data: str, steps: int, **ints) -> None:
    form = view.form
    if data.startswith("task:") or data == "shakespeare":
        form.data.setCurrentIndex(form.data.findData(data))
    else:
        form.set_data_path(data)
    form.ints["steps"].setValue(steps)
    form.ints["context"].setValue(32)
    form.ints["batch_size"].setValue(8)
    for name, value in ints.items():
        form.ints[name].setValue(value)
    form.lr.setValue(3e-3)


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _idle(qtbot, view, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: view.state == "idle" and not view.twin_pending, timeout=timeout)


def test_the_fine_tune_flow_start_pause_stop_save_compare(
    qtbot, bert_window, labelled_csv, tmp_path, monkeypatch
):
    window = bert_window
    view = window.finetune_view
    assert view.form.task_key == "classify"  # a BERT opens the classification task
    _set(view, str(labelled_csv), steps=5000)
    view.form.val_fraction.setValue(0.25)
    assert [view.form.text_column.currentText(), view.form.label_column.currentText()] == ["text", "label"]
    _click(qtbot, view.start_button)
    qtbot.waitUntil(lambda: view.last_step >= 3 and view.examples.scores is not None, timeout=60_000)
    _click(qtbot, view.pause_button)
    assert view.state == "paused" and view.pause_action.text() == "Continue fine-tune"
    assert not view.start_button.isEnabled() and not view.form.isEnabled()
    assert not window.training_view.train_button.isEnabled()  # one run at a time
    qtbot.wait(300)
    paused_at = view.last_step
    qtbot.wait(300)
    assert view.last_step == paused_at
    # a validation example's attention, read on the model being tuned, [CLS] row outlined
    index = view.examples.index(0, 0)
    view.table.scrollTo(index)
    rect = view.table.visualRect(index)
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: view.example_attention is not None, timeout=20_000)
    assert view.example_attention.shape[:2] == (3, 2) and view.cls_row.isVisible()
    assert view.example_tokens[0] == "[CLS]"
    _click(qtbot, view.pause_button)  # continue
    qtbot.waitUntil(lambda: view.last_step >= paused_at + 3, timeout=30_000)
    _click(qtbot, view.stop_button)
    _idle(qtbot, view)
    assert window.training_view.loss_chart.train.n == 0  # the Training tab left the fine-tune alone
    qtbot.waitUntil(lambda: window.info.labels == ("animal", "thing"), timeout=10_000)
    assert window.info.base  # the model it started from is kept for comparing
    scores = view.examples.scores
    assert scores.confusion.sum() == 20 and view.examples.rowCount() == 20
    np.testing.assert_array_equal(view.confusion.data.sum(1), np.ones(2, np.float32))

    folder = tmp_path / "saved"
    monkeypatch.setattr("playground.views.finetune.view.ask_new_folder", lambda *a: str(folder))
    _click(qtbot, view.save_button)
    qtbot.waitUntil(lambda: (folder / "config.json").is_file(), timeout=20_000)
    saved, _ = models.load(folder)
    assert saved.config.labels == ("animal", "thing")

    _click(qtbot, view.compare_button)
    compare = window.compare_view
    qtbot.waitUntil(lambda: compare.result is not None, timeout=20_000)
    assert window.tabs.currentWidget() is compare
    assert compare.result.names[1] == window.info.name and compare.result.head_change.max() > 0
    assert view.start_button.isEnabled()  # after a stop, every control works again


def test_a_from_scratch_twin_draws_its_curve_beside_the_fine_tune(qtbot, bert_window, labelled_csv):
    view = bert_window.finetune_view
    _set(view, str(labelled_csv), steps=12)
    view.form.scratch.setChecked(True)
    _click(qtbot, view.start_button)
    _idle(qtbot, view, timeout=90_000)
    tuned = view.comparison.series["fine-tuned"].data()
    scratch = view.comparison.series["from scratch"].data()
    assert tuned[0][0] == 0 and tuned[0][-1] == 12 and scratch[0][-1] == 12  # from step 0 to the end
    assert "pre-training bought" in view.summary.text()
    assert "classifier" in bert_window.info.name  # the fine-tune stays active, not the twin
    # the before/after comparison was made as the fine-tune ended, ahead of the twin's run
    compare = bert_window.compare_view.result
    assert compare is not None and compare.names == (bert_window.info.base, bert_window.info.name)


def test_a_text_fine_tune_shows_the_loss_and_a_sample_before_and_after(qtbot, window, tmp_path):
    view = window.finetune_view
    window.show_view("finetune")
    assert view.form.task_key == "lm"  # the tiny GPT is active
    corpus = tmp_path / "new.txt"
    corpus.write_text("the cat sat on the mat.\n" * 300, encoding="utf-8")
    _set(view, str(corpus), steps=30)
    _click(qtbot, view.start_button)
    _idle(qtbot, view)
    assert "BEFORE fine-tuning: validation loss" in view.before.toPlainText()
    assert "AFTER 30 steps" in view.after.toPlainText()
    loss = view.comparison.series["fine-tuned"].data()[1]
    assert loss[-1] < loss[0]  # the new text reads better after
    assert view.panels.currentIndex() == 1  # the before/after panel, not the classifier's


def test_classification_is_refused_for_a_gpt_and_the_controls_still_work(qtbot, window):
    view = window.finetune_view
    window.show_view("finetune")
    view.form.task.setCurrentIndex(view.form.task.findData("classify"))
    assert not view.start_button.isEnabled() and "needs a BERT" in view.form.error.text()
    _click(qtbot, view.start_button)  # disabled: nothing starts
    assert view.state == "idle" and view.request == 0
    view.form.task.setCurrentIndex(view.form.task.findData("lm"))
    assert view.start_button.isEnabled() and view.form.error.text() == ""


def test_a_bad_labelled_file_is_refused_with_its_reason_and_nothing_changes(
    qtbot, bert_window, tmp_path, labelled_csv
):
    window = bert_window
    view = window.finetune_view
    before = window.info
    bad = tmp_path / "one-class.csv"
    bad.write_text("text,label\na cat,x\na dog,x\n", encoding="utf-8")
    _set(view, str(bad), steps=10)
    _click(qtbot, view.start_button)
    qtbot.waitUntil(lambda: window.errors.last is not None, timeout=20_000)
    assert "every example has the label 'x'" in window.errors.last.message
    _idle(qtbot, view)
    assert window.info == before  # the model is unchanged
    _set(view, str(labelled_csv), steps=5)  # and the next try runs, from its shortcut
    qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ControlModifier)
    _idle(qtbot, view)
    assert window.info.labels == ("animal", "thing")


def test_compare_a_model_with_itself_is_all_zero_and_other_shapes_are_refused(
    qtbot, window, tmp_path, tiny_bert_dir, finish
):
    compare = window.compare_view
    window.show_view("compare")
    compare.a.setCurrentIndex(compare.a.findData("active"))
    assert compare.run_button.isEnabled()
    compare.text.setText("the cat sat on the mat")
    _click(qtbot, compare.run_button)
    # (the result comes a moment before its request ends: until then a second run is refused as busy)
    qtbot.waitUntil(lambda: compare.result is not None and compare.run_button.isEnabled(), timeout=20_000)
    assert np.all(compare.result.attention_change == 0) and np.all(compare.map.data == 0)
    compare.choose_folder(compare.b, str(tiny_bert_dir))
    status, message = finish(lambda: (compare.run(), compare.request)[1])
    assert status == "failed" and "different shapes" in message
    assert "Not compared" in compare.summary.text() and compare.run_button.isEnabled()


def test_a_bert_text_fine_tune_keeps_its_task_for_the_twin_and_after(qtbot, bert_window):
    view = bert_window.finetune_view
    view.form.task.setCurrentIndex(view.form.task.findData("lm"))
    _set(view, "shakespeare", steps=3)
    view.form.scratch.setChecked(True)
    _click(qtbot, view.start_button)
    _idle(qtbot, view, timeout=90_000)
    assert view.task == "lm" and view.form.task_key == "lm"  # the fine-tuned BERT did not reset it
    assert view.comparison.series["from scratch"].n >= 2  # the twin ran the text task too
    assert "BEFORE fine-tuning" in view.before.toPlainText()
