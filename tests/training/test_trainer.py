"""The trainer: loss falls, seeds reproduce, resume continues the same curve, faults stop cleanly."""

import math
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from models.errors import ModelError
from models.hf.checkpoint import load
from models.text.tokenizer import Tokenizer
from models.training.batches import Masker
from models.training.optimizer import lr_factor
from models.training.run_state import STATE_FILE
from models.training.settings import PRESETS, TrainConfig, preset
from models.training.trainer import Trainer


def _run(trainer: Trainer) -> list:
    return list(trainer)


def test_loss_falls_and_reports_are_complete(tiny: TrainConfig, small_corpus: Path) -> None:
    cfg = tiny.replace(steps=60, sample_every=30, probe_every=30)
    reports = _run(Trainer(cfg, small_corpus))
    losses = [r.loss for r in reports]
    assert len(reports) == 60 and [r.step for r in reports] == list(range(1, 61))
    assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 0.5
    assert all(r.elapsed_s > 0 for r in reports)
    assert reports[0].tokens_per_s == 0 and all(r.tokens_per_s > 0 for r in reports[1:])  # warm-up
    vals = [r.val_loss for r in reports if r.val_loss is not None]
    assert len(vals) == 6 and vals[-1] < vals[0]
    samples = [r for r in reports if r.sample]
    assert [r.step for r in samples] == [30, 60] and len(samples[-1].sample) > 20
    probes = [r.probe for r in reports if r.probe is not None]
    assert len(probes) == 2
    T = len(probes[0].tokens)
    assert probes[0].attentions.shape == (1, 2, T, T)
    assert reports[-1].status == "finished" and reports[-1].eta_s == 0


def test_schedule_warms_up_then_decays_to_min_lr(tiny: TrainConfig) -> None:
    cfg = tiny.replace(steps=100, warmup_steps=10)
    factors = [lr_factor(s, cfg) for s in range(101)]
    assert factors[0] < factors[5] < factors[9] <= 1.0
    assert factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))
    assert factors[100] == pytest.approx(cfg.min_lr / cfg.lr)


def test_weight_decay_only_on_matrices(tiny: TrainConfig, small_corpus: Path) -> None:
    trainer = Trainer(tiny, small_corpus)
    decay, no_decay = trainer.optimizer.param_groups
    assert decay["weight_decay"] == tiny.weight_decay and no_decay["weight_decay"] == 0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    n = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert n == sum(p.numel() for p in trainer.model.parameters())


def test_same_seed_same_losses(tiny: TrainConfig, small_corpus: Path) -> None:
    cfg = tiny.replace(steps=15, dropout=0.1)
    a = [r.loss for r in Trainer(cfg, small_corpus)]
    b = [r.loss for r in Trainer(cfg, small_corpus)]
    c = [r.loss for r in Trainer(cfg.replace(seed=1), small_corpus)]
    assert a == b
    assert a != c


def test_runs_draw_from_their_own_random_state_not_torchs_global_one(
    tiny: TrainConfig, small_corpus: Path
) -> None:
    """Two runs with dropout advanced in turn (as the app runs a fine-tune and its from-scratch twin,
    or probes between steps) each give the curve they give alone, and leave the global generator
    as they found it."""
    cfg = tiny.replace(steps=12, dropout=0.2, eval_every=0)
    alone_a = [r.loss for r in Trainer(cfg, small_corpus)]
    alone_b = [r.loss for r in Trainer(cfg.replace(seed=7), small_corpus)]
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    a, b = Trainer(cfg, small_corpus), Trainer(cfg.replace(seed=7), small_corpus)
    both_a, both_b = [], []
    for _ in range(cfg.steps):
        both_a.append(a.advance().loss)
        torch.rand(1000)  # someone else drawing between the steps changes nothing
        both_b.append(b.advance().loss)
    assert both_a == alone_a and both_b == alone_b and alone_a != alone_b
    torch.manual_seed(123)
    Trainer(cfg, small_corpus).advance()
    assert torch.equal(torch.rand(3), expected_draw)


def test_resume_continues_the_same_curve(tiny: TrainConfig, small_corpus: Path, tmp_path: Path) -> None:
    cfg = tiny.replace(steps=20, dropout=0.1, eval_every=5)
    whole = Trainer(cfg, small_corpus)
    full = [r.loss for r in whole]

    first = Trainer(cfg, small_corpus, tmp_path / "run")
    reports = []
    for r in first:
        reports.append(r)
        if r.step == 8:
            first.stop()
    assert reports[-1].status == "stopped" and reports[-1].checkpoint == str(tmp_path / "run")
    assert (tmp_path / "run" / STATE_FILE).is_file()

    second = Trainer.from_checkpoint(tmp_path / "run", corpus=small_corpus)
    assert second.step == 8
    rest = [r.loss for r in second]
    assert len(rest) == 12
    np.testing.assert_allclose([r.loss for r in reports[:8]] + rest, full, rtol=1e-5)
    np.testing.assert_allclose([v for _, v in second.val_losses], [v for _, v in whole.val_losses], rtol=1e-5)


def test_nan_stops_and_keeps_last_good_checkpoint(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    cfg = tiny.replace(lr=1e3, min_lr=0.0, warmup_steps=0, grad_clip=0.0, checkpoint_every=1, eval_every=0)
    trainer = Trainer(cfg, small_corpus, tmp_path / "run")
    reports = _run(trainer)
    last = reports[-1]
    assert last.status == "failed" and last.step < cfg.steps
    assert "the loss became nan" in last.events[0] or "became inf" in last.events[0]
    assert "last good checkpoint is kept" in last.events[0]
    model, _ = load(tmp_path / "run")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    saved = torch.load(tmp_path / "run" / STATE_FILE, weights_only=True)
    assert 1 <= saved["step"] < last.step
    with pytest.raises(ModelError, match="the run is failed"):
        trainer.advance()


def test_stop_from_another_thread_ends_the_run_with_a_checkpoint(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    """What Ctrl+C does to `playground train`: the step in progress ends, a checkpoint is written."""
    trainer = Trainer(tiny.replace(steps=100_000, warmup_steps=0), small_corpus, tmp_path / "run")
    reports: list = []
    worker = threading.Thread(target=lambda: reports.extend(trainer))
    worker.start()
    try:
        while trainer.step < 5:
            threading.Event().wait(0.01)
    finally:
        trainer.stop()
        worker.join(10)
    assert not worker.is_alive()
    assert reports[-1].status == "stopped" and 5 <= reports[-1].step < 100_000
    assert all(r.status == "running" for r in reports[:-1])
    assert (tmp_path / "run" / STATE_FILE).is_file()


def test_unwritable_output_folder(tiny: TrainConfig, small_corpus: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ModelError, match="output folder cannot be written") as info:
        Trainer(tiny, small_corpus, blocker / "out")
    assert str(blocker / "out") in str(info.value)


def test_too_small_corpus(tiny: TrainConfig, tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("hello world, " * 5)
    with pytest.raises(ModelError, match=f"{path}: the corpus is too small"):
        Trainer(tiny, path)


def test_final_folder_without_state_cannot_resume(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    _run(
        Trainer(
            tiny.replace(steps=4, warmup_steps=0, keep_training_state=False, checkpoint_every=2),
            small_corpus,
            tmp_path / "run",
        )
    )
    assert not (tmp_path / "run" / STATE_FILE).exists()
    load(tmp_path / "run")  # still opens
    with pytest.raises(ModelError, match="cannot be resumed"):
        Trainer.from_checkpoint(tmp_path / "run")


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_training_state_pickle_with_code_is_refused(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    _run(Trainer(tiny.replace(steps=2, warmup_steps=0), small_corpus, tmp_path / "run"))
    (tmp_path / "run" / STATE_FILE).write_bytes(pickle.dumps({"format": 1, "x": _Evil()}, protocol=2))
    with pytest.raises(ModelError, match="refused or corrupt training state"):
        Trainer.from_checkpoint(tmp_path / "run", corpus=small_corpus)


def test_bert_masking_is_80_10_10(shakespeare: str) -> None:
    tok = Tokenizer.train([shakespeare[:50_000]], "wordpiece", 500)
    masker = Masker(tok, tok.vocab_size, 0.15)
    data = torch.randint(masker.low, tok.vocab_size, (5000,))
    x, y = masker.batch(data, 256, 64, torch.Generator().manual_seed(0))
    assert (x[:, 0] == masker.cls).all() and (x[:, -1] == masker.sep).all()
    chosen = y != -100
    frac = chosen[:, 1:-1].float().mean().item()
    assert 0.14 < frac < 0.17
    n = chosen.sum().item()
    masked = ((x == masker.mask) & chosen).sum().item() / n
    kept = ((x == y) & chosen).sum().item() / n
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1) < 0.02
    assert abs(1 - masked - kept - 0.1) < 0.02  # the rest became random tokens


def test_bert_trains_and_samples_fill_mask(tiny: TrainConfig, small_corpus: Path) -> None:
    cfg = tiny.replace(
        arch="bert", tokenizer="wordpiece", vocab_size=300, steps=40, sample_every=40, probe_every=40, lr=5e-3
    )
    reports = _run(Trainer(cfg, small_corpus))
    losses = [r.loss for r in reports]
    assert math.isfinite(losses[-1]) and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.3
    assert "→" in reports[-1].sample and "[MASK]" in reports[-1].sample
    assert reports[-1].probe is not None and reports[-1].probe.capabilities.masked_lm


def test_task_corpus_trains(tiny: TrainConfig) -> None:
    reports = _run(Trainer(tiny.replace(steps=40, sample_every=40), "task:reverse"))
    assert reports[-1].sample.startswith(Trainer(tiny, "reverse").objective.sample_prompt)
    assert np.mean([r.loss for r in reports[-5:]]) < np.mean([r.loss for r in reports[:5]])


def test_out_of_memory_stops_with_advice(
    tiny: TrainConfig, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = Trainer(tiny, small_corpus)
    reports = [trainer.advance(), trainer.advance()]

    def oom(*_args, **_kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(trainer.objective, "loss", oom)
    last = trainer.advance()
    assert last.status == "failed" and "try a smaller batch size or context" in last.events[0]
    assert trainer.step == 2 and all(r.status == "running" for r in reports)


def test_an_exploding_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    """lr 10 keeps the loss finite but far above where it started: no NaN guard would fire."""
    cfg = tiny.replace(steps=200, lr=10.0, min_lr=1.0, warmup_steps=0, checkpoint_every=1, eval_every=0)
    assert any("learning rate 10" in w for w in cfg.warnings())
    trainer = Trainer(cfg, small_corpus, tmp_path / "run")
    reports = _run(trainer)
    last = reports[-1]
    assert last.status == "failed" and last.step < 50, [r.loss for r in reports]
    assert "exploded" in last.events[0] and "last good checkpoint is kept" in last.events[0]
    saved = torch.load(tmp_path / "run" / STATE_FILE, weights_only=True)
    first = saved["losses"][0]
    assert 1 <= saved["step"] < last.step
    assert saved["losses"][-1] <= max(2 * first, first + 3)  # saved before the loss ran away


def test_sane_settings_have_no_warnings() -> None:
    for name in PRESETS:
        assert preset(name).warnings() == [], name


def test_resume_reads_nothing_outside_the_checkpoint(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    """The corpus file is gone after the stop: the run continues from the copy in its folder."""
    cfg = tiny.replace(steps=12, checkpoint_every=3, eval_every=0)
    full = [r.loss for r in Trainer(cfg, small_corpus)]
    first = Trainer(cfg, small_corpus, tmp_path / "run")
    losses, inode = [], None
    for r in first:
        losses.append(r.loss)
        if r.step == 3:
            inode = (tmp_path / "run" / "corpus.txt").stat().st_ino
        if r.step == 7:
            first.stop()
    stored = tmp_path / "run" / "corpus.txt"
    assert stored.read_text(encoding="utf-8") == small_corpus.read_text(encoding="utf-8")
    assert stored.stat().st_ino == inode  # written once, carried over by later checkpoints
    small_corpus.unlink()
    second = Trainer.from_checkpoint(tmp_path / "run")
    assert second.corpus.name == str(small_corpus)
    np.testing.assert_allclose(losses[:7] + [r.loss for r in second], full, rtol=1e-5)


def test_the_builtin_corpus_resumes_by_name(tiny: TrainConfig, tmp_path: Path) -> None:
    cfg = tiny.replace(steps=3, warmup_steps=1, eval_every=0)
    trainer = Trainer(cfg, "shakespeare", tmp_path / "run")
    _run(trainer)
    assert not (tmp_path / "run" / "corpus.txt").exists()  # the app ships it: nothing to copy
    again = Trainer.from_checkpoint(tmp_path / "run", steps=4)
    assert again.corpus.name == "shakespeare" and "ROMEO" in again.corpus.text


def test_rates_and_eta_follow_the_wall_clock_and_skip_pauses(tiny: TrainConfig, small_corpus: Path) -> None:
    """A caller that works between steps (a GUI) slows the run: tokens/s and the ETA say so.
    A long wait between two steps is a pause and does not count."""
    import time

    cfg = tiny.replace(steps=100, eval_every=0, sample_every=0, probe_every=0)
    trainer = Trainer(cfg, small_corpus)
    n, wait = 50, 0.03
    for _ in range(n):
        busy = trainer.advance()
        time.sleep(wait)
    tokens = cfg.batch_size * cfg.context
    # the first step has no wait before it; after 50 the average has forgotten it
    assert busy.tokens_per_s < tokens / wait
    assert busy.eta_s >= (cfg.steps - busy.step) * wait * (n - 1) / n
    time.sleep(1.5)  # paused
    after = trainer.advance()
    assert after.tokens_per_s > 0.5 * busy.tokens_per_s
    assert after.eta_s < 2 * busy.eta_s


def test_a_resume_keeps_the_history_of_learning_rates_and_head_scores(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    """Stopped at step 8 and resumed with more steps (a new schedule), the curves of the first 8
    steps are the ones that ran, also for a checkpoint written before the history was kept."""
    cfg = tiny.replace(steps=20, probe_every=4)
    first = Trainer(cfg, small_corpus, tmp_path / "run")
    for r in first:
        if r.step == 8:
            first.stop()
    ran_lrs, ran_scores = list(first.lrs), [s for s, _ in first.head_score_history]
    assert len(ran_lrs) == 8 and ran_scores == [4, 8]
    resumed = Trainer.from_checkpoint(tmp_path / "run", corpus=small_corpus, steps=40)
    assert resumed.lrs == pytest.approx(ran_lrs) and [s for s, _ in resumed.head_score_history] == [4, 8]
    state = torch.load(tmp_path / "run" / STATE_FILE, weights_only=True)
    del state["lrs"], state["head_scores"]  # as an older checkpoint has it
    torch.save(state, tmp_path / "run" / STATE_FILE)
    older = Trainer.from_checkpoint(tmp_path / "run", corpus=small_corpus, steps=40)
    assert older.lrs == pytest.approx(ran_lrs) and older.head_score_history == []


def test_an_ended_run_frees_its_optimizer_and_a_later_save_copies_its_last_checkpoint(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    """The app keeps a finished run's model to prompt and inspect, not its optimizer's moments
    (twice the model); "Save as…" then writes the run's last checkpoint, which resumes."""
    trainer = Trainer(tiny.replace(steps=6), small_corpus, tmp_path / "run")
    list(trainer)
    assert trainer.optimizer.state
    trainer.release()
    assert not trainer.optimizer.state
    trainer.save(tmp_path / "copy")
    saved = torch.load(tmp_path / "copy" / STATE_FILE, weights_only=True)
    assert saved["step"] == 6 and saved["optimizer"]["state"]  # the whole state, from the checkpoint
    again = Trainer.from_checkpoint(tmp_path / "copy", steps=8)
    assert [r.step for r in again] == [7, 8]
    orphan = Trainer(tiny.replace(steps=2, warmup_steps=0), small_corpus)  # no folder: nothing to copy
    list(orphan)
    orphan.release()
    orphan.save(tmp_path / "model only")  # the model, without a state to resume
    assert (tmp_path / "model only" / "model.safetensors").is_file()
    assert not (tmp_path / "model only" / STATE_FILE).exists()


def test_an_ended_runs_save_writes_the_model_as_it_is_when_its_last_checkpoint_is_older(
    tiny: TrainConfig, small_corpus: Path, tmp_path: Path
) -> None:
    """A run whose final checkpoint could not be written (a full disk) keeps a model newer than
    its last checkpoint: "Save as…" writes that model, not the older folder."""
    trainer = Trainer(tiny.replace(steps=6, checkpoint_every=2), small_corpus, tmp_path / "run")
    for _ in range(5):
        trainer.advance()  # checkpoints at steps 2 and 4; step 5 is newer
    trainer.release()
    trainer.save(tmp_path / "now")
    model, _ = load(tmp_path / "now")
    for a, b in zip(model.state_dict().values(), trainer.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    assert not (tmp_path / "now" / STATE_FILE).exists()  # no optimizer state to keep
