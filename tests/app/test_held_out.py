"""A held-out accuracy says how much it means (issue 24.16): its interval, and a warning on a tiny set."""

from __future__ import annotations

import random

import pytest

from playground.views.finetune.held_out import interval


@pytest.mark.parametrize(
    ("correct", "n", "low", "high"), [(6, 8, 0.409, 0.929), (0, 10, 0.0, 0.278), (50, 50, 0.929, 1.0)]
)
def test_the_interval_is_wilsons(correct, n, low, high):
    """Against the Wilson score interval's published values (e.g. 6 of 8: 40.9%–92.9%)."""
    got = interval(correct, n)
    assert got == pytest.approx((low, high), abs=0.002)


def test_a_tiny_labelled_file_is_warned_about_and_its_accuracy_has_an_interval(qtbot, bert_window, tmp_path):
    from tests.app.test_finetune_view import _click, _idle, _set

    rng = random.Random(1)
    rows = ["text,label"] + [
        f"{' '.join(rng.sample('the sat on a and mat dog'.split(), 4))} {word},{label}"
        for word, label in [("cat", "animal"), ("log", "thing")] * 20
    ]  # 40 rows: 8 held out
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    view = bert_window.finetune_view
    _set(view, str(path), steps=4)
    _click(qtbot, view.start_button)
    _idle(qtbot, view)
    qtbot.waitUntil(lambda: "held out right" in view.confusion.titleLabel.text, timeout=10_000)
    title = view.confusion.titleLabel.text
    n = len(view.pending_scores.texts)
    assert n < 20 and f"of {n} held out right (95%: " in title
    assert view.small_held_out.isVisible() and f"Only {n} examples are held out" in view.small_held_out.text()
