"""Crash-safe checkpoints: killed mid-save, a folder is the old or the new one; modes follow the umask."""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import models
from models.hf.atomic import recover, write_file, write_folder

ROOT = Path(__file__).resolve().parents[2]

# Saves version 0, 1, 2, ... of a four-file folder forever; every file of version v holds v.
PLAIN_SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from models.hf.atomic import write_folder
    target = Path(sys.argv[1])
    v = int(sys.argv[2])
    print("ready", flush=True)
    while True:
        v += 1
        files = {f"part{i}.bin": (lambda p, v=v, i=i: p.write_bytes(bytes([v % 256]) * (200_000 * (i + 1))))
                 for i in range(4)}
        write_folder(target, files)
    """
)


def _versions(folder: Path) -> set[int]:
    """The version each file holds; a complete folder has all four files of one version."""
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"part{i}.bin" for i in range(4)], names
    found = set()
    for i in range(4):
        data = (folder / f"part{i}.bin").read_bytes()
        assert len(data) == 200_000 * (i + 1)
        assert data == bytes([data[0]]) * len(data)
        found.add(data[0])
    return found


def _kill_at_random(script: str, args: list[str], rng: random.Random, max_delay: float) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, max_delay))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_folder_killed_mid_save_is_old_or_new_complete(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    write_folder(
        target, {f"part{i}.bin": lambda p, i=i: p.write_bytes(b"\0" * (200_000 * (i + 1))) for i in range(4)}
    )
    rng = random.Random(0)
    for _ in range(25):
        _kill_at_random(PLAIN_SAVER, [str(target), "0"], rng, 0.25)
        recover(target)  # what the next save or load does first
        assert len(_versions(target)) == 1, "a mix of two versions"
    write_folder(target, {"part0.bin": lambda p: p.write_bytes(b"\1")})  # drops what the kills left
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ckpt"]
    assert leftovers == []


def test_opening_a_folder_leaves_a_save_in_progress_alone(tmp_path: Path) -> None:
    """Another process may be writing the next checkpoint beside the folder the app opens."""
    target = tmp_path / "ckpt"
    write_folder(target, {"a.txt": lambda p: p.write_text("old")})
    in_progress = tmp_path / ".ckpt.0123abcd.new"
    in_progress.mkdir()
    recover(target)
    assert in_progress.is_dir()


SAVER = textwrap.dedent(
    """
    import sys, torch, models
    from models.training.trainer import Trainer
    target = sys.argv[1]
    tok = models.Tokenizer.train(["abcdefgh " * 20], "char")
    cfg = models.GPTConfig(vocab_size=tok.vocab_size, n_positions=32, n_embd=64, n_layer=2, n_head=2)
    model = models.GPT(cfg)
    print("ready", flush=True)
    v = 0
    while True:
        v += 1
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(v)
        state = {"version": torch.tensor(v)}
        models.save(model, tok, target, extra_files={"training_state.pt": lambda p: torch.save(state, p)})
    """
)


@pytest.mark.slow
def test_checkpoint_killed_mid_save_matches_its_training_state(tmp_path: Path) -> None:
    import torch

    target = tmp_path / "run"
    rng = random.Random(1)
    for _ in range(4):
        _kill_at_random(SAVER, [str(target)], rng, 1.5)
        if not target.exists():
            continue  # killed before the first save finished: nothing half-written either
        model, _ = models.load(target)
        weights = {float(p.detach().flatten()[0]) for p in model.parameters()}
        state = torch.load(target / "training_state.pt", weights_only=True)
        assert weights == {float(state["version"])}, "weights and training state from different saves"
    assert target.exists(), "no save ever completed"


def test_files_and_folders_follow_the_umask(tmp_path: Path) -> None:
    """safetensors writes its files 0600 and mkstemp did too: a checkpoint gets the user's modes."""
    model, tok = _big_gpt()
    old = os.umask(0o027)
    try:
        folder = models.save(model, tok, tmp_path / "ckpt")
        write_file(tmp_path / "export.csv", lambda p: p.write_text("x"))
    finally:
        os.umask(old)
    assert (folder.stat().st_mode & 0o777) == 0o750
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        assert ((folder / name).stat().st_mode & 0o777) == 0o640, name
    assert ((tmp_path / "export.csv").stat().st_mode & 0o777) == 0o640


def test_saving_into_a_folder_keeps_the_users_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    (folder / "training_state.pt").write_text("stale")
    write_folder(folder, {"config.json": lambda p: p.write_text("{}")}, replaces=["training_state.pt"])
    assert (folder / "notes.txt").read_text() == "keep me"
    assert not (folder / "training_state.pt").exists()
    assert (folder / "config.json").read_text() == "{}"


@contextmanager
def file_size_limit():
    """Writes past 64 KiB fail with EFBIG, as on a full disk: the libraries raise their real errors."""
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def _big_gpt():
    tok = models.Tokenizer.train(["abcdefgh " * 20], "char")
    return models.GPT(
        models.GPTConfig(vocab_size=tok.vocab_size, n_positions=64, n_embd=64, n_layer=2, n_head=2)
    ), tok


def test_safetensors_failure_is_a_model_error_and_keeps_the_old_checkpoint(tmp_path: Path) -> None:
    model, tok = _big_gpt()
    folder = models.save(model, tok, tmp_path / "ckpt")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(models.ModelError, match="could not write") as info, file_size_limit():
        models.save(model, tok, folder)
    assert type(info.value.__cause__).__name__ == "SafetensorError"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_torch_save_failure_is_a_model_error(tmp_path: Path) -> None:
    import torch

    big = {"x": torch.zeros(100_000)}
    with pytest.raises(models.ModelError, match="could not write") as info, file_size_limit():
        write_folder(tmp_path / "ckpt", {"training_state.pt": lambda p: torch.save(big, p)})
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not (tmp_path / "ckpt").exists()


def test_saving_through_a_link_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write_folder(real, {"a.txt": lambda p: p.write_text("old")})
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    write_folder(link, {"a.txt": lambda p: p.write_text("new")})
    assert link.is_symlink() and (link / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_a_folders_fingerprint_names_its_weights_whatever_precision_opens_them(tmp_path):
    """Read from the files in milliseconds (not every weight hashed at each load): the same files
    give the same fingerprint, other weights another, and a folder without weights none."""
    import torch

    import models
    from models.nn import GPT, GPTConfig
    from tests.models.helpers import char_tokenizer

    tok = char_tokenizer()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, n_embd=32, n_layer=2, n_head=2))
    models.save(model, tok, tmp_path / "a")
    models.save(model, tok, tmp_path / "b")
    with torch.no_grad():
        model.transformer.h[1].mlp.c_fc.weight.mul_(1.01)  # a retrained model: its weights all move
    models.save(model, tok, tmp_path / "c")
    a, b, c = (models.fingerprint_files(tmp_path / n) for n in "abc")
    assert len(a) == 16 and a == b != c
    assert models.fingerprint_files(tmp_path) == ""
