"""Scaling-law sweeps: the fit recovers a law it is given, the frontier is the curves' lower envelope,
shapes land near their sizes, bad sweeps are refused, and a small sweep headless writes its CSVs."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import models
from models.training.scaling import (
    SweepRun,
    check_memory,
    fit_power_law,
    frontier,
    non_embedding,
    run_configs,
    shape_for,
)


def test_the_fit_recovers_a_power_law_with_a_floor_from_noisy_points():
    rng = np.random.default_rng(0)
    n = np.geomspace(1e4, 5e6, 7)
    loss = 1.2 + 9.0 * n**-0.25 + rng.normal(0, 0.003, n.size)
    law = fit_power_law(n, loss)
    assert abs(law.alpha - 0.25) < 0.03 and abs(law.E - 1.2) < 0.05 and law.r2 > 0.999
    grid, low, high = law.band
    assert (low <= law(grid) + 1e-3).all() and (law(grid) <= high + 1e-3).all() and law.alpha_std < 0.05
    flat = fit_power_law(n, 2.0 + rng.normal(0, 0.05, n.size))  # no law: the fit says so
    assert flat.r2 < 0.9


def test_the_frontier_is_the_lower_envelope_of_loss_against_compute():
    small = SweepRun(1, 32, 1_000, curve=[(1_000, 3.0), (2_000, 2.6), (4_000, 2.4)])
    large = SweepRun(2, 64, 10_000, curve=[(1_000, 2.8), (2_000, 2.2), (4_000, 1.9)])
    compute, best = frontier([small, large])
    assert (np.diff(best) < 0).all() and (np.diff(compute) > 0).all()
    every = sorted((6.0 * r.params * t, v) for r in (small, large) for t, v in r.curve)
    for c, b in zip(compute, best, strict=True):  # each point: the best of every run at that compute or less
        assert b == min(v for cc, v in every if cc <= c)
    assert best[-1] == 1.9 and compute[0] == 6.0 * 1_000 * 1_000  # the small model leads at the least compute


def test_shapes_land_near_their_sizes_and_bad_sweeps_are_refused():
    for target in (12_000, 60_000, 200_000, 1_500_000, 6_000_000):
        layers, width, heads = shape_for(target)
        assert 0.5 < non_embedding(layers, width) / target < 2.0 and width % heads == 0
    configs = run_configs([20_000, 200_000, 2_000_000], 1_000_000)
    assert [c.n_layer for c in configs] == sorted(c.n_layer for c in configs)
    assert len({c.steps for c in configs}) == 1 and configs[0].lr > configs[-1].lr  # small models: higher
    with pytest.raises(models.ModelError, match="too few to fit anything"):
        run_configs([20_000, 200_000, 2_000_000], 10_000)
    with pytest.raises(models.ModelError, match="3 to 12 sizes"):
        run_configs([20_000, 200_000], 1_000_000)
    with pytest.raises(models.ModelError, match="nearest the same shape"):
        run_configs([20_000, 21_000, 200_000], 1_000_000)
    with pytest.raises(models.ModelError, match="needs about .* GiB to train, and 0.1 GiB is free"):
        check_memory(run_configs([20_000, 200_000, 15_000_000], 1_000_000), 65, 2**30 // 10)


def test_a_small_sweep_headless_writes_every_run_and_its_csvs(tmp_path, capsys, monkeypatch):
    """... and tunes its threads on every step, afresh for each size (its own pace, not the last one's)."""
    from playground import threads
    from playground.cli import main

    tuners = []

    class Recording(threads.ThreadTuner):
        def __init__(self, team):
            super().__init__(team)
            self.recorded, self.forgotten = 0, 0
            tuners.append(self)

        def record(self, items, seconds):
            self.recorded += items
            return super().record(items, seconds)

        def restart(self, forget=False):
            self.forgotten += forget
            super().restart(forget)

    monkeypatch.setattr(threads, "ThreadTuner", Recording)
    assert main(["sweep", "--sizes", "5k,20k,60k", "--tokens", "25k", "--out", str(tmp_path)]) == 0
    if threads.choose()[1] == "automatic":  # (OMP_NUM_THREADS set by the user: no tuner)
        (tuner,) = tuners
        assert tuner.forgotten == 3 and tuner.recorded >= 3 * 10
    out = capsys.readouterr().out
    assert "fit: L(N) = " in out and "Kaplan" in out
    with open(tmp_path / "sweep.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and [int(r["params"]) for r in rows] == sorted(int(r["params"]) for r in rows)
    for r in rows:
        assert (tmp_path / r["folder"].split("/")[-1] / "config.json").is_file()
        assert float(r["val_loss"]) < 4.2  # below a uniform guess over Shakespeare's 65 characters
    assert main(["sweep", "--sizes", "5k", "--tokens", "25k", "--out", str(tmp_path / "x")]) == 2
    assert "3 to 12 sizes" in capsys.readouterr().err
