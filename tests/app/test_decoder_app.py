"""A Llama-family folder in the app: it opens, generates, and every view inspects it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from tests.models.helpers import char_tokenizer


@pytest.fixture(scope="module")
def tiny_qwen3_dir(tmp_path_factory):
    import transformers

    torch.manual_seed(0)
    cfg = transformers.Qwen3Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=128, bos_token_id=None, eos_token_id=None,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-qwen3")
    transformers.Qwen3ForCausalLM(cfg).save_pretrained(folder)
    char_tokenizer().save(folder)
    return folder


def test_a_qwen3_folder_opens_generates_and_is_inspected_by_every_view(
    qtbot, window, tiny_qwen3_dir, wait_signal
):
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(tiny_qwen3_dir)))
    assert window.info.n_layer == 2 and window.info.n_head == 4 and window.info.capabilities.causal
    view = window.prompt_view
    window.show_view("prompt")
    view.sampling.max_tokens.setValue(15)
    view.prompt.setPlainText("First")
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    assert len(view.steps) == 15
    att = window.attention_view
    qtbot.waitUntil(
        lambda: att.attentions.shape[:2] == (2, 4) and att.attentions.shape[-1] == 5 + 15, timeout=10_000
    )
    window.show_view("attention")
    att.select(1, 3)  # 4 query heads read 2 key/value heads: heads 2 and 3 share head 1
    assert att.head_plot.titleLabel.text.endswith("key/value head 1, shared by heads 2–3")
    got = []
    window.client.probed.connect(lambda _tag, probe: got.append(probe))
    qtbot.keyClick(att.overview_widget, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: bool(got) and got[-1].knocked_out == ((1, 3),), timeout=10_000)
    assert not np.allclose(got[-1].target_prob[:-1], got[-1].intact_prob[:-1])


def test_the_chat_box_follows_the_models_template_and_wraps_the_prompt(qtbot, window, tmp_path, wait_signal):
    from tests.models.test_decoder_tokenizer import TEMPLATE, _folder

    sampling, view = window.prompt_view.sampling, window.prompt_view
    assert not sampling.chat.isEnabled()  # the tiny GPT has no template
    folder = _folder(tmp_path, add_bos_token=True, chat_template=TEMPLATE)
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(folder)))
    assert sampling.chat.isEnabled() and sampling.chat.isChecked() and window.info.chat
    window.show_view("prompt")
    view.sampling.max_tokens.setValue(3)
    view.prompt.setPlainText("Speak")
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    assert (
        view.prompt_tokens.texts[:2] == ("<s>", "<|user|>")
        and view.prompt_tokens.texts[-1] == "<|assistant|>"
    )
    qtbot.mouseClick(sampling.chat, Qt.MouseButton.LeftButton)  # off: the prompt as typed, after <s>
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    assert view.prompt_tokens.texts == ("<s>", "S", "p", "e", "a", "k")


def test_a_gemma_folders_local_layer_shows_its_window(qtbot, window, tmp_path, wait_signal):
    """Gemma 2 alternates local and global layers: a local layer's heatmap is a band, and its
    title says how far back each token sees; a global layer's is not and says nothing."""
    import transformers

    torch.manual_seed(0)
    cfg = transformers.Gemma2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=64, sliding_window=4,
        bos_token_id=None, eos_token_id=None, pad_token_id=0,
    )  # fmt: skip
    transformers.Gemma2ForCausalLM(cfg).save_pretrained(tmp_path)
    char_tokenizer().save(tmp_path)
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(str(tmp_path)))
    assert window.info.kind == "Gemma 2" and window.info.windows == (4, 0)
    view = window.prompt_view
    window.show_view("prompt")
    view.sampling.max_tokens.setValue(10)
    view.prompt.setPlainText("First Citizen")
    qtbot.keyClick(view.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not view.running, timeout=20_000)
    att = window.attention_view
    qtbot.waitUntil(lambda: att.attentions.shape[-1] == 13 + 10, timeout=10_000)
    window.show_view("attention")
    att.select(0, 1)
    assert "layer 0 (local: each token sees the last 4), head 1" in att.head_plot.titleLabel.text
    local = att.attentions[0, 1]
    rows, cols = np.tril_indices(local.shape[0])
    assert (local[rows, cols][rows - cols >= 4] == 0).all() and (local[rows, cols][rows - cols < 4] > 0).all()
    att.select(1, 1)
    assert "local" not in att.head_plot.titleLabel.text and (att.attentions[1, 1][rows, cols] > 0).all()
