"""App test fixtures: tiny GPT/BERT folders, a private QSettings file, a worker, a window."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.models.helpers import tiny_bert_config

TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog.\n" * 4


@pytest.fixture(scope="session")
def tiny_gpt_dir(tmp_path_factory) -> Path:
    import torch

    import models

    torch.manual_seed(0)
    tok = models.Tokenizer.train([TEXT], "char")
    cfg = models.GPTConfig(vocab_size=tok.vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    folder = tmp_path_factory.mktemp("tiny-gpt")
    models.save(models.GPT(cfg).eval(), tok, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    import torch

    import models

    torch.manual_seed(0)
    tok = models.Tokenizer.train([TEXT], "wordpiece", vocab_size=120)
    cfg = tiny_bert_config(
        tok.vocab_size, max_position_embeddings=64, num_hidden_layers=3, num_attention_heads=2
    )
    folder = tmp_path_factory.mktemp("tiny-bert")
    models.save(models.Bert(cfg).eval(), tok, folder)
    return folder


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory):
    """A tiny encoder–decoder folder whose greedy output reads back as text."""
    import torch

    import models
    from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig
    from tests.models.test_seq2seq import SHAPE

    tok = models.Tokenizer.train(["abcdefgh ijk 0123456789"], "char", specials=("<pad>", "</s>"))
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(vocab_size=tok.vocab_size, eos_token_id=1, **SHAPE)).eval()
    with torch.no_grad():
        model.final_logits_bias[0, 0] = -1e4  # <pad> is never chosen: the output reads back as text
        model.final_logits_bias[0, 1] = -1e4  # nor </s>: greedy runs to its length, whatever the weights
    folder = tmp_path_factory.mktemp("marian") / "marian"
    models.save(model, tok, folder)
    return folder


WORDS = {"cat": "animal", "log": "thing"}  # the word in a text decides its label


@pytest.fixture
def labelled_csv(tmp_path):
    rng = random.Random(0)
    filler = "the sat on a and mat dog".split()
    rows = ["text,label"]
    for _ in range(80):
        word = rng.choice(list(WORDS))
        words = rng.sample(filler, 5)
        words.insert(rng.randrange(6), word)
        rows.append(f"{' '.join(words)},{WORDS[word]}")
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bert_window(window, tiny_bert_dir, wait_signal):
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(tiny_bert_dir)))
    window.show_view("finetune")
    return window


@pytest.fixture
def corrupt_dir(tmp_path, tiny_gpt_dir) -> Path:
    """A folder whose config and tokenizer are fine but whose weights are truncated."""
    folder = tmp_path / "corrupt"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (folder / name).write_bytes((tiny_gpt_dir / name).read_bytes())
    weights = (tiny_gpt_dir / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    return folder


@pytest.fixture
def wait_signal(qtbot):
    """wait_signal(signal, trigger) -> the signal's args, received on the GUI thread.

    pytest-qt's waitSignal runs its callback on the emitting thread (the worker's), which
    touches a GUI-thread timer from there; this receiver is a GUI-thread QObject, so the
    connection is queued like the app's own.
    """
    from PySide6.QtCore import QObject, Qt

    class Catcher(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.args = None

        def catch(self, *args) -> None:
            if self.args is None:
                self.args = list(args)

    def wait(signal, trigger=None, timeout: int = 30_000):
        catcher = Catcher()
        signal.connect(catcher.catch, Qt.ConnectionType.QueuedConnection)
        try:
            if trigger is not None:
                trigger()
            qtbot.waitUntil(lambda: catcher.args is not None, timeout=timeout)
        finally:
            signal.disconnect(catcher.catch)
        return catcher.args

    return wait


@pytest.fixture
def settings(tmp_path):
    """A QSettings in a temporary ini file, so tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def client(qapp, tmp_path):
    from playground.worker import Worker, WorkerClient

    c = WorkerClient(Worker(assets=tmp_path / "no-assets", data_dir=tmp_path / "data", device="cpu"))
    yield c
    assert c.shutdown()


@pytest.fixture
def window(qtbot, client, settings, tiny_gpt_dir, wait_signal):
    """The main window on the tiny GPT, with error dialogs recorded instead of shown."""
    from playground.main_window import MainWindow

    w = MainWindow(client, settings, interactive=False)
    qtbot.addWidget(w)
    w.show()
    wait_signal(client.worker.model_loaded, lambda: w.open_model(str(tiny_gpt_dir)))
    yield w
    w.close()


def pytest_collection_modifyitems(items) -> None:
    """A hung app test dumps every thread's stack and ends the run instead of blocking CI.

    method="thread": the hang seen so far blocks the main thread inside Qt's event loop,
    where the signal method never gets to run.
    """
    for item in items:
        if "tests/app/" in str(item.fspath).replace("\\", "/") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(120, method="thread"))


@pytest.fixture
def finish(qtbot, client):
    """finish(send) -> (status, message) of the request `send()` returns the id of, once it ends."""
    ends: dict[int, tuple[str, str]] = {}

    def record(request: int, status: str, message: str) -> None:  # the client emits on the GUI thread
        ends[request] = (status, message)

    client.request_finished.connect(record)

    def run(send, timeout: int = 30_000) -> tuple[str, str]:
        request = send()
        qtbot.waitUntil(lambda: request in ends, timeout=timeout)
        return ends[request]

    yield run
    client.request_finished.disconnect(record)
