"""The Hugging Face cache browser and `--model ORG/NAME`: a cache laid out here as huggingface_hub lays it
out (blobs, snapshots of symlinks, refs), read offline."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
import transformers
from PySide6.QtCore import Qt

from models.hf.hub_cache import resolve, scan
from tests.models.helpers import char_tokenizer


def cache_model(cache: Path, repo_id: str, folder: Path, commit: str = "0" * 40) -> None:
    """Put `folder`'s files in the cache: content-addressed blobs, a snapshot of links, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for path in folder.iterdir():
        blob = repo / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
        blob.write_bytes(path.read_bytes())
        os.symlink(os.path.relpath(blob, snapshot), snapshot / path.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no LM Studio or Ollama models of the machine's
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    torch.manual_seed(0)
    llama = tmp_path / "llama"
    shape = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2)
    cfg = transformers.LlamaConfig(
        **shape, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64
    )
    transformers.LlamaForCausalLM(cfg).save_pretrained(llama)
    char_tokenizer().save(llama)
    t5 = tmp_path / "t5"
    t5.mkdir()
    (t5 / "config.json").write_text(
        json.dumps({"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]})
    )
    cache = tmp_path / "hub"
    cache_model(cache, "tiny/llama", llama)
    cache_model(cache, "google/t5-tiny", t5)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def test_the_cache_scan_finds_each_model_and_says_which_open(hub_cache):
    found = {m.repo_id: m for m in scan()}
    assert set(found) == {"tiny/llama", "google/t5-tiny"}
    llama, t5 = found["tiny/llama"], found["google/t5-tiny"]
    assert llama.opens and llama.architecture == "LlamaForCausalLM" and llama.model_type == "llama"
    assert llama.n_params == sum(p.numel() for p in transformers.LlamaForCausalLM(
        transformers.AutoConfig.from_pretrained(llama.folder)).parameters())  # fmt: skip
    assert not t5.opens and "model_type 't5' is not supported" in t5.why_not
    assert resolve("tiny/llama") == Path(llama.folder)
    with pytest.raises(Exception, match="not in the Hugging Face cache"):
        resolve("tiny/missing")


def _click_row(qtbot, table, row: int) -> None:
    """A click on the row's first cell, as a user picks it."""
    at = table.visualItemRect(table.item(row, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=at)


def test_the_dialog_lists_the_cache_and_opens_the_chosen_model(qtbot, window, hub_cache, wait_signal):
    dialog = window.hub_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10_000)
    rows = {dialog.table.item(r, 0).text(): r for r in range(2)}
    assert dialog.table.item(rows["google/t5-tiny"], 6).text().startswith("no: model_type 't5'")
    assert [dialog.table.item(rows["tiny/llama"], c).text() for c in (1, 2, 4)] == [
        "Hugging Face cache",
        "Llama",
        "F32",
    ]
    _click_row(qtbot, dialog.table, rows["google/t5-tiny"])
    assert not dialog.open_button.isEnabled()  # it would not open: Open says why in its tooltip
    _click_row(qtbot, dialog.table, rows["tiny/llama"])
    assert dialog.open_button.isEnabled()
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == dialog.DialogCode.Accepted and dialog.chosen == "tiny/llama"
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(dialog.chosen))
    assert window.info.source == "tiny/llama" and window.info.name == "tiny/llama" and window.info.n_head == 4


def test_a_hub_id_that_is_not_cached_is_refused_and_the_model_stays(qtbot, window, hub_cache, wait_signal):
    before = window.info
    message, _ = wait_signal(window.client.worker.errored, lambda: window.open_model("tiny/missing"))
    assert "not in the Hugging Face cache" in message and window.info is before


def test_a_sharded_model_with_a_shard_missing_does_not_open(tmp_path, monkeypatch):
    torch.manual_seed(0)
    folder = tmp_path / "sharded"
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    transformers.LlamaForCausalLM(cfg).save_pretrained(folder, max_shard_size="20KB")
    char_tokenizer().save(folder)
    shards = sorted(folder.glob("model-*.safetensors"))
    shards[-1].unlink()  # a download that stopped half way
    cache_model(tmp_path / "hub", "tiny/partial", folder)
    (found,) = scan(tmp_path / "hub")
    assert not found.opens and "missing" in found.why_not and shards[-1].name in found.why_not
