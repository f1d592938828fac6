"""Nothing stale (issue 24.3): what a model change, a refusal and a finished stop reset in each
view (`playground/views/resets.py`), each driven through the real widgets."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.app.test_finetune_view import _click, _idle, _set
from tests.app.test_rough_edges import _generate
from tests.app.test_training_view import _configure, _wait_finished

CTRL = Qt.KeyboardModifier.ControlModifier


def test_a_model_change_clears_the_prompt_views_run_and_its_cross_attention_title(
    qtbot,
    window,
    marian_dir,
    tiny_gpt_dir,
    wait_signal,
):
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(marian_dir)))
    view = window.prompt_view
    window.show_view("prompt")
    _generate(qtbot, window, 6, "abc")
    qtbot.mouseClick(view.output.viewport(), Qt.MouseButton.LeftButton, pos=view.output.token_rect_center(1))
    assert "over the source" in view.details.attention.titleLabel.text
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(tiny_gpt_dir)))
    assert view.steps == [] and view.output.toPlainText() == ""
    assert view.stats.text() == "No run yet."
    assert "over the source" not in view.details.attention.titleLabel.text
    assert view.details.header.text().startswith("Click a generated token")
    assert view.generate_button.isEnabled() and not view.export_button.isEnabled()


def test_a_refused_fine_tune_leaves_no_progress_scores_or_preparing_line_and_the_next_runs(
    qtbot,
    bert_window,
    tmp_path,
    labelled_csv,
):
    view = bert_window.finetune_view
    _set(view, str(labelled_csv), steps=5)
    _click(qtbot, view.start_button)
    _idle(qtbot, view)
    qtbot.waitUntil(lambda: "held out right" in view.confusion.titleLabel.text, timeout=10_000)
    assert view.progress.value() == 5
    bad = tmp_path / "one-class.csv"
    bad.write_text("text,label\na cat,x\na dog,x\n", encoding="utf-8")
    _set(view, str(bad), steps=10)
    _click(qtbot, view.start_button)
    _idle(qtbot, view)
    qtbot.waitUntil(lambda: view.stats.text().startswith("Not started:"), timeout=10_000)
    assert "every example has the label 'x'" in view.stats.text()
    assert view.progress.value() == 0
    assert "held out right" not in view.confusion.titleLabel.text
    assert view.examples.rowCount() == 0
    _set(view, str(labelled_csv), steps=5)
    _click(qtbot, view.start_button)
    _idle(qtbot, view)
    assert view.progress.value() == 5 and "held out right" in view.confusion.titleLabel.text


def test_a_finished_stop_says_where_the_run_stopped(qtbot, window):
    window.show_view("training")
    view = window.training_view
    _configure(view, steps=5000, probe_every=0, sample_every=0, eval_every=0)
    _click(qtbot, view.train_button)
    qtbot.waitUntil(lambda: view.last_step >= 3, timeout=60_000)
    _click(qtbot, view.stop_button)
    _wait_finished(qtbot, view)
    assert "stopping" not in view.stats.text()
    assert view.stats.text().startswith(f"stopped at step {view.last_step:,} of 5,000")
    assert view.train_button.isEnabled()


def test_a_fine_tune_stop_says_where_it_stopped(qtbot, bert_window, labelled_csv):
    view = bert_window.finetune_view
    _set(view, str(labelled_csv), steps=5000)
    _click(qtbot, view.start_button)
    qtbot.waitUntil(lambda: view.last_step >= 2, timeout=60_000)
    _click(qtbot, view.stop_button)
    _idle(qtbot, view)
    assert view.stats.text().startswith(f"stopped at step {view.last_step:,}")
    assert view.start_button.isEnabled()


def test_a_refused_training_run_leaves_no_progress_and_its_line_goes_when_the_settings_change(
    qtbot, window, tmp_path
):
    window.show_view("training")
    view = window.training_view
    _configure(view, steps=8, probe_every=0, sample_every=0, eval_every=0)
    _click(qtbot, view.train_button)
    _wait_finished(qtbot, view)
    assert view.progress.value() == 8
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    view.form.set_corpus_path(str(empty))
    _click(qtbot, view.train_button)
    _wait_finished(qtbot, view)
    qtbot.waitUntil(lambda: view.stats.text().startswith("Not started:"), timeout=10_000)
    assert view.progress.value() == 0  # not the last run's "8 / 8"
    assert view.form.corpus.findData(str(empty)) < 0 and "taken off the corpus list" in view.stats.text()
    view.form.ints["steps"].setValue(9)  # the settings change
    assert not view.stats.text().startswith("Not started")
    assert view.train_button.isEnabled()


def test_a_text_another_view_put_in_a_box_is_not_kept_for_an_unrelated_model(
    qtbot, window, tiny_bert_dir, tiny_gpt_dir, wait_signal
):
    """Typed once in Head effects, then a run's text (another language, say) arrived there from
    the Prompt tab: that text was the app's, so a new model's example replaces it."""
    heads = window.heads_view
    window.show_view("heads")
    heads.text.clear()
    qtbot.keyClicks(heads.text, "my own words")  # the user's, in this box
    window.show_view("prompt")
    _generate(qtbot, window, 4, "the dog")
    run_text = heads.text.text()
    assert run_text.startswith("the dog") and len(run_text) > len("the dog")  # the run's text arrived
    wait_signal(window.client.model_loaded, lambda: window.open_model("builtin:gpt"))
    assert heads.text.text() == "the dog"  # the user's prompt on the new model, not the old run's text
    heads.text.clear()
    qtbot.keyClicks(heads.text, "typed after")  # typed here: kept across a model change
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(tiny_gpt_dir)))
    assert heads.text.text() == "typed after"


def test_a_comparison_made_while_its_tab_is_hidden_is_drawn_when_shown(qtbot, bert_window, labelled_csv):
    """A fine-tune's end compares before and after at once: three heatmaps painted unseen made the
    end of a run stall; they are drawn when the Compare tab opens."""
    view, compare = bert_window.finetune_view, bert_window.compare_view
    _set(view, str(labelled_csv), steps=3)
    _click(qtbot, view.start_button)
    _idle(qtbot, view)
    qtbot.waitUntil(lambda: compare.result is not None, timeout=20_000)
    assert compare.map.data.size == 0  # not painted while hidden
    bert_window.show_view("compare")
    assert compare.map.data.shape == compare.result.head_change.shape
