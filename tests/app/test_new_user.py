"""What a new user tripped on across the tabs (issue 24): each driven through the real widgets."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QFormLayout, QLabel, QSizePolicy

import models

LONG = "a message far longer than any window is wide, " * 30


def _captions(window) -> list[QLabel]:
    """The labels that name a control (form rows, fixed captions): their text never changes.
    (The wrappers are kept alive: Qt then hands back the same ones.)"""
    ids = []
    for form in window.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and item.widget() is not None:
                ids.append(item.widget())
    for view in window.views.values():
        for label in view.findChildren(QLabel):
            if label.text() in STATIC_CAPTIONS or label.textFormat().name == "RichText":
                ids.append(label)
    return ids


STATIC_CAPTIONS = {
    "Prompt",
    "A",
    "B",
    "d_model",
    "positions",
    "layout",
    "Text",
    "Corrupted",
    "Answer",
    "Scored on",
    "Show",
    "timeline",
}


MAX_LEAST_WIDTH = 400  # px: a message label may ask for this much width and no more


def _least_width(label: QLabel) -> int:
    """The width a layout must give `label` (as Qt's layouts reckon it from its size policy)."""
    if label.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored:
        return label.minimumWidth()
    return max(label.minimumWidth(), label.minimumSizeHint().width())


def test_no_message_widens_the_window(qtbot, window):
    """Every label that shows a message, on every tab and in the status bar, elides or wraps a
    long text instead of widening the window (which then reopened wider next launch)."""
    captions = _captions(window)
    widened = []
    for index in range(window.tabs.count()):
        if not window.tabs.isTabEnabled(index):
            continue
        window.tabs.setCurrentIndex(index)
        window.resize(1000, 700)
        qtbot.wait(50)
        width = window.width()
        page = window.tabs.widget(index)
        for label in page.findChildren(QLabel) + window.statusBar().findChildren(QLabel):
            if any(label is c for c in captions) or not label.isVisible():
                continue
            before = label.text()
            label.setText(LONG)
            QApplication.processEvents()
            # the window grows when its layout next runs, which a busy machine may not have done
            # yet: the label's own minimum width says the same at once
            if window.width() > width or _least_width(label) > MAX_LEAST_WIDTH:
                widened.append(f"{window.tabs.tabText(index)}: {before[:40]!r}")
            label.setText(before)
            window.resize(1000, 700)
            QApplication.processEvents()
    assert widened == [], widened


def test_a_long_status_message_is_elided_with_the_whole_text_in_its_tooltip(qtbot, window):
    window.resize(1000, 700)
    qtbot.wait(50)
    width = window.width()
    window.message.setText(LONG)
    QApplication.processEvents()
    assert window.width() == width
    assert window.message.toolTip() == " ".join(LONG.split())
    window.message.setText("short")
    assert window.message.toolTip() == ""


def _wheel(widget, steps: int = 1) -> None:
    """Turn the mouse wheel over `widget`, as Qt delivers it (to the widget under the mouse)."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(),
        QPoint(0, -120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_a_form_and_changes_a_box_only_once_it_is_focused(qtbot, window):
    from PySide6.QtCore import Qt

    window.show_view("training")
    form = window.training_view.form
    box = form.ints["eval_every"]
    before = box.value()
    window.training_view.train_button.setFocus()
    _wheel(box, 4)
    assert box.value() == before  # scrolling past it changed nothing
    combo = form.findChildren(QComboBox)[0]
    choice = combo.currentIndex()
    _wheel(combo, 1)
    assert combo.currentIndex() == choice
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)  # clicked into: now the wheel is the user's choice
    assert box.hasFocus()
    _wheel(box, 1)
    assert box.value() != before


def test_a_launch_opens_the_builtin_gpt_unless_the_user_chose_to_reopen_the_last_model(
    qtbot, client, settings, window, tiny_gpt_dir, wait_signal
):
    from playground.main_window import MainWindow

    window.save_settings()  # the tiny GPT was the last model opened
    assert settings.value("models/last") == str(tiny_gpt_dir)
    again = MainWindow(client, settings, interactive=False)
    qtbot.addWidget(again)
    assert again.launch_source(None) == "builtin:gpt"  # as the README says
    assert again.launch_source("builtin:bert") == "builtin:bert"  # --model wins
    again.reopen_action.trigger()
    third = MainWindow(client, settings, interactive=False)
    qtbot.addWidget(third)
    assert third.reopen_action.isChecked()  # kept across launches
    source = third.launch_source(None)
    assert source == str(tiny_gpt_dir)
    wait_signal(client.model_loaded, lambda: third.open_model(source))
    assert "the last model you used" in third.message.text()


@pytest.mark.parametrize("how", ["typed", "clicked"])
def test_save_as_can_choose_an_existing_folder_then_asks_and_keeps_the_users_files(
    qtbot, window, monkeypatch, tmp_path, how
):
    """Save as… in a real folder dialog: an existing folder is chosen (Qt's save dialog only
    moved into it, with Save disabled); the question comes; the user's files stay."""
    from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QListView, QMessageBox

    from playground.views.widgets import save_dialogs

    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me", encoding="utf-8")
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        staticmethod(lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes),
    )
    shown: list[save_dialogs.FolderDialog] = []

    def exec_(dialog) -> int:  # the dialog as the user sees it, driven by keys and clicks
        shown.append(dialog)
        dialog.setDirectory(str(tmp_path))
        dialog.show()
        qtbot.waitUntil(
            lambda: (
                dialog.findChild(QListView, "listView")
                .model()
                .rowCount(dialog.findChild(QListView, "listView").rootIndex())
                > 0
            ),
            timeout=5_000,
        )
        if how == "typed":
            edit = dialog.findChild(QLineEdit, "fileNameEdit")
            edit.clear()
            qtbot.keyClicks(edit, "mine")
        else:
            view = dialog.findChild(QListView, "listView")
            model, root = view.model(), view.rootIndex()
            row = next(r for r in range(model.rowCount(root)) if model.index(r, 0, root).data() == "mine")
            qtbot.mouseClick(
                view.viewport(),
                Qt.MouseButton.LeftButton,
                pos=view.visualRect(model.index(row, 0, root)).center(),
            )
        button = dialog.findChild(QDialogButtonBox).buttons()[0]
        assert button.isEnabled()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        return dialog.result()

    monkeypatch.setattr(save_dialogs.FolderDialog, "exec", exec_)
    window.show_view("training")
    qtbot.mouseClick(window.training_view.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (target / "config.json").exists(), timeout=10_000)
    assert len(asked) == 1 and "“mine” already exists" in asked[0]
    assert (target / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert models.load(target)[0].config.n_layer == 2


def test_save_as_creates_a_new_folder_typed_in_the_dialog(qtbot, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox, QFileSystemModel, QLineEdit

    from playground.views.widgets.save_dialogs import FolderDialog

    dialog = FolderDialog(None, "Save", str(tmp_path / "model"))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.findChild(QFileSystemModel).directoryLoaded):  # as a user would
        dialog.show()
    edit = dialog.findChild(QLineEdit, "fileNameEdit")
    assert edit.text() == "model"  # the suggested name, ready to keep or change
    edit.clear()
    qtbot.keyClicks(edit, "brand new")
    button = dialog.findChild(QDialogButtonBox).buttons()[0]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.chosen() == str(tmp_path / "brand new")


def test_a_risky_learning_rate_is_warned_about_in_view_as_it_is_typed(qtbot, window):
    """The warning was written at the foot of a long scrolling form, out of sight: it now sits
    under the form, visible whatever is scrolled, from the keystroke that makes it true."""
    from PySide6.QtWidgets import QScrollArea

    window.show_view("training")
    form = window.training_view.form
    box = form.floats["lr"]
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    box.selectAll()
    qtbot.keyClicks(box, "10")
    assert "learning rate 10 is far above" in form.warning.text()
    assert form.warning.isVisible()
    scroll = window.training_view.findChild(QScrollArea)
    assert not scroll.isAncestorOf(form.warning)  # not scrolled out of sight
    top_left = form.warning.mapTo(window, form.warning.rect().topLeft())
    assert window.rect().contains(top_left)
    box.selectAll()
    qtbot.keyClicks(box, "0.003")
    assert form.warning.text() == ""
    assert window.training_view.train_button.isEnabled()


def test_head_effects_under_a_knockout_names_its_baseline_marks_the_heads_out_and_can_sweep_intact(
    qtbot, window
):
    from tests.app.test_heads_view import _sweep
    from tests.app.test_knock_out import TEXT, _click_tile, _inspect

    _inspect(qtbot, window)
    attention = window.attention_view
    _click_tile(qtbot, attention, 1, 0)
    _click_tile(qtbot, attention, 1, 1, shift=True)
    qtbot.keyClick(attention.overview_widget, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: window.client.ablation[0] == ((1, 0), (1, 1)), timeout=10_000)
    view = window.heads_view
    window.show_view("heads")
    assert view.intact.isVisible()  # offered only while heads are out
    worker = window.client.worker
    qtbot.waitUntil(lambda: not window.client.outstanding, timeout=10_000)  # the model is ours now
    with models.ablated(worker.model, ((1, 0), (1, 1)), "zero"):
        out_loss = models.probe(worker.model, worker.tokenizer, TEXT).loss
    intact_loss = models.probe(worker.model, worker.tokenizer, TEXT).loss
    _sweep(qtbot, window, text=TEXT)
    summary = view.summary.text()
    assert "Loss with L1H0, L1H1 knocked out" in summary and f"{out_loss:.3f}" in summary
    assert view.labels.texts[1] == ["out", "out"]  # marked, not "+0.00"
    qtbot.mouseClick(view.intact, Qt.MouseButton.LeftButton)
    _sweep(qtbot, window, text=TEXT)
    assert f"Loss with every head in: {intact_loss:.3f}" in view.summary.text()
    assert "out" not in view.labels.texts[1]
    expected = list(models.ablation_sweep(worker.model, worker.tokenizer, TEXT))[-1]
    np.testing.assert_allclose(view.heatmap.data, expected.values, atol=1e-6)
    assert window.client.ablation[0] == ((1, 0), (1, 1))  # the knockout itself stays


def test_a_head_effects_cell_click_shows_the_head_in_the_attention_tab(qtbot, window):
    from PySide6.QtCore import QPointF

    from tests.app.test_heads_view import _sweep

    _sweep(qtbot, window, text="the cat sat on the mat")
    view = window.heads_view
    at = view.plots.mapFromScene(view.heatmap.getViewBox().mapViewToScene(QPointF(1.5, 0.5)))
    qtbot.mouseClick(view.plots.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert window.tabs.currentWidget() is window.attention_view
    assert (window.attention_view.layer, window.attention_view.head) == (0, 1)


def test_the_sweep_counter_counts_this_models_heads_before_a_sweep(qtbot, window):
    window.show_view("heads")
    bar = window.heads_view.progress
    assert (bar.value(), bar.maximum()) == (0, 4)  # 2 layers × 2 heads, not "0 / 100"
    assert bar.width() >= bar.fontMetrics().horizontalAdvance("270 / 270 heads")


def test_each_view_shows_the_current_text_when_its_tab_opens(qtbot, window):
    """The lens used to wait for "Read layers" (Probabilities computed on its own), and the
    Attention tab could open empty with a text in its box."""
    lens = window.lens_view
    assert lens.lens is None  # nothing read while its tab was hidden
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)  # Ctrl+4: the lens
    qtbot.waitUntil(lambda: lens.lens is not None and not lens.client.phase(lens.request), timeout=20_000)
    assert lens.asked[0] == lens.text.text()
    attention = window.attention_view
    attention.clear()  # (as after a model change)
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # Ctrl+2: attention
    qtbot.waitUntil(lambda: attention.attentions.size > 0, timeout=20_000)
    assert "".join(attention.rows).startswith(attention.text.text()[:5])


def test_a_pdf_export_keeps_a_heatmaps_pixels_exact(qtbot, window, tmp_path):
    """Lossy (JPEG) images in the PDF tinted zero cells green and red: every image is stored
    lossless (no DCT filter)."""
    from pypdf import PdfReader

    from playground.views.widgets.figure_export import export_figure

    view = window.attention_view
    window.show_view("attention")
    qtbot.waitUntil(lambda: view.attentions.size > 0, timeout=20_000)
    path = tmp_path / "attention.pdf"
    assert export_figure(view.head_widget, path)
    filters = _image_filters(PdfReader(path).pages[0]["/Resources"])
    assert filters, "the heatmap is an image in the PDF"
    assert not any("DCT" in f for f in filters), filters  # DCT: JPEG


def _image_filters(resources) -> list[str]:
    """The compression filter of every image under `resources`, through nested forms."""
    found = []
    for ref in (resources.get("/XObject") or {}).values():
        obj = ref.get_object()
        if obj.get("/Subtype") == "/Image":
            found.append(str(obj.get("/Filter")))
        elif "/Resources" in obj:
            found += _image_filters(obj["/Resources"])
    return found


def test_two_exports_with_one_base_name_keep_a_recipe_each(qtbot, window, tmp_path):
    import json

    from tests.app.test_rough_edges import _answer_dialogs, _menu_action

    view = window.attention_view
    window.show_view("attention")
    qtbot.waitUntil(lambda: view.attentions.size > 0, timeout=20_000)
    for suffix in (".png", ".npy"):
        _answer_dialogs(monkeypatch := pytest.MonkeyPatch(), str(tmp_path / f"att{suffix}"))
        _menu_action(view.export_head, suffix).trigger()
        monkeypatch.undo()
    recipes = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.glob("*.recipe.json")}
    assert recipes.keys() == {"att.png.recipe.json", "att.npy.recipe.json"}
    assert recipes["att.png.recipe.json"]["figure"] == "att.png"
    assert recipes["att.npy.recipe.json"]["figure"] == "att.npy"


def _compare_with_itself(qtbot, window, text: str = "the cat sat on the mat") -> None:
    compare = window.compare_view
    window.show_view("compare")
    compare.a.setCurrentIndex(compare.a.findData("active"))
    compare.text.setText(text)
    before = compare.result
    qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: compare.result is not before and compare.result is not None, timeout=20_000)


def test_compare_draws_square_panes_a_one_sided_movement_map_and_no_empty_chart(
    qtbot, window, tmp_path, wait_signal
):
    import torch

    from models.nn.bert import Bert
    from tests.models.helpers import tiny_bert_config, wordpiece_tokenizer

    window.resize(1400, 860)
    _compare_with_itself(qtbot, window)
    compare = window.compare_view
    qtbot.wait(50)
    plots = (compare.head_a, compare.head_b, compare.head_change)
    cells = [p.getViewBox().viewPixelSize() for p in plots]  # (x, y) units per pixel
    assert all(abs(x - y) < 0.02 * x for x, y in cells)  # square cells, not tall strips
    assert max(x for x, _ in cells) < 1.6 * min(x for x, _ in cells)  # three panes of one size
    n = len(compare.result.a.tokens)
    for plot in plots:  # the whole matrix in view
        (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
        assert x0 <= 0 and x1 >= n and y0 <= 0 and y1 >= n
    assert compare.map.levels[0] == 0  # movement is never negative: its scale starts at 0
    assert compare.map.cmap.name != compare.head_change.cmap.name  # sequential, not diverging
    compare.map_kind.setCurrentIndex(compare.map_kind.findData("induction"))  # a signed change
    assert compare.map.levels[0] == -compare.map.levels[1]
    assert compare.map.cmap.name == compare.head_change.cmap.name
    assert compare.tokens.isVisible()  # a language model: its token probabilities are drawn

    tok = wordpiece_tokenizer()
    torch.manual_seed(0)
    classifier = Bert(tiny_bert_config(tok.vocab_size, labels=("a", "b"), has_mlm_head=False)).eval()
    models.save(classifier, tok, tmp_path / "classifier")
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(tmp_path / "classifier")))
    _compare_with_itself(qtbot, window, "first citizen speak")
    assert not compare.tokens.isVisible()  # no language-model head: no empty third of the tab


def test_resume_opens_in_the_runs_folder_and_a_resumed_run_says_its_timeline_starts_anew(
    qtbot, window, monkeypatch, tmp_path
):
    from PySide6.QtWidgets import QFileDialog

    from tests.app.test_training_view import _configure, _wait_finished

    window.show_view("training")
    view = window.training_view
    _configure(view, steps=5000, probe_every=0, sample_every=0, eval_every=0)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.last_step >= 3, timeout=60_000)
    qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)  # a stop writes a checkpoint
    _wait_finished(qtbot, view)
    stopped = view.last_step
    folder = window.client.worker.last_checkpoint
    runs = window.client.runs_dir
    assert runs.is_dir() and str(folder).startswith(str(runs))  # where runs are written
    opened: list[str] = []

    def choose(parent, title, start="", *a, **k):
        opened.append(start)
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(choose))
    qtbot.mouseClick(view.resume_button, Qt.MouseButton.LeftButton)
    assert opened == [str(runs)]  # not the last folder some other dialog used
    qtbot.waitUntil(lambda: view.last_step > stopped, timeout=30_000)
    assert "no snapshots saved with the run" in view.timeline_label.text()
    qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
    _wait_finished(qtbot, view)


def test_the_data_folder_is_not_named_twice_and_an_earlier_one_with_runs_is_kept(tmp_path):
    from playground.cli.app import data_dir

    generic = tmp_path / "share"
    doubled = generic / "TransformerPlayground" / "Transformer Playground"  # Qt's, inside ours (Linux)
    assert data_dir(generic, doubled) == generic / "TransformerPlayground"
    (doubled / "runs" / "20261202-gpt").mkdir(parents=True)  # an earlier version's runs
    assert data_dir(generic, doubled) == doubled  # kept: nothing lost
    (generic / "TransformerPlayground" / "runs").mkdir()  # once ours holds runs, ours it is
    assert data_dir(generic, doubled) == generic / "TransformerPlayground"


def test_f1_shows_a_searchable_sheet_of_every_shortcut_made_from_the_actions_themselves(qtbot, window):
    from PySide6.QtGui import QAction

    qtbot.keyClick(window, Qt.Key.Key_F1)
    sheet = window._sheet
    qtbot.waitUntil(sheet.isVisible, timeout=5_000)
    rows = sheet.visible_rows()
    keys = {row[0] for row in rows}
    for action in window.findChildren(QAction):  # every action with a shortcut is listed
        if not action.shortcut().isEmpty() and action.text():
            assert action.shortcut().toString(action.shortcut().SequenceFormat.NativeText) in keys
    assert {"L", "Shift+click", "K", "F5"} <= keys  # the overview's own keys, once left out
    assert any(row[0] == "Ctrl+Return" and row[2] == "Prompt" for row in rows)
    qtbot.keyClicks(sheet.search, "knock")
    shown = sheet.visible_rows()
    assert shown and all("knock" in " ".join(row).lower() for row in shown)
    assert len(shown) < len(rows)
    sheet.search.clear()
    assert len(sheet.visible_rows()) == len(rows)


def test_choosing_a_text_file_leaves_the_task_preset_and_its_description(
    qtbot, window, monkeypatch, tmp_path
):
    from PySide6.QtWidgets import QFileDialog

    from playground.views.training.form import FILE_ITEM

    text = tmp_path / "poems.txt"
    text.write_text("Shall I compare thee to a summer's day?\n" * 50, encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(text), "")))
    window.show_view("training")
    form = window.training_view.form
    assert form.preset.currentData() == "task"
    form.corpus.setCurrentIndex(form.corpus.findData(FILE_ITEM) - 1)
    form.corpus.setFocus()
    qtbot.keyClick(form.corpus, Qt.Key.Key_Down)  # the user picks "Text file…"
    assert form.corpus_source() == str(text)
    assert form.preset.currentData() == "tiny" and "built-in task" not in form.preset_note.text()


def test_an_empty_alternatives_chart_has_no_upside_down_numbers(qtbot, client, settings):
    """At launch, before any model: every alternatives chart's token axis is blank (it read 1 to 0)."""
    from PySide6.QtGui import QImage, QPainter

    from playground.main_window import MainWindow
    from playground.views.widgets.topk_chart import TopKChart

    fresh = MainWindow(client, settings, interactive=False)
    qtbot.addWidget(fresh)
    charts = fresh.findChildren(TopKChart)
    assert len(charts) >= 2
    for chart in charts:
        image = QImage(200, 200, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        try:  # what the axis would write
            _axis, _ticks, texts = chart.plotItem.getAxis("left").generateDrawSpecs(painter)
        finally:
            painter.end()
        assert [text for *_, text in texts] == []


def test_the_fine_tune_header_names_a_classifiers_labels_in_words(qtbot, window, tmp_path, wait_signal):
    import torch

    from models.nn.bert import Bert
    from tests.models.helpers import tiny_bert_config, wordpiece_tokenizer

    tok = wordpiece_tokenizer()
    torch.manual_seed(0)
    model = Bert(tiny_bert_config(tok.vocab_size, labels=("in order", "shuffled"), has_mlm_head=False))
    models.save(model.eval(), tok, tmp_path / "classifier")
    wait_signal(window.client.model_loaded, lambda: window.open_model(str(tmp_path / "classifier")))
    assert "a classifier, labels: “in order”, “shuffled”" in window.finetune_view.form.model_label.text()


@pytest.mark.parametrize("tab", ["training", "finetune"])
def test_a_settings_form_never_scrolls_sideways(qtbot, window, tab):
    from PySide6.QtWidgets import QScrollArea

    window.resize(1000, 700)
    window.show_view(tab)
    qtbot.wait(50)
    scroll = window.views[tab].findChild(QScrollArea)
    assert not scroll.horizontalScrollBar().isVisible()
    assert scroll.widget().width() >= scroll.widget().minimumSizeHint().width()  # nothing cut


def test_the_model_labels_own_tooltip_survives_eliding(qtbot, window):
    window.resize(1000, 700)
    qtbot.wait(50)
    label = window.model_label
    label.setText(LONG)  # cut: the full text joins the label's own tooltip, which stays
    QApplication.processEvents()
    assert "layers ×" in label.toolTip() and label.toolTip().startswith("a message far longer")


def test_f1_twice_keeps_one_sheet(qtbot, window):
    from PySide6.QtCore import QCoreApplication, QEvent

    from playground.views.shortcut_sheet import ShortcutSheet

    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_F1)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert len(window.findChildren(ShortcutSheet)) == 1


def test_a_sweep_sent_right_after_k_marks_the_heads_that_were_out(qtbot, window):
    from tests.app.test_knock_out import TEXT, _click_tile, _inspect

    _inspect(qtbot, window)
    attention = window.attention_view
    _click_tile(qtbot, attention, 0, 1)
    qtbot.keyClick(attention.overview_widget, Qt.Key.Key_K)  # not waited for: the sweep follows at once
    view = window.heads_view
    window.show_view("heads")
    view.kind.setCurrentIndex(view.kind.findData("ablation"))
    view.text.setText(TEXT)
    before = view.sweep
    qtbot.keyClick(view.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.sweep is not before and view.sweep.complete, timeout=20_000)
    assert view.labels.texts[0][1] == "out" and "L0H1 knocked out" in view.summary.text()


def test_saving_into_an_existing_empty_folder_asks_first(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QDialog, QMessageBox

    from playground.views.widgets import save_dialogs

    target = tmp_path / "empty"
    target.mkdir()
    asked: list[str] = []
    monkeypatch.setattr(save_dialogs.FolderDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(save_dialogs.FolderDialog, "chosen", lambda self: str(target))
    monkeypatch.setattr(
        QMessageBox,
        "question",
        staticmethod(lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.No),
    )
    window.show_view("training")
    qtbot.mouseClick(window.training_view.save_button, Qt.MouseButton.LeftButton)
    qtbot.wait(200)
    assert asked == ["Save the model into the empty folder “empty”?"] and not any(target.iterdir())


def test_a_lens_tab_in_view_reads_a_newly_opened_models_text(qtbot, window, tiny_gpt_dir, wait_signal):
    lens = window.lens_view
    window.show_view("lens")
    qtbot.waitUntil(lambda: lens.lens is not None and not lens.client.phase(lens.request), timeout=20_000)
    old, asked = lens.lens, lens.request
    wait_signal(window.client.model_loaded, lambda: window.open_model("builtin:gpt"))
    qtbot.waitUntil(lambda: lens.request != asked and not lens.client.phase(lens.request), timeout=20_000)
    assert lens.lens is not None and lens.lens is not old
    assert lens.asked[0] == lens.text.text()  # read for the new model without a click
