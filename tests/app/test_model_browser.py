"""One browser for the models a user has: LM Studio's and Ollama's stores laid out here as those
programs lay them out, an added folder, GGUF files opened from File ▸ Open and saved as GGUF."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
import transformers
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

import models
from models.hf.local_models import LMSTUDIO, OLLAMA, scan
from tests.models.gguf_files import byte_level_meta, write_gguf

SHAPE = dict(
    vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2, max_position_embeddings=64
)


def _llama_gguf(path: Path) -> Path:
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(**SHAPE, num_attention_heads=4, num_key_value_heads=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_gguf(transformers.LlamaForCausalLM(cfg).eval(), path, byte_level_meta(320))


def _ollama_pull(root: Path, name: str, tag: str, gguf: Path | None, namespace: str = "library") -> None:
    """A model as `ollama pull` leaves it: the blob by its digest, and a manifest naming it."""
    digest = "sha256:" + (hashlib.sha256(gguf.read_bytes()).hexdigest() if gguf else "0" * 64)
    if gguf is not None:
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        (root / "blobs" / digest.replace(":", "-")).write_bytes(gguf.read_bytes())
    manifest = root / "manifests" / "registry.ollama.ai" / namespace / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": "sha256:" + "1" * 64},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": 1},
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "2" * 64, "size": 1},
        ],
    }))  # fmt: skip


@pytest.fixture
def stores(tmp_path, monkeypatch):
    """LM Studio (new and old places), Ollama (under OLLAMA_MODELS), an empty Hugging Face cache."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hub"))
    lms = home / ".lmstudio" / "models" / "tiny-org" / "Tiny-Llama-GGUF"
    _llama_gguf(lms / "tiny-llama-F32.gguf")
    (lms / "tiny-llama-Q4_K_M.gguf.part").write_bytes(b"GGUF" + b"\0" * 100)  # a download under way
    clip = gguf.GGUFWriter(str(lms / "mmproj-tiny-f16.gguf"), "clip")  # a vision model's image encoder
    clip.add_tensor("v.patch_embd.weight", np.zeros((4, 4), np.float16))
    for step in (
        clip.write_header_to_file,
        clip.write_kv_data_to_file,
        clip.write_tensors_to_file,
        clip.close,
    ):
        step()
    old = home / ".cache" / "lm-studio" / "models" / "old-org" / "Old-GGUF"
    old.mkdir(parents=True)
    (old / "cut.gguf").write_bytes((lms / "tiny-llama-F32.gguf").read_bytes()[:3000])  # truncated
    ollama = tmp_path / "ollama-store"
    monkeypatch.setenv("OLLAMA_MODELS", str(ollama))
    _ollama_pull(ollama, "tiny", "latest", lms / "tiny-llama-F32.gguf")
    _ollama_pull(ollama, "gone", "7b", None)  # its blob was deleted
    _ollama_pull(ollama, "mine", "v1", lms / "tiny-llama-F32.gguf", namespace="someone")
    return tmp_path


def test_every_store_is_found_and_each_row_says_whether_it_opens(stores):
    rows = {m.name: m for m in scan()}
    llama = rows["tiny-org/Tiny-Llama-GGUF/tiny-llama-F32.gguf"]
    assert (llama.source, llama.family, llama.quantization, llama.opens) == (LMSTUDIO, "Llama", "F32", True)
    assert llama.n_params == sum(p.numel() for p in models.load(llama.path)[0].parameters())
    assert llama.size == Path(llama.path).stat().st_size and llama.opens_as == llama.path
    assert (
        rows["tiny-org/Tiny-Llama-GGUF/tiny-llama-Q4_K_M.gguf.part"].why_not
        == "a download that has not finished"
    )
    assert "truncated or corrupt" in rows["old-org/Old-GGUF/cut.gguf"].why_not
    clip = rows["tiny-org/Tiny-Llama-GGUF/mmproj-tiny-f16.gguf"]
    assert clip.family == "clip" and clip.why_not.startswith("an image encoder (mmproj) for a vision model")
    tiny, mine, gone = rows["tiny:latest"], rows["someone/mine:v1"], rows["gone:7b"]
    assert (
        tiny.source == OLLAMA
        and tiny.opens
        and tiny.opens_as == "ollama:tiny:latest"
        and tiny.family == "Llama"
    )
    assert mine.opens and mine.opens_as == "ollama:someone/mine:v1"
    assert not gone.opens and gone.why_not == f"its model blob sha256-{'0' * 64} is missing"
    listed = {m.name: m for m in scan(read_gguf=False)}  # names first; the headers read before stay read
    assert listed["tiny:latest"].opens and listed["tiny:latest"].family == "Llama"


def test_an_ollama_name_opens_from_the_command_line_way_and_a_missing_blob_is_refused(
    qtbot, window, stores, wait_signal
):
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model("ollama:tiny:latest"))
    assert window.info.name == "tiny:latest" and window.info.n_head == 4
    before = window.info
    message, _ = wait_signal(window.client.worker.errored, lambda: window.open_model("ollama:gone:7b"))
    assert "Ollama model gone:7b: its model blob sha256-" in message and "is missing" in message
    assert window.info is before


def _click_row(qtbot, table, row: int) -> None:
    at = table.visualItemRect(table.item(row, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=at)


def test_the_browser_lists_every_store_adds_a_folder_and_opens_the_chosen_model(
    qtbot, window, stores, monkeypatch, wait_signal
):
    dialog = window.hub_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(
        lambda: dialog.table.rowCount() == 7 and "reading" not in dialog.where.text(), timeout=20_000
    )
    rows = {dialog.table.item(r, 0).text(): r for r in range(dialog.table.rowCount())}
    gone = rows["gone:7b"]
    assert [dialog.table.item(gone, c).text() for c in (1, 6)] == [
        "Ollama",
        f"no: its model blob sha256-{'0' * 64} is missing",
    ]
    _click_row(qtbot, dialog.table, gone)
    assert not dialog.open_button.isEnabled() and "missing" in dialog.open_button.toolTip()
    mine = tmp = stores / "my-models"
    _llama_gguf(mine / "nested" / "exported.gguf")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp))
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: dialog.table.rowCount() == 8 and "reading" not in dialog.where.text(), timeout=20_000
    )
    rows = {dialog.table.item(r, 0).text(): r for r in range(dialog.table.rowCount())}
    added = rows["nested/exported.gguf"]
    assert dialog.table.item(added, 1).text() == "Folder" and dialog.table.item(added, 6).text() == "yes"
    _click_row(qtbot, dialog.table, added)
    assert dialog.remove_button.isEnabled()
    _click_row(qtbot, dialog.table, rows["tiny:latest"])
    assert dialog.open_button.isEnabled() and not dialog.remove_button.isEnabled()
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == dialog.DialogCode.Accepted and dialog.chosen == "ollama:tiny:latest"
    wait_signal(window.client.worker.model_loaded, lambda: window.open_model(dialog.chosen))
    assert window.info.name == "tiny:latest"
    again = window.hub_dialog()  # the added folder is remembered
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.table.rowCount() == 8, timeout=20_000)
    row = next(r for r in range(8) if again.table.item(r, 0).text() == "nested/exported.gguf")
    _click_row(qtbot, again.table, row)
    qtbot.mouseClick(again.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.table.rowCount() == 7, timeout=20_000)


def test_file_open_a_gguf_opens_it_and_a_corrupt_one_leaves_the_model(
    qtbot, window, stores, monkeypatch, wait_signal
):
    good = next((stores / "home" / ".lmstudio").rglob("*F32.gguf"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(good), "GGUF model (*.gguf)"))
    wait_signal(window.client.worker.model_loaded, window.gguf_action.trigger)
    assert window.info.name == good.name and window.info.n_layer == 2
    before = window.info
    cut = next((stores / "home").rglob("cut.gguf"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(cut), "GGUF model (*.gguf)"))
    message, _ = wait_signal(window.client.worker.errored, window.gguf_action.trigger)
    assert f"{cut}: not a readable GGUF file: truncated or corrupt" in message and window.info is before
    assert window.gguf_action.isEnabled() and window.open_action.isEnabled()


def test_save_as_gguf_writes_a_file_that_opens_with_the_same_logits(qtbot, window, tmp_path, wait_signal):
    """The dialog: a name typed without .gguf gains it, Q8_0 chosen from the list, Save."""
    from PySide6.QtWidgets import QDialogButtonBox

    from playground.views.widgets.save_dialogs import GGUFSaveDialog

    dialog = GGUFSaveDialog(str(tmp_path / "suggested.gguf"))
    qtbot.addWidget(dialog)
    dialog.file.clear()
    qtbot.keyClicks(dialog.file, str(tmp_path / "built-in"))
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("F32"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == dialog.DialogCode.Accepted and dialog.path == str(tmp_path / "built-in.gguf")
    assert isinstance(dialog.save_button.parent(), QDialogButtonBox)
    (saved,) = wait_signal(
        window.client.worker.model_saved, lambda: window.save_gguf(dialog.path, dialog.kind)
    )
    assert saved == dialog.path and "Saved the model to" in window.message.text()
    ours, tok = window.client.worker.model, window.client.worker.tokenizer
    again, tok2 = models.load(dialog.path)
    text = "the cat sat"
    x = torch.tensor([list(tok.encode_for_decoder(text).ids)])
    assert list(tok2.encode_for_decoder(text).ids) == x[0].tolist()
    with torch.no_grad():
        torch.testing.assert_close(again(x).logits, ours(x).logits, atol=1e-5, rtol=0)
