"""Work on the pool thread ends its run however it ends: a result, or a failure said aloud."""

from playground.views.widgets.background import Background


def test_work_that_raises_ends_the_run_and_says_so_then_the_next_run_works(qtbot):
    background = Background("pooling the heads")
    results, failures = [], []
    background.failed.connect(lambda message, details: failures.append((message, details)))
    background.run(lambda: 1 / 0, results.append)
    assert background.busy
    qtbot.waitUntil(lambda: not background.busy, timeout=5_000)
    assert results == [] and len(failures) == 1
    message, details = failures[0]
    assert message.startswith("Something went wrong while pooling the heads: ZeroDivisionError")
    assert "1 / 0" in details  # the traceback, for the error dialog's details
    background.run(lambda: 42, results.append)
    qtbot.waitUntil(lambda: results == [42], timeout=5_000)
    assert not background.busy and len(failures) == 1
