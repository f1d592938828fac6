"""Training in the app: live loss, pause/step/resume, stop with a checkpoint, NaN, invalid settings."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from torch.nn import Linear

import models

# small enough that a step takes milliseconds on a laptop CPU
TINY = dict(n_layer=2, n_head=2, n_embd=32, context=32, batch_size=8, warmup_steps=5, vocab_size=200)


@pytest.fixture
def view(window):
    window.show_view("training")
    return window.training_view


def _configure(view, corpus: str = "task:copy", **values) -> None:
    form = view.form
    form.corpus.setCurrentIndex(form.corpus.findData(corpus))
    form.preset.setCurrentIndex(form.preset.findData("task"))
    form.apply(models.preset("task", **(TINY | values)))


def _wait_finished(qtbot, view, timeout=60_000):
    qtbot.waitUntil(lambda: view.state == "idle", timeout=timeout)


def test_a_run_grows_the_loss_curve_and_snapshots_the_probe(qtbot, view, monkeypatch):
    _configure(view, steps=40, probe_every=10, eval_every=20, sample_every=20)
    titles = []  # a title set again relays out and repaints the panel: not per snapshot
    set_title = view.mosaic.setTitle
    monkeypatch.setattr(view.mosaic, "setTitle", lambda t: titles.append(t) or set_title(t))
    assert view.start()
    qtbot.waitUntil(lambda: view.loss_chart.train.n >= 10, timeout=60_000)
    _wait_finished(qtbot, view)
    steps, losses = view.loss_chart.train.data()
    assert list(steps) == list(range(1, 41))  # every step arrived, in order, none dropped
    assert np.all(np.isfinite(losses))
    assert view.loss_chart.val.n == 2 and view.lr_chart.series.n == 40
    assert "step 20" in view.samples.toPlainText()
    # a snapshot every 10 steps: the timeline scrubs back through them
    assert [s for s, _ in view.snapshots] == [10, 20, 30, 40]
    assert not titles and view.mosaic.titleLabel.text == "probe attention: all layers × heads"
    view.timeline.setValue(0)
    first = view.snapshots[0][1]
    expected_tiles = first.shape[0] * first.shape[1]
    assert view.mosaic.layers * view.mosaic.heads == expected_tiles
    from playground.overview import build_mosaic

    np.testing.assert_array_equal(view.mosaic.data, build_mosaic(first)[0])
    assert "step 10" in view.timeline_label.text()
    assert view.score_chart.series["previous-token"].n == 4


def test_trained_model_becomes_the_active_model(qtbot, view, window):
    _configure(view, steps=15, probe_every=0, sample_every=0, eval_every=0)
    view.start()
    _wait_finished(qtbot, view)
    qtbot.waitUntil(
        lambda: window.info is not None and window.info.name.startswith("trained"), timeout=10_000
    )
    assert window.info.n_layer == 2 and window.info.context == 32
    linears = [m for m in window.client.worker.model.modules() if isinstance(m, Linear)]
    widening = [m for m in linears if m.in_features < m.out_features]  # laid out for decoding, as a
    # loaded model is: column by column
    assert widening and all(m.weight.stride() == (1, m.out_features) for m in widening)


def test_pause_stops_steps_step_runs_one_and_continue_resumes(qtbot, view):
    _configure(view, steps=5000, probe_every=0, sample_every=0, eval_every=0)
    view.start()
    qtbot.waitUntil(lambda: view.last_step >= 3, timeout=60_000)
    view.pause_button.click()
    assert view.state == "paused" and view.pause_button.text() == "Continue"
    assert not view.train_button.isEnabled()  # one button continues, not two
    qtbot.wait(300)  # the step under way ends, and its delivery lands
    paused_at = view.last_step
    qtbot.wait(400)
    assert view.last_step == paused_at  # no steps while paused
    view.step_button.click()
    qtbot.waitUntil(lambda: view.last_step == paused_at + 1, timeout=10_000)
    qtbot.wait(300)
    assert view.last_step == paused_at + 1  # exactly one
    view.pause_button.click()  # continue
    qtbot.waitUntil(lambda: view.last_step >= paused_at + 5, timeout=30_000)
    view.stop_button.click()
    _wait_finished(qtbot, view)


def test_stop_writes_a_checkpoint_that_opens_and_resumes(qtbot, view, tmp_path):
    _configure(view, steps=5000, probe_every=0, sample_every=0, eval_every=0)
    view.start()
    qtbot.waitUntil(lambda: view.last_step >= 5, timeout=60_000)
    view.stop_button.click()
    _wait_finished(qtbot, view)
    folder = view.client.worker.last_checkpoint
    assert folder, view.samples.toPlainText()
    model, tok = models.load(folder)
    assert model.config.n_layer == 2
    stopped_at = view.last_step
    view.resume_from(folder, steps=stopped_at + 5)
    _wait_finished(qtbot, view)
    steps, _ = view.loss_chart.train.data()
    assert steps[-1] == stopped_at + 5 and len(steps) == stopped_at + 5  # the old curve continues


def test_absurd_learning_rate_stops_the_run_with_a_message(qtbot, view, window):
    _configure(view, steps=300, lr=500.0, min_lr=50.0, warmup_steps=0, probe_every=0, sample_every=0)
    view.start()
    _wait_finished(qtbot, view, timeout=60_000)
    assert window.errors.last is not None and "became" in window.errors.last.message
    assert "failed" in view.samples.toPlainText()


def test_invalid_settings_are_refused_before_the_run(qtbot, view, window):
    _configure(view)
    view.form.ints["n_head"].setValue(3)  # 3 does not divide the width 32
    assert "must divide the width" in view.form.error.text()
    assert not view.train_button.isEnabled()
    assert view.start() is False
    assert view.state == "idle" and "must divide" in window.errors.last.message


@pytest.mark.slow
def test_the_copy_demo_really_forms_a_copying_head(qtbot, view):
    """After a short run on the built-in copy task, some head puts most of its attention on the
    shifted diagonal: the character it is about to copy."""
    probe = "qwertyui=qwertyui"
    _configure(view, steps=250, lr=3e-3, min_lr=3e-4, probe_every=250, eval_every=0, sample_every=0)
    view.form.probe_text.setText(probe)
    view.form.ints["n_embd"].setValue(64)
    view.start()
    _wait_finished(qtbot, view, timeout=240_000)
    step, att = view.snapshots[-1]
    n = probe.index("=")
    queries = range(n, 2 * n)  # "=" and the answer: each predicts the character n places back
    mass = np.array(
        [
            [np.mean([att[lay, h, q, q - n] for q in queries]) for h in range(att.shape[1])]
            for lay in range(att.shape[0])
        ]
    )
    assert step == 250 and mass.max() > 0.5, mass


def test_a_failed_checkpoint_write_ends_the_run_cleanly(qtbot, view, window):
    """A full disk at stop: safetensors raises its own error; the view still returns to idle,
    the message arrives on the GUI thread, and every control works afterwards."""
    import resource
    import signal

    _configure(view, steps=5000, probe_every=0, sample_every=0, eval_every=0, checkpoint_every=0)
    view.start()
    qtbot.waitUntil(lambda: view.last_step >= 3, timeout=60_000)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, old_limit[1]))  # every checkpoint is larger
    try:
        view.stop_button.click()
        _wait_finished(qtbot, view, timeout=30_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert "could not write" in view.samples.toPlainText()
    assert "could not write" in window.errors.last.message
    assert view.train_button.isEnabled()
    _configure(view, steps=5, probe_every=0, sample_every=0, eval_every=0)
    assert view.start()  # the view is not stuck: a new run starts and ends
    _wait_finished(qtbot, view)
    assert view.client.worker.last_checkpoint


def test_risky_settings_are_warned_about_but_not_refused(qtbot, view) -> None:
    _configure(view)
    assert view.form.warning.text() == ""
    lr = view.form.floats["lr"]
    lr.setFocus()
    qtbot.keyClick(lr, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select, then type over
    qtbot.keyClicks(lr, "10")
    assert lr.value() == 10.0
    assert "learning rate 10 is far above" in view.form.warning.text()
    assert view.form.error.text() == "" and view.train_button.isEnabled()


def test_the_copying_head_check_counts_exact_answers_with_the_named_heads_out(qtbot, view, window):
    from models.inspect.exact import exact_answers

    _configure(view, steps=30, probe_every=10, sample_every=0, eval_every=0)
    assert not view.check_button.isVisible() or not view.check_button.isEnabled()  # no run yet
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    _wait_finished(qtbot, view)
    qtbot.waitUntil(lambda: view.check_button.isEnabled(), timeout=10_000)
    best, weakest = view._copying_heads()
    grid = view.latest_scores["induction"]
    assert grid[best] == np.nanmax(grid) and grid[weakest] == np.nanmin(grid)
    qtbot.mouseClick(view.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Exact answers" in view.check_label.text(), timeout=60_000)
    worker = window.client.worker
    expected = []
    for heads in ((), (best,), (weakest,)):
        with models.ablated(worker.model, heads):
            expected.append(exact_answers(worker.model, worker.tokenizer, "copy", 50))
    text = view.check_label.text()
    assert f"every head in <b>{expected[0]:.0%}</b>" in text
    assert f"L{best[0]}H{best[1]} out (best induction score) <b>{expected[1]:.0%}</b>" in text
    assert f"L{weakest[0]}H{weakest[1]} out (weakest) <b>{expected[2]:.0%}</b>" in text
    qtbot.waitUntil(lambda: view.check_button.isEnabled(), timeout=5_000)  # and all works after
    assert view.train_button.isEnabled()


def test_the_check_is_refused_once_another_model_is_active(qtbot, view, window, tiny_gpt_dir, wait_signal):
    _configure(view, steps=12, probe_every=6, sample_every=0, eval_every=0)
    view.start()
    _wait_finished(qtbot, view)
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(tiny_gpt_dir)))
    qtbot.waitUntil(lambda: view.check_button.isEnabled(), timeout=10_000)
    qtbot.mouseClick(view.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "did not run" in view.check_label.text(), timeout=10_000)
    assert "built-in task" in window.errors.last.message and view.check_button.isEnabled()


def test_knocking_heads_out_of_a_task_model_shows_the_exact_answers_change(qtbot, view, window):
    from models.inspect.exact import exact_answers

    _configure(view, steps=20, probe_every=10, sample_every=0, eval_every=0)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    _wait_finished(qtbot, view)
    qtbot.waitUntil(
        lambda: window.client.info is not None and window.client.info.task == "copy", timeout=10_000
    )
    att = window.attention_view
    window.show_view("attention")
    att.inspect("qwertyui=qwertyui")
    qtbot.waitUntil(lambda: att.attentions.size > 0, timeout=10_000)
    att.select(1, 0)
    qtbot.keyClick(att.overview_widget, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: "exact answers" in att.knocked_label.text(), timeout=60_000)
    worker = window.client.worker
    intact = exact_answers(worker.model, worker.tokenizer, "copy", 50)
    with models.ablated(worker.model, [(1, 0)]):
        knocked = exact_answers(worker.model, worker.tokenizer, "copy", 50)
    assert f"copy questions: {intact:.0%} → {knocked:.0%}" in att.knocked_label.text()
    assert (
        view.check_label.isHidden() or "Exact answers" not in view.check_label.text()
    )  # not the training view's


def _choose(qtbot, combo, data) -> None:
    """Pick an item the way a user does: open the list and click it (the combo emits `activated`)."""
    combo.showPopup()
    items = combo.view()
    rect = items.visualRect(combo.model().index(combo.findData(data), 0))
    qtbot.mouseClick(items.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: combo.currentData() == data, timeout=5_000)


def test_an_encoder_decoder_trains_on_pairs_and_its_cross_attention_forms_on_the_timeline(
    qtbot, view, window
):
    form = view.form
    _choose(qtbot, form.arch, "seq2seq")  # text does not train an encoder–decoder: refused, said why
    assert "learns from pairs" in form.message and not view.train_action.isEnabled()
    _choose(qtbot, form.corpus, "pairs:reverse")  # the pair task picks the encoder–decoder's preset
    assert form.preset.currentData() == "seq2seq" and form.arch.currentData() == "seq2seq"
    assert form.corpus_source() == "task:reverse" and "anti-diagonal" in form.look_for.text()
    form.apply(
        models.preset("seq2seq", n_embd=32, n_head=2, batch_size=16, steps=40, warmup_steps=5,
                      eval_every=20, probe_every=20, sample_every=0, checkpoint_every=0)
    )  # fmt: skip
    assert form.message == "" and view.train_action.isEnabled()
    qtbot.keyClicks(form.probe_text, "xyz")  # a source alone: the probe must be a pair
    assert "is a pair" in form.message and not view.train_action.isEnabled()
    qtbot.keyClicks(form.probe_text, " -> ")  # an arrow with nothing on one side
    assert "a source and a target" in form.message and not view.train_action.isEnabled()
    form.probe_text.clear()
    assert form.message == "" and view.train_action.isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_F5)
    _wait_finished(qtbot, view)
    assert [s for s, _ in view.snapshots] == [20, 40]
    step, cross = view.snapshots[-1]
    assert view.probe_cols[-1] == "</s>" and view.probe_rows[-1] == "</s>"  # target rows × source columns
    assert cross.shape == (2, 2, len(view.probe_rows), len(view.probe_cols))
    assert view.head_plot.data.shape == cross.shape[2:] and "cross-attention" in view.mosaic.titleLabel.text
    assert "exact" in view.stats.text() and "tokens" in view.stats.text()
    # the score chart follows the cross-attention's alignments, not a decoder's own patterns
    assert view.score_chart.shown == ("diagonal", "anti-diagonal")
    assert view.score_chart.series["anti-diagonal"].n == 2 and view.score_chart.series["induction"].n == 0
    assert "held-out translations" in view.samples.toPlainText()
    # the trained encoder–decoder is the active model, with a held-out source to try
    qtbot.waitUntil(lambda: window.info.capabilities.encoder_decoder, timeout=10_000)
    assert window.info.name.startswith("trained encoder–decoder") and window.info.example
    assert window.prompt_view.typed_prompt() == window.info.example
    # and back to a GPT's task: its preset, its architecture, valid again
    _choose(qtbot, form.corpus, "task:copy")
    assert form.arch.currentData() == "gpt" and form.message == ""


def test_grokking_is_one_corpus_choice_refuses_a_bad_modulus_and_draws_its_charts(qtbot, view, tmp_path):
    """Task: modadd picks the grok preset and shows its two settings; a p that is not prime and a
    fraction of 1 are refused as typed; a run feeds the accuracy, measure and spectrum charts (the
    head-score and learning-rate charts make way), says the accuracies and exports them."""
    form = view.form
    index = form.corpus.findData("task:modadd")
    form.corpus.setCurrentIndex(index)
    form.corpus.activated.emit(index)  # (as a click on the item does)
    assert form.preset.currentData() == "grok" and form.ints["context"].value() == 5
    modulus, fraction = form.ints["modulus"], form.floats["train_fraction"]
    assert modulus.isVisibleTo(view) and fraction.isVisibleTo(view)
    modulus.clear()
    qtbot.keyClicks(modulus, "57")  # 3 × 19
    assert "must be a prime" in form.error.text() and not view.train_button.isEnabled()
    modulus.setValue(23)
    fraction.setValue(1.0)
    assert "training fraction must be between 0 and 1" in form.error.text()
    fraction.setValue(0.5)
    assert form.error.text() == "" and view.train_button.isEnabled()
    form.ints["steps"].setValue(60)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    _wait_finished(qtbot, view)
    charts = view.grok_charts
    assert charts.isVisible() and not view.score_chart.isVisible() and not view.lr_chart.isVisible()
    steps, accuracy = charts.series["train_accuracy"].data()
    assert list(steps) == [20, 40, 60] and accuracy[-1] == 1.0  # 23² pairs: memorised at once
    assert "test" in view.stats.text() and "train 100%" in view.stats.text()
    assert charts.bars.opts["height"].shape == (11,) and "key k = " in charts.spectrum.titleLabel.text
    path = tmp_path / "grok.csv"
    view.export_losses_csv(path)
    header, *rows = path.read_text().splitlines()
    assert header.startswith("step,train_accuracy,test_accuracy") and len(rows) == 3
    form.corpus.setCurrentIndex(form.corpus.findData("task:copy"))  # a text task: its rows go
    assert not modulus.isVisibleTo(view)


def test_the_scaling_preset_runs_a_sweep_and_fits_the_law_as_the_sizes_finish(qtbot, view, tmp_path):
    """Scaling: its sizes and tokens are asked (the per-model rows give way), checked as typed; Train
    runs every size in one stoppable job, the loss-against-parameters plot gets a point per finished
    size and the fitted law once three are done, the compute plot a curve per run and the frontier."""
    form = view.form
    form.preset.setCurrentIndex(form.preset.findData("scaling"))
    form.preset.activated.emit(form.preset.currentIndex())
    assert form.sizes.isVisibleTo(view) and not form.ints["n_layer"].isVisibleTo(view)
    assert form.corpus_source() == "shakespeare"
    form.sizes.setText("5k")
    assert "3 to 12 sizes" in form.error.text() and not view.train_button.isEnabled()
    form.sizes.setText("5k,20k,60k")
    form.tokens.setText("1k")
    assert "too few to fit anything" in form.error.text()
    form.tokens.setText("25k")
    assert form.error.text() == "" and view.train_button.isEnabled()
    assert view.start(out_dir=str(tmp_path))
    _wait_finished(qtbot, view)
    charts = view.scaling_charts
    assert charts.isVisible() and not view.loss_chart.isVisible() and not view.attention_panel.isVisible()
    assert view.progress.value() == view.progress.maximum() > 0  # every size's steps, all done
    assert len(charts.compute_plot.legend.items) == 4  # each size named, and the frontier
    assert [r.params for r in charts.runs] == sorted(r.params for r in charts.runs) and charts.finished == 3
    assert charts.law is not None and "α = " in charts.size_plot.titleLabel.text
    assert len(charts.points.data) == 3 and len(charts.frontier_curve.xData) >= 3
    assert "fit: L(N) = " in view.samples.toPlainText()
    assert len(list(tmp_path.glob("*k-params"))) == 3
    path = tmp_path / "scaling.csv"
    view.export_losses_csv(path)
    assert (
        path.read_text().splitlines()[0].startswith("params,n_layer,n_embd") and "alpha" in path.read_text()
    )
    form.preset.setCurrentIndex(form.preset.findData("task"))  # back to one run: its rows return
    form.preset.activated.emit(form.preset.currentIndex())
    assert form.ints["n_layer"].isVisibleTo(view) and not form.sizes.isVisibleTo(view)


def test_the_scaling_law_is_refitted_when_a_size_finishes_not_at_every_update(qtbot, monkeypatch):
    """The bootstrap fit runs on the GUI thread: once per finished size, never at each of the five
    updates a second of the running one (that starved the sweep's own thread)."""
    from models.training.scaling import SweepRun, fit_power_law
    from playground.views.widgets import scaling_charts

    fits = []
    monkeypatch.setattr(scaling_charts, "fit_power_law", lambda *a: fits.append(a) or fit_power_law(*a))
    charts = scaling_charts.ScalingCharts()
    qtbot.addWidget(charts)
    done = [
        SweepRun(2, w, p, [(1000, loss)]) for w, p, loss in ((32, 2e4, 2.5), (48, 6e4, 2.4), (64, 2e5, 2.3))
    ]
    running = SweepRun(4, 128, 8e5, [])
    for tokens in range(1000, 21000, 1000):  # the fourth size's curve grows
        running.curve.append((tokens, 3.0 - tokens / 1e5))
        charts.update_runs([*done, running], 3)
        charts.redraw()
    assert len(fits) == 1 and charts.law is not None
    charts.update_runs([*done, running], 4)  # the fourth finishes: one more fit, over four sizes
    assert len(fits) == 2 and len(fits[1][0]) == 4


def test_the_induction_preset_marks_the_phase_change_and_knocks_the_heads_out(
    qtbot, view, monkeypatch, tmp_path
):
    """The induction preset: picked on a task, it reads Shakespeare with its two rows (tracking ticked,
    half the windows repeated), which an encoder–decoder or BERT hides; a run feeds the score and
    in-context-learning charts below the loss, marks the step the heads formed on the loss and in
    the log, and the knock-out button reads that step's and the timeline's measurements."""
    from playground.views.widgets import induction_charts

    monkeypatch.setattr(induction_charts, "THRESHOLD", 0.0)  # (a tiny run: formed at its first validation)
    form = view.form
    form.corpus.setCurrentIndex(form.corpus.findData("task:copy"))
    form.preset.setCurrentIndex(form.preset.findData("induction"))
    form.preset.activated.emit(form.preset.currentIndex())
    assert form.corpus_source() == "shakespeare"
    assert form.induction.isChecked() and form.induction.isVisibleTo(view)
    share = form.floats["repeat_share"]
    assert share.isVisibleTo(view) and share.value() == 0.5
    form.arch.setCurrentIndex(form.arch.findData("bert"))
    assert not form.induction.isVisibleTo(view) and not share.isVisibleTo(view)
    assert form.error.text() == ""  # (hidden: not asked of a BERT, and not refused)
    form.arch.setCurrentIndex(form.arch.findData("gpt"))
    form.ints["n_layer"].setValue(1)
    assert "2 layers or more" in form.error.text() and not view.train_button.isEnabled()
    for name, value in (("n_layer", 2), ("n_embd", 32), ("context", 32), ("steps", 40), ("eval_every", 20),
                        ("probe_every", 20), ("sample_every", 0), ("warmup_steps", 5)):  # fmt: skip
        form.ints[name].setValue(value)
    assert form.error.text() == ""
    assert not view.knock_button.isVisible()  # (not before a run that measures them)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    _wait_finished(qtbot, view)
    charts = view.induction_charts
    assert charts.isVisible() and view.loss_chart.isVisible() and not view.score_chart.isVisible()
    assert charts.height() >= view.loss_chart.height() // 2  # (not squeezed to a strip below the loss)
    assert [step for step, _ in charts.history] == [20, 40] and charts.formed_at == 20
    assert view.loss_chart.marker.isVisible() and view.loss_chart.marker.value() == 20
    assert "step 20: induction heads formed" in view.samples.toPlainText()
    assert "Look for:</b> the loss falling fastest" in view.look_for.text()
    assert "induction" in view.stats.text() and "in-context" in view.stats.text()
    path = tmp_path / "induction.csv"
    view.export_losses_csv(path)
    header, *rows = path.read_text().splitlines()
    assert header.startswith("step,train_loss,val_loss,best_induction_score,heads,icl,") and len(rows) == 40
    validated, between = rows[19].split(","), rows[18].split(",")  # steps 20 and 19
    assert validated[0] == "20" and 0 <= float(validated[3]) <= 1 and validated[4].startswith("L")
    assert between[3] == ""
    assert view.knock_button.isVisible() and view.knock_button.isEnabled()
    qtbot.mouseClick(view.knock_button, Qt.MouseButton.LeftButton)
    said = view.check_label.text()
    assert view.check_label.isVisible() and "step 40 (the timeline's step)" in said and " out " in said
    form.preset.setCurrentIndex(form.preset.findData("task"))  # another run: no marker, no button
    form.preset.activated.emit(form.preset.currentIndex())
    form.corpus.setCurrentIndex(form.corpus.findData("task:copy"))
    _configure(view, steps=10, eval_every=10, probe_every=0, sample_every=0)
    assert view.start()
    _wait_finished(qtbot, view)
    assert not view.loss_chart.marker.isVisible() and not view.knock_button.isVisible()
    assert not charts.isVisible() and view.score_chart.isVisible()
