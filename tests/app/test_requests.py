"""The request table: every kind declared once, served by exactly one handler, answered on a real
signal; probes carry ids, the newest per channel wins, and a refusal reaches the view that asked."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt

from playground.info import ModelInfo
from playground.presenter import present
from playground.worker.requests import REQUESTS, Inspect, LayerAttention, Request
from playground.worker.signals import ANSWERS
from playground.worker.worker import HANDLERS


def test_every_request_kind_is_declared_once_and_served_by_one_handler():
    between = {kind for kind in REQUESTS if kind.between_chunks}  # probes, served between chunks
    assert between == {Inspect, LayerAttention} and set(HANDLERS) | between == set(REQUESTS)
    assert not between & set(HANDLERS)
    kinds = [kind.kind for kind in REQUESTS]
    assert len(kinds) == len(set(kinds))
    for kind in REQUESTS:
        assert issubclass(kind, Request) and dataclasses.is_dataclass(kind)
        assert kind.__dataclass_params__.frozen  # a payload crosses threads: never edited after sending
        assert kind.answer in ANSWERS, kind


def _info(**changes) -> ModelInfo:
    from models.capabilities import Capabilities

    fields = dict(
        name="", source="/runs/x", kind="GPT", capabilities=Capabilities(causal=True), n_layer=2, n_head=2,
        context=32, vocab_size=40, n_params=1000, device="CPU",
    )  # fmt: skip
    return ModelInfo(**(fields | changes))


def test_the_presenter_names_what_the_worker_only_describes():
    from models.capabilities import Capabilities

    opened = _info(name="gpt2", source="/models/gpt2")
    assert present(opened, None) is opened
    trained = present(_info(trained_on="task:copy", task="copy"), opened)
    assert trained.name == "trained GPT (task:copy)" and trained.note.startswith("prompt it with")
    tuned = present(_info(trained_on="/data/reviews.csv", finetuned="classify"), opened)
    assert tuned.name == "gpt2, classifier (reviews.csv)" and tuned.base == "gpt2"
    pairs = _info(
        kind="encoder–decoder", capabilities=Capabilities(encoder_decoder=True), trained_on="task:reverse"
    )
    shown = present(pairs, None)
    assert shown.name == "trained encoder–decoder (task:reverse)" and "look for" in shown.note


def test_a_refused_probe_is_said_in_the_view_that_asked_and_the_next_one_works(qtbot, window):
    """A probe the model refuses (a blank text): the attention view says why, with no dialog; the
    picture it had stays, and the next text is inspected."""
    view = window.attention_view
    window.show_view("attention")
    qtbot.waitUntil(lambda: view.attentions.size > 0 and not window.client.outstanding, timeout=10_000)
    before = view.attentions
    view.text.clear()
    qtbot.keyClicks(view.text, "   ")  # blank: the Enter key sends nothing
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    assert not window.client.outstanding
    window.client.send(Inspect("   ", "inspect"))  # what a stale caller might still send
    qtbot.waitUntil(lambda: "Could not inspect this text" in view.note.text(), timeout=10_000)
    assert "empty" in view.note.text() and window.errors.last is None and view.attentions is before
    view.text.clear()
    qtbot.keyClicks(view.text, "the cat")
    qtbot.keyClick(view.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.rows == tuple("the cat"), timeout=10_000)


def test_what_the_user_typed_stays_when_another_model_opens(qtbot, window, tiny_gpt_dir, wait_signal):
    """Typed into the Attention box while the next model loads: the box and its heatmap keep the
    user's text; the boxes the user never typed in take the new model's example."""
    view = window.attention_view
    window.show_view("attention")
    view.text.clear()
    qtbot.keyClicks(view.text, "my own words")
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(tiny_gpt_dir)))
    qtbot.waitUntil(lambda: view.rows == tuple("my own words"), timeout=10_000)
    assert view.text.text() == "my own words"
    assert window.lens_view.text.text() == window.prompt_view.typed_prompt()  # never typed in: the example
