"""Bad checkpoint folders give one clear exception type that names the problem; nothing half-loads."""

import json
import pickle

import pytest
import torch

import models
from models.nn import GPTConfig
from models.nn.gpt import GPT
from tests.models.helpers import char_tokenizer


@pytest.fixture
def folder(tmp_path):
    tok = char_tokenizer()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_positions=32, n_embd=32, n_layer=2, n_head=4))
    return models.save(model, tok, tmp_path / "ckpt")


def test_saved_folder_loads(folder):
    model, tok = models.load(folder)
    assert model.config.n_layer == 2 and tok.kind == "char"


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json"])
def test_missing_file_is_named(folder, name):
    (folder / name).unlink()
    with pytest.raises(
        models.ModelError, match=name.split(".")[0] if name != "tokenizer.json" else "no tokenizer"
    ):
        models.load(folder)


def test_not_a_folder(tmp_path):
    with pytest.raises(models.ModelError, match="no such folder. A model folder holds config.json"):
        models.load(tmp_path / "nope")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:-100], "corrupt or truncated"),
        (lambda data: b"\x00" * 64, "model.safetensors"),
    ],
    ids=["truncated", "garbage"],
)
def test_damaged_safetensors(folder, damage, message):
    path = folder / "model.safetensors"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(models.ModelError, match=message):
        models.load(folder)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_embd": 64}, r"tensor 'transformer\.wte\.weight' has shape"),
        ({"n_layer": 3}, r"missing tensor 'transformer\.h\.2\."),
        ({"n_head": 5}, "heads .5. must divide the width .32."),
        ({"model_type": "t5"}, r"model_type 't5' is not supported \(supported: 'gpt2', 'bert', 'llama', "),
    ],
    ids=["shape-mismatch", "missing-tensor", "invalid-heads", "unsupported-type"],
)
def test_config_that_does_not_match_the_weights_is_named(folder, change, message):
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(cfg | change))
    with pytest.raises(models.ModelError, match=message):
        models.load(folder)


class _Exploit:
    """Unpickling this would run code (it would create a file)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickle_that_needs_code_is_refused_and_not_run(folder, tmp_path):
    marker = tmp_path / "was-executed"
    (folder / "model.safetensors").unlink()
    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump({"weights": _Exploit(str(marker))}, f)
    with pytest.raises(models.ModelError, match="refused"):
        models.load(folder)
    assert not marker.exists()


def test_tokenizer_larger_than_model_vocab(folder):
    cfg = json.loads((folder / "config.json").read_text())
    small = cfg["vocab_size"] - 1
    from safetensors.torch import load_file, save_file

    w = load_file(folder / "model.safetensors")
    w["transformer.wte.weight"] = w["transformer.wte.weight"][:small].contiguous()
    save_file(w, folder / "model.safetensors")
    cfg["vocab_size"] = small
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(models.ModelError, match="tokenizer has .* tokens but the model only"):
        models.load(folder)


def test_unwritable_destination(tmp_path, folder):
    model, tok = models.load(folder)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(models.ModelError, match="cannot create the folder"):
        models.save(model, tok, blocker / "sub")


def test_failed_save_keeps_the_previous_files(folder, monkeypatch):
    model, tok = models.load(folder)
    before = (folder / "model.safetensors").read_bytes()

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("models.hf.checkpoint.save_file", broken)
    with pytest.raises(models.ModelError, match="No space left"):
        models.save(model, tok, folder)
    assert (folder / "model.safetensors").read_bytes() == before
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
