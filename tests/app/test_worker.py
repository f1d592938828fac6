"""Worker tests without widgets: signal order, stop, coalescing, errors, jobs, and a soak."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QObject, QThread, Signal, Slot

import models
from playground.worker import Job, Worker
from playground.worker.requests import Generate, Inspect, KnockOut, Load


class Recorder(QObject):
    """Lives on the GUI thread, so the worker's signals reach it queued, in emission order."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.events: list[str] = []
        self.steps: list = []
        self.reasons: list[str] = []
        self.errors: list[str] = []
        worker.model_loaded.connect(self._on_model_loaded)
        worker.prompt_tokenized.connect(self._on_prompt_tokenized)
        worker.state_changed.connect(self._on_state_changed)
        worker.tokens_generated.connect(self._on_tokens_generated)
        worker.request_finished.connect(self._on_request_finished)
        worker.errored.connect(self._on_errored)

    @Slot(object)
    def _on_model_loaded(self, _info) -> None:
        self.events.append("model_loaded")

    @Slot(object)
    def _on_prompt_tokenized(self, _tokens) -> None:
        self.events.append("prompt_tokenized")

    @Slot(object)
    def _on_state_changed(self, state) -> None:
        if state.job:
            self.events.append(f"{state.job_phase} {state.job}")

    @Slot(object)
    def _on_tokens_generated(self, batch) -> None:
        self.events.append("tokens_generated")
        self.steps.extend(batch)

    @Slot(int, str, str)
    def _on_request_finished(self, _request, status, _message) -> None:
        self.events.append("finished")
        self.reasons.append(status)

    @Slot(str, str)
    def _on_errored(self, message, _details) -> None:
        self.events.append("errored")
        self.errors.append(message)


def _load(wait_signal, client, folder) -> None:
    wait_signal(client.worker.model_loaded, lambda: client.send(Load(str(folder))))


def test_generate_signals_arrive_in_order_and_none_is_dropped(finish, client, tiny_gpt_dir):
    rec = Recorder(client.worker)
    finish(lambda: client.send(Load(str(tiny_gpt_dir))))
    settings = models.SamplingSettings(max_new_tokens=150, attention=True)
    assert finish(lambda: client.send(Generate("the cat", settings))) == ("done", "")
    events = [e for i, e in enumerate(rec.events) if i == 0 or e != rec.events[i - 1]]
    assert events == [
        "model_loaded",
        "finished",  # the load
        "prompt_tokenized",
        "running generate",
        "tokens_generated",
        "finished",
    ]
    assert rec.reasons == ["done", "done"]
    assert [s.index for s in rec.steps] == list(range(150))
    # coalesced: far fewer batches than tokens, yet every token arrived
    assert rec.events.count("tokens_generated") < 150
    assert rec.steps[-1].finish_reason == "length"
    assert rec.steps[0].attention.shape[:2] == (2, 2)


def test_stop_ends_generation_within_one_step(wait_signal, finish, client, tiny_gpt_dir):
    rec = Recorder(client.worker)
    finish(lambda: client.send(Load(str(tiny_gpt_dir))))
    settings = models.SamplingSettings(max_new_tokens=10_000)
    ids = []
    wait_signal(client.worker.tokens_generated, lambda: ids.append(client.send(Generate("the", settings))))
    taken_at_stop = []

    def stop() -> int:
        client.stop(ids[0])
        taken_at_stop.append(client.worker.steps_taken)
        return ids[0]

    assert finish(stop) == ("stopped", "")
    assert client.worker.steps_taken - taken_at_stop[0] <= 1
    assert len(rec.steps) == client.worker.steps_taken < 10_000  # none of them lost
    assert client.state.activity == "idle" and not client.outstanding


def test_an_error_is_reported_and_the_worker_keeps_serving(
    wait_signal, finish, client, tiny_gpt_dir, corrupt_dir
):
    rec = Recorder(client.worker)
    _load(wait_signal, client, tiny_gpt_dir)
    message, details = wait_signal(client.worker.errored, lambda: client.send(Load(str(corrupt_dir))))
    assert "model.safetensors" in message and not message[0].islower()
    assert details == ""  # the user's to fix, not a bug: no traceback
    assert client.worker.info.source == str(tiny_gpt_dir)  # the old model stayed
    # a probe's refusal is answered to the view that asked (its request fails), not as a dialog
    status, message = finish(lambda: client.send(Inspect("   ", "t")))
    assert status == "failed" and "empty" in message
    request, probe = wait_signal(client.worker.probed, lambda: client.send(Inspect("the cat", "t")))
    assert probe.attentions.shape[:2] == (2, 2) and request == client.newest_probe("t")
    assert rec.events.count("errored") == 1


def test_probes_on_one_channel_coalesce_to_the_newest_and_each_ends(qapp, qtbot, tiny_gpt_dir):
    worker = Worker(device="cpu")  # on this thread: requests are served when events run
    worker.serve(1, Load(str(tiny_gpt_dir)))
    got, ended = [], {}
    worker.probed.connect(lambda request, probe: got.append((request, probe)))
    worker.request_finished.connect(lambda request, status, message: ended.setdefault(request, status))
    for n in range(1, 51):
        worker.serve(1 + n, Inspect("the cat " * n, "a"))
    worker.serve(52, Inspect("dog", "b"))
    qtbot.waitUntil(lambda: len(got) >= 2, timeout=20_000)
    qapp.processEvents()
    assert [request for request, _ in got] == [51, 52]  # the newest of each channel
    assert len(got[0][1].tokens) == min(len("the cat " * 50), 64)
    assert [ended[r] for r in range(2, 51)] == ["stopped"] * 49  # superseded: each still ends
    assert ended[51] == ended[52] == "done"


def test_a_custom_job_delivers_every_item_batched_and_finishes(qapp, qtbot):
    worker = Worker(device="cpu")
    batches, finished = [], []
    worker.start_job(Job("counting", iter(range(20_000)), batches.append, finished.append))
    qtbot.waitUntil(lambda: bool(finished), timeout=20_000)
    assert finished == ["done"]
    assert [x for b in batches for x in b] == list(range(20_000))
    assert len(batches) < 2_000


def test_a_failing_job_reports_and_finishes_as_failed(qapp, qtbot):
    worker = Worker(device="cpu")
    errors, finished = [], []
    worker.errored.connect(lambda message, details: errors.append((message, details)))

    def broken():
        yield 1
        raise RuntimeError("boom")

    worker.start_job(Job("breaking", broken(), lambda b: None, finished.append))
    qtbot.waitUntil(lambda: bool(finished), timeout=20_000)
    assert finished == ["failed"]
    assert "boom" in errors[0][0] and "RuntimeError" in errors[0][1]


def test_a_delivery_that_raises_fails_the_job_and_ends_its_request(qapp, qtbot):
    """A view's handler breaking on a batch must not end the chain silently: the request ends."""
    worker = Worker(device="cpu")
    errors, finished, ended = [], [], []
    worker.errored.connect(lambda message, details: errors.append(message))
    worker.request_finished.connect(lambda request, status, message: ended.append((request, status)))

    def deliver(batch):
        raise ValueError("the view could not take it")

    worker.start_job(Job("counting", iter(range(10)), deliver, finished.append, request=7))
    qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    assert finished == ["failed"] and ended == [(7, "failed")]
    assert "the view could not take it" in errors[0] and worker.job is None


def test_out_of_memory_is_known_by_its_type_not_its_words(qapp):
    import torch

    worker = Worker(device="cpu")
    said = []
    worker.errored.connect(lambda message, details: said.append(message))
    worker._report(torch.OutOfMemoryError("CUDA error: an allocation of 4 GiB failed"), "probing")
    worker._report(MemoryError(), "reading the layers")
    worker._report(RuntimeError("this message mentions out of memory but is no allocation"), "probing")
    assert said[0].startswith("Out of memory while probing")
    assert said[1].startswith("Out of memory while reading the layers")
    assert said[2].startswith("Something went wrong while probing: RuntimeError")


@pytest.fixture
def quick_starter(monkeypatch):
    from playground import starter

    monkeypatch.setitem(starter.STARTER_CONFIG, "steps", 3)
    monkeypatch.setitem(starter.STARTER_CONFIG, "warmup_steps", 1)


def test_missing_builtin_model_makes_and_caches_a_starter(wait_signal, client, tmp_path, quick_starter):
    (info,) = wait_signal(client.worker.model_loaded, lambda: client.send(Load("builtin:gpt")))
    assert info.capabilities.causal and "starter" in info.note
    assert (tmp_path / "data" / "starter-gpt" / "config.json").is_file()
    reopened, _ = models.load(tmp_path / "data" / "starter-gpt")
    assert reopened.config.n_layer == 4


def test_a_starter_that_cannot_be_saved_stays_in_memory(wait_signal, qapp, tmp_path, quick_starter):
    from playground.worker import Worker, WorkerClient

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    c = WorkerClient(Worker(assets=tmp_path / "no-assets", data_dir=blocker, device="cpu"))
    try:
        (info,) = wait_signal(c.worker.model_loaded, lambda: c.send(Load("builtin:bert")))
        assert info.capabilities.encoder_only and "could not be saved" in info.note
    finally:
        assert c.shutdown()


def test_a_bad_model_at_launch_falls_back_to_the_builtin_one(wait_signal, client, tmp_path, quick_starter):
    recorder = Recorder(client.worker)
    (info,) = wait_signal(client.worker.model_loaded, lambda: client.send(Load(str(tmp_path / "nowhere"))))
    assert info.capabilities.causal and "could not be opened" in info.note and "nowhere" in info.note
    assert recorder.errors and "nowhere" in recorder.errors[0]


class _Emitter(QObject):
    emitted = Signal(object)

    @Slot(int)
    def run(self, n: int) -> None:
        step = models.GenerationStep(
            0, 1, "a", "a", 0.5, 1.0, np.zeros(3, np.int64), np.zeros(3, np.float32), ("a", "b", "c")
        )
        for _ in range(n):
            self.emitted.emit([step])


class _Counter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @Slot(object)
    def _on_emitted(self, batch) -> None:
        self.count += len(batch)


@pytest.mark.timeout(120)
def test_soak_100k_signals_across_threads(qtbot):
    """PySide6 6.12.0 aborts after ~1000 of these (bool_dealloc); a sound release survives."""
    n = 100_000
    thread, emitter, counter = QThread(), _Emitter(), _Counter()
    emitter.moveToThread(thread)
    emitter.emitted.connect(counter._on_emitted)
    thread.started.connect(lambda: emitter.run(n))
    thread.start()
    try:
        qtbot.waitUntil(lambda: counter.count == n, timeout=100_000)
    finally:
        thread.quit()
        thread.wait()
    assert counter.count == n


def test_generation_runs_with_the_knocked_out_heads(finish, client, tiny_gpt_dir):
    rec = Recorder(client.worker)
    finish(lambda: client.send(Load(str(tiny_gpt_dir))))
    heads = [(0, 0), (1, 1)]
    assert finish(lambda: client.send(KnockOut(tuple(heads)))) == ("done", "")
    settings = models.SamplingSettings(max_new_tokens=20, temperature=0)
    assert finish(lambda: client.send(Generate("the cat", settings))) == ("done", "")
    worker = client.worker
    with models.ablated(worker.model, heads):
        expected = list(models.generate(worker.model, worker.tokenizer, "the cat", settings))
    intact = list(models.generate(worker.model, worker.tokenizer, "the cat", settings))
    assert [s.token_id for s in rec.steps] == [s.token_id for s in expected]
    np.testing.assert_allclose([s.prob for s in rec.steps], [s.prob for s in expected], atol=1e-6)
    assert not np.allclose([s.prob for s in expected], [s.prob for s in intact])  # the heads mattered
    status, message = finish(lambda: client.send(KnockOut(((5, 0),))))
    assert status == "failed" and "No head L5H0" in message and worker.ablation == tuple(heads)
