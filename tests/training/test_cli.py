"""`playground train`: writes folders that models.load and transformers open; DDP with 2 processes."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import models
from playground.cli.train import main

TINY = [
    "--layers",
    "1",
    "--heads",
    "2",
    "--width",
    "32",
    "--context",
    "16",
    "--batch-size",
    "4",
    "--eval-every",
    "5",
    "--eval-batches",
    "2",
    "--sample-every",
    "0",
    "--quiet",
]
ROOT = Path(__file__).resolve().parents[2]


def train(corpus: Path | str, out: Path, *args: str) -> int:
    """Run `playground train` on `corpus` into `out` with the tiny settings; its exit code."""
    return main(["--corpus", str(corpus), "--out", str(out), *args, *TINY])


def test_gpt_folder_opens_in_models_and_transformers(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "gpt"
    assert train(small_corpus, out, "--steps", "10", "--tokenizer", "bpe", "--vocab-size", "300") == 0
    ours, tok = models.load(out)
    from transformers import GPT2LMHeadModel

    theirs = GPT2LMHeadModel.from_pretrained(out).eval()
    ids = torch.tensor(tok.encode("To be, or not to be").ids[None])
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, theirs(ids).logits, rtol=1e-4, atol=1e-4)
    state = torch.load(out / "training_state.pt", weights_only=True)
    assert state["step"] == 10 and len(state["losses"]) == 10


def test_bert_folder_opens_in_transformers(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "bert"
    args = ("--arch", "bert", "--steps", "6", "--vocab-size", "300", "--no-training-state")
    assert train(small_corpus, out, *args) == 0
    assert not (out / "training_state.pt").exists()
    ours, tok = models.load(out)
    from transformers import BertForMaskedLM

    theirs = BertForMaskedLM.from_pretrained(out).eval()
    ids = torch.tensor(tok.encode("good morrow, [MASK] friend").ids[None])
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, theirs(ids).logits, rtol=1e-4, atol=1e-4)


def test_resume_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "task"
    assert train("copy", out, "--steps", "4") == 0
    assert main(["--resume", str(out), "--steps", "8", "--quiet"]) == 0
    state = torch.load(out / "training_state.pt", weights_only=True)
    assert state["step"] == 8 and state["corpus"]["name"] == "task:copy"


def test_bad_input_gives_a_message_and_exit_code(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["--corpus", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert f"error: {empty}: the file is empty" in capsys.readouterr().err
    assert main(["--corpus", "copy", "--out", str(tmp_path / "o"), "--heads", "3"]) == 2
    assert "heads (3) must divide the width" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        "-m",
        "playground.cli",
        "train",
        "--corpus",
        str(small_corpus),
        "--out",
        str(out),
        "--steps",
        "6",
        "--device",
        "cpu",
        *[a for a in TINY if a != "--quiet"],
    ]
    # own session, so a hang kills torchrun's workers too, not only torchrun
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "x2 processes" in done.stderr + done.stdout  # rank 0 saw a world of two
    model, _ = models.load(out)
    state = torch.load(out / "training_state.pt", weights_only=True)
    assert state["step"] == 6
    assert json.loads((out / "config.json").read_text())["model_type"] == "gpt2"


def test_the_builtin_shakespeare_corpus_and_a_warning_for_a_wild_learning_rate(
    tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    assert train("shakespeare", out, "--steps", "3", "--warmup", "1", "--lr", "0.5") in (0, 1)
    assert "warning: learning rate 0.5 is far above" in capsys.readouterr().err
    state = torch.load(out / "training_state.pt", weights_only=True)
    assert state["corpus"]["name"] == "shakespeare"


def test_induction_heads_are_measured_and_their_forming_said(tmp_path: Path, capsys, monkeypatch) -> None:
    """--induction-heads (or the induction preset) prints each validation's scores and, once, the step
    the best head passed the threshold; --repeat-share reaches the run's settings."""
    from playground.cli import train as cli_train

    monkeypatch.setattr(cli_train, "INDUCTION_THRESHOLD", 0.0)  # (a tiny run: formed at once)
    args = ["--corpus", "shakespeare", "--out", str(tmp_path / "run"), "--layers", "2", "--heads", "2",
            "--width", "32", "--context", "32", "--batch-size", "4", "--steps", "20", "--warmup", "2",
            "--eval-every", "10", "--eval-batches", "2", "--sample-every", "0", "--probe-every", "0",
            "--induction-heads", "--repeat-share", "0.25"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("  induction: best ") == 2 and "with those heads out" in out
    assert out.count("induction heads formed at step 10") == 1
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["induction_heads"] is True and saved["repeat_share"] == 0.25
    assert main([*args, "--layers", "1"]) == 2  # (the last --layers counts)
    assert "2 layers or more" in capsys.readouterr().err
