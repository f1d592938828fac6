"""The attention view follows a streaming run and keeps its whole text's attention from the run's own
steps (no second pass); a stopped run falls back to inspecting the text."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt


def _start(qtbot, window, prompt: str, tokens: int) -> None:
    view = window.prompt_view
    window.show_view("prompt")
    view.sampling.max_tokens.setValue(tokens)
    view.prompt.clear()
    qtbot.keyClicks(view.prompt, prompt)
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    window.show_view("attention")


def test_the_view_grows_with_the_run_and_keeps_its_attention_without_running_it_again(qtbot, window):
    tags = []
    channel = lambda request: window.client.outstanding[request].channel  # noqa: E731 (still outstanding)
    window.client.probed.connect(
        lambda request, probe: tags.append((channel(request), probe.attentions.size))
    )
    view, prompt = window.attention_view, window.prompt_view
    qtbot.waitUntil(lambda: not window.client.outstanding, timeout=10_000)
    before = view.attentions  # the example's inspection
    view._follow_timer.setInterval(1)  # redraw at every batch: a tiny model streams 40 tokens in 0.2 s
    _start(qtbot, window, "the cat", 40)
    sizes, shown = [], []

    def watch() -> bool:
        sizes.append(view.attentions.shape[-1])
        if view.attentions is not before:
            shown.append(view.attentions)
        return not prompt.running

    qtbot.waitUntil(watch, timeout=30_000)
    qtbot.waitUntil(lambda: ("scores", 0) in tags and not view.following, timeout=10_000)
    P, n = len(prompt.prompt_tokens), len(prompt.steps)
    assert n == 40 and view.attentions.shape == (2, 2, P + n, P + n)
    assert len({s for s in sizes if s > P}) > 1  # it grew while the text streamed
    assert len(shown) > 1 and all(np.shares_memory(m, view.attentions) for m in shown)  # one buffer,
    # grown by rows: no redraw rebuilt the picture
    worker = window.client.worker
    ids = list(prompt.prompt_tokens.ids) + [s.token_id for s in prompt.steps]
    with torch.no_grad():
        reference = worker.model(torch.tensor([ids]), output_attentions=True).attentions
    np.testing.assert_allclose(view.attentions, torch.stack([a[0] for a in reference]).numpy(), atol=1e-5)
    assert (
        view.rows[-1] == prompt.steps[-1].token_text
        and view.text.text() == "the cat" + prompt.generated_text()
    )
    qtbot.wait(300)
    assert tags[-1] == ("scores", 0)  # the probability view's own probe, without attentions, and
    assert tags.count(("scores", 0)) == 1  # no attention pass after the run
    assert window.probability_view.text.text() == view.text.text()


def test_a_stopped_run_is_inspected_afresh(qtbot, window, wait_signal):
    view, prompt = window.attention_view, window.prompt_view
    _start(qtbot, window, "the cat", 10_000)
    qtbot.waitUntil(lambda: len(prompt.steps) > 5, timeout=30_000)
    window.show_view("prompt")
    qtbot.keyClick(prompt.prompt, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not prompt.running, timeout=10_000)
    text = "the cat" + prompt.generated_text()
    shown = min(len(text), window.client.info.context)  # a run past the context: its last window
    qtbot.waitUntil(lambda: view.text.text() == text and len(view.rows) == shown, timeout=20_000)
    assert view.attentions.shape[-1] == shown and not view.following


def test_a_big_models_overview_is_pooled_off_the_gui_thread(qtbot, window):
    """30 layers × 9 heads (SmolLM2's) over 128 tokens: set_attentions returns before the heads are
    pooled; the pooled overview lands a moment later, equal to the one pooled in place."""
    from playground.overview import build_mosaic

    view = window.attention_view
    window.show_view("attention")
    qtbot.waitUntil(lambda: not window.client.outstanding, timeout=10_000)  # the example's own probe
    rng = np.random.default_rng(0)
    att = np.tril(rng.random((30, 9, 128, 128), dtype=np.float32))
    att /= att.sum(-1, keepdims=True)
    before = view.overview.data
    view.set_attentions([f"t{i}" for i in range(128)], att)
    assert view.overview.data is before and view.background.busy  # not pooled on this thread
    assert view.head_plot.data.shape == (128, 128)  # the large head is drawn at once
    qtbot.waitUntil(lambda: view.overview.data is not before, timeout=10_000)
    expected, tile = build_mosaic(att)
    np.testing.assert_array_equal(view.overview.data, expected)
    assert (view.overview.layers, view.overview.heads, view.overview.tile) == (30, 9, tile)
