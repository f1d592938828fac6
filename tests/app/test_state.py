"""One truth about what runs: refused, stopped and paused actions never leave a control stuck."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt, QTimer

import models
from playground.worker.requests import Generate, Inspect

TINY = dict(n_layer=2, n_head=2, n_embd=32, context=32, batch_size=8, warmup_steps=5, vocab_size=200)
CTRL = Qt.KeyboardModifier.ControlModifier


def _configure(view, steps: int = 5000, **values) -> None:
    form = view.form
    form.corpus.setCurrentIndex(form.corpus.findData("task:copy"))
    form.preset.setCurrentIndex(form.preset.findData("task"))
    quiet = dict(probe_every=0, sample_every=0, eval_every=0, checkpoint_every=0)
    form.apply(models.preset("task", **(TINY | quiet | {"steps": steps} | values)))


def _block_worker(worker, seconds: float) -> None:
    """Keep the worker thread busy, so requests sent meanwhile wait in its queue."""
    QTimer.singleShot(0, worker, lambda: time.sleep(seconds))


def _generate_keys(qtbot, window, tokens: int, prompt: str = "the cat") -> None:
    view = window.prompt_view
    view.sampling.max_tokens.setValue(tokens)
    view.prompt.setPlainText(prompt)
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, CTRL)


def _train_and_wait_steps(qtbot, window, steps: int = 3) -> None:
    view = window.training_view
    _configure(view)
    window.show_view("training")
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: view.last_step >= steps, timeout=60_000)


# ---- blocking ---------------------------------------------------------------------------------
def test_an_empty_prompt_is_a_note_in_the_status_bar_not_a_dialog_and_nothing_sticks(qtbot, window):
    view = window.prompt_view
    _generate_keys(qtbot, window, 5, prompt="")
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    assert window.errors.last is None  # no dialog for nothing typed
    assert window.message.text() == "Type a prompt first, then Ctrl+Enter."
    assert view.prompt.hasFocus() and not window.client.outstanding  # nothing sent
    assert view.generate_button.isEnabled() and not view.stop_button.isEnabled()
    _generate_keys(qtbot, window, 5)  # and the next prompt runs
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    assert view.finish_reason == "done" and len(view.steps) == 5


def test_generate_during_training_is_refused_and_works_after_it(qtbot, window, finish):
    _train_and_wait_steps(qtbot, window)
    view = window.prompt_view
    assert not view.generate_button.isEnabled()
    assert "Training is running" in view.generate_button.toolTip()
    window.show_view("prompt")
    before = view.request
    _generate_keys(qtbot, window, 5)  # the shortcut does what the disabled button would not
    assert view.request == before and not view.running
    # the worker refuses too (a request that got past the view): the request still ends
    status, message = finish(
        lambda: window.client.send(Generate("the", models.SamplingSettings(max_new_tokens=3)))
    )
    assert status == "failed" and message.startswith("Training is running")
    assert window.training_view.state == "running"
    qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # stop the run
    qtbot.waitUntil(lambda: window.training_view.state == "idle", timeout=30_000)
    assert view.generate_button.isEnabled() and not view.stop_button.isEnabled()
    _generate_keys(qtbot, window, 4)
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    assert len(view.steps) == 4


def test_f5_f6_f10_work_after_a_pause_from_any_tab(qtbot, window):
    view = window.training_view
    _train_and_wait_steps(qtbot, window)
    window.show_view("prompt")
    for _ in range(2):  # pausing twice: the keys keep working after the first pause
        qtbot.keyClick(window, Qt.Key.Key_F6)
        assert view.state == "paused"
        assert view.pause_button.text() == "Continue" and view.train_button.text() == "Train"
        qtbot.wait(300)
        paused_at = view.last_step
        qtbot.keyClick(window, Qt.Key.Key_F10)
        qtbot.waitUntil(lambda p=paused_at: view.last_step == p + 1, timeout=10_000)
        qtbot.keyClick(window, Qt.Key.Key_F6)
        assert view.state == "running"
        qtbot.waitUntil(lambda p=paused_at: view.last_step >= p + 3, timeout=30_000)
    qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: view.state == "idle", timeout=30_000)
    first = view.request
    window.show_view("prompt")
    qtbot.keyClick(window, Qt.Key.Key_F5)  # a new run, from another tab, shown where it runs
    assert view.request != first and window.tabs.currentWidget() is view
    qtbot.waitUntil(lambda: view.last_step >= 1, timeout=60_000)
    view.stop_button.click()
    qtbot.waitUntil(lambda: view.state == "idle", timeout=30_000)


def test_escape_in_the_prompt_never_stops_a_training_run(qtbot, window):
    _generate_keys(qtbot, window, 3)
    qtbot.waitUntil(lambda: not window.prompt_view.running, timeout=10_000)
    _train_and_wait_steps(qtbot, window)
    window.show_view("prompt")
    qtbot.keyClick(window.prompt_view.prompt, Qt.Key.Key_Escape)
    qtbot.keyClick(window.prompt_view.generate_button, Qt.Key.Key_Escape)
    at = window.training_view.last_step
    qtbot.waitUntil(lambda: window.training_view.last_step >= at + 3, timeout=30_000)
    assert window.training_view.state == "running"
    window.training_view.stop_button.click()
    qtbot.waitUntil(lambda: window.training_view.state == "idle", timeout=30_000)


def test_stop_reaches_a_training_run_the_worker_has_not_started(qtbot, window, tmp_path):
    view = window.training_view
    _configure(view, steps=400)
    _block_worker(window.client.worker, 1.0)
    view.train_button.click()
    assert view.state == "preparing"
    view.stop_button.click()
    assert view.state == "stopping"
    qtbot.waitUntil(lambda: view.state == "idle", timeout=30_000)
    assert view.last_step == 0 and window.client.worker.steps_taken == 0
    assert view.train_button.isEnabled() and not view.stop_button.isEnabled()
    runs = tmp_path / "data" / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # no empty run folder left behind


def test_escape_reaches_a_generation_the_worker_has_not_started(qtbot, window):
    view = window.prompt_view
    _block_worker(window.client.worker, 1.0)
    _generate_keys(qtbot, window, 3000)
    assert view.running and view.stop_button.isEnabled()
    qtbot.keyClick(view.prompt, Qt.Key.Key_Escape)
    assert not view.stop_button.isEnabled()  # stopping: pressed once is enough
    qtbot.waitUntil(lambda: not view.running, timeout=30_000)
    assert view.finish_reason == "stopped" and view.steps == []
    assert window.client.worker.steps_taken == 0


def test_the_cancel_button_stops_what_the_status_bar_shows(qtbot, window):
    view = window.prompt_view
    _generate_keys(qtbot, window, 100_000)
    qtbot.waitUntil(lambda: window.cancel_button.isVisible(), timeout=10_000)
    assert window.activity.text() == "generating…"
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    assert view.finish_reason == "stopped"
    # the run lands in the inspection views (a probe), then the worker is idle
    qtbot.waitUntil(lambda: window.activity.text() == "ready", timeout=10_000)
    assert not window.cancel_button.isVisible() and not window.progress.isVisible()


def test_probes_during_a_job_share_its_one_chunk_chain(qtbot, window):
    """Thirty probes sent while a generation runs: each is answered within a few chunks (it
    used to wait behind one extra chunk chain per earlier probe)."""
    worker = window.client.worker
    _generate_keys(qtbot, window, 1_000_000)
    qtbot.waitUntil(lambda: worker.steps_taken > 0, timeout=10_000)
    answered = []
    worker.probed.connect(lambda tag, probe: answered.append(worker.chunks_run))  # on the worker
    waits = []
    for i in range(30):
        sent = worker.chunks_run
        window.client.send(Inspect("the cat sat", f"t{i % 3}"))
        qtbot.waitUntil(lambda n=i: len(answered) > n, timeout=10_000)
        waits.append(answered[i] - sent)
    assert window.prompt_view.running
    assert max(waits) <= 3, waits
    window.prompt_view.stop_button.click()
    qtbot.waitUntil(lambda: not window.prompt_view.running, timeout=10_000)
    qtbot.wait(100)  # a chunk the stop itself queued may still run once
    idle = worker.chunks_run
    qtbot.wait(300)
    assert worker.chunks_run == idle  # no chain is left spinning once the job has ended


# ---- stale content ------------------------------------------------------------------------------
def test_a_new_run_does_not_show_the_last_runs_heads(qtbot, window):
    view = window.training_view
    _configure(view, steps=6, probe_every=3)
    view.start()
    qtbot.waitUntil(lambda: view.state == "idle", timeout=60_000)
    assert view.mosaic.layers == 2 and view.head_plot.data.size
    _configure(view, steps=4000, probe_every=1000)
    _block_worker(window.client.worker, 0.5)
    view.start()
    assert view.mosaic.layers == 0 and view.mosaic.image.image is None
    assert view.head_plot.data.size == 0 and view.timeline_label.text() == "no snapshot yet"
    view.stop_button.click()
    qtbot.waitUntil(lambda: view.state == "idle", timeout=30_000)


def test_a_resumed_run_keeps_its_learning_rate_and_head_score_history(qtbot, window):
    view = window.training_view
    _configure(view, steps=5000, probe_every=2, checkpoint_every=0)
    view.start()
    qtbot.waitUntil(lambda: view.last_step >= 6, timeout=60_000)
    view.stop_button.click()
    qtbot.waitUntil(lambda: view.state == "idle", timeout=30_000)
    stopped = view.last_step
    scores_before = view.score_chart.series["previous-token"].data()[1].copy()
    lr_before = view.lr_chart.series.data()[1].copy()
    view.resume_from(window.client.worker.last_checkpoint, steps=stopped + 2)
    qtbot.waitUntil(lambda: view.state == "idle", timeout=30_000)
    lr_steps, lrs = view.lr_chart.series.data()
    assert list(lr_steps) == list(range(1, stopped + 3))
    assert lrs[:stopped] == pytest.approx(lr_before[:stopped], rel=1e-5)
    scores = view.score_chart.series["previous-token"].data()[1]
    assert len(scores) > len(scores_before)
    assert scores[: len(scores_before)] == pytest.approx(scores_before)


def test_switching_to_bert_clears_the_gpt_results(qtbot, window, tiny_bert_dir, wait_signal):
    view = window.prompt_view
    _generate_keys(qtbot, window, 5)
    qtbot.waitUntil(lambda: not view.running, timeout=10_000)
    qtbot.mouseClick(view.output.viewport(), Qt.MouseButton.LeftButton, pos=view.output.token_rect_center(2))
    assert view.details.header.text().startswith("“")
    qtbot.waitUntil(lambda: window.probability_view.probe is not None, timeout=10_000)
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(tiny_bert_dir)))
    assert not view.details.header.text().startswith("“")
    assert view.details.attention.data.size == 0
    assert window.probability_view.probe is None and window.probability_view.tokens.token_count == 0
    assert "BERT" in window.probability_view.summary.text()


def test_a_stopped_run_whose_clean_up_fails_still_ends(qtbot, window, monkeypatch):
    from playground.training_session import TrainingRun

    def broken(self) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(TrainingRun, "discard", broken)
    view = window.training_view
    _configure(view, steps=400)
    _block_worker(window.client.worker, 1.0)
    view.train_button.click()
    view.stop_button.click()
    qtbot.waitUntil(lambda: view.state == "idle", timeout=30_000)
    assert view.train_button.isEnabled() and not window.client.outstanding


def test_cancel_never_stops_a_job_behind_a_probe_or_a_save():
    from playground.worker.state import WorkerState

    job = dict(job="train", job_request=5, job_phase="running")
    assert WorkerState("training", 5, **job).stoppable == 5
    assert WorkerState("preparing", 7).stoppable == 7
    for activity, request in (("probing", 0), ("saving", 9), ("filling", 8)):
        assert WorkerState(activity, request, **job).stoppable == 0


def test_train_waits_for_a_running_generation(qtbot, window):
    view = window.training_view
    _configure(view)
    _generate_keys(qtbot, window, 100_000)
    assert window.prompt_view.running
    assert not view.train_button.isEnabled() and "generation is running" in view.train_button.toolTip()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert view.request == 0 and window.prompt_view.running
    window.prompt_view.stop_button.click()
    qtbot.waitUntil(lambda: not window.prompt_view.running, timeout=10_000)
    assert view.train_button.isEnabled()


def test_a_finished_run_is_freed_once_it_has_ended(qtbot, window):
    """With the app's collection policy (GUI thread only, frozen heap during runs), the memory
    of a run that ended (its optimizer, data, cycles inside PyTorch's objects included) goes
    once the next one has replaced it."""
    import weakref

    from playground import gc_policy

    gc_policy.settle_after_loads(window.client)
    view = window.training_view
    _configure(view, steps=3, warmup_steps=1)
    view.start()
    qtbot.waitUntil(lambda: view.state == "idle", timeout=60_000)
    old = weakref.ref(window.client.worker.training_run.trainer.optimizer)
    _configure(view, steps=3, warmup_steps=1)
    view.start()
    qtbot.waitUntil(lambda: view.state == "idle", timeout=60_000)
    qtbot.waitUntil(lambda: old() is None, timeout=5_000)


def test_requests_sent_while_closing_are_refused(client):
    assert client.shutdown()
    assert client.send(Generate("the", models.SamplingSettings(max_new_tokens=3))) == 0
    assert client.outstanding == {} and client.phase(0) == ""
