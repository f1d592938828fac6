"""The main window: tabs of views, menus, the status bar, errors, and persisted layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QWidget,
)

from playground.errors import ErrorReporter
from playground.info import ModelInfo
from playground.recipe import Recipe, RecipeError, read_recipe
from playground.views.attention import AttentionView
from playground.views.attribution import AttributionView
from playground.views.compare import CompareView
from playground.views.fill_mask import FillMaskView
from playground.views.finetune import FinetuneView
from playground.views.head_types import HeadTypesView
from playground.views.heads import HeadsView
from playground.views.lens import LensView
from playground.views.model_browser import ModelBrowser
from playground.views.neurons import NeuronsView
from playground.views.positions import PositionsView
from playground.views.probabilities import ProbabilityView
from playground.views.prompt import PromptView
from playground.views.resets import MODEL, reset_views
from playground.views.shortcut_sheet import ShortcutSheet, gather
from playground.views.steering import SteeringView
from playground.views.training import TrainingView
from playground.views.widgets.elided_label import ElidedLabel
from playground.views.widgets.save_dialogs import GGUFSaveDialog
from playground.worker import WorkerClient
from playground.worker.requests import KnockOut, Load, SaveGGUF, SetThreads, Train

MAX_RECENT = 8
DEFAULT_SIZE = (1280, 800)
# the views that read one stack of heads, or fine-tune: an encoder–decoder has no use of them
ONE_STACK_VIEWS = (
    "lens", "steering", "heads", "head-types", "neurons", "fill-mask", "finetune", "compare",
)  # fmt: skip
BUILTINS = {"builtin:gpt": "Built-in GPT", "builtin:bert": "Built-in BERT"}
PRECISION_TITLES = {  # Model ▸ Precision
    "auto": "Automatic (float32 on a CPU, a 16-bit folder's own type on a GPU)",
    "fp32": "float32 (exact)",
    "bf16": "bfloat16 (half the memory)",
    "int8": "int8 weights (fastest decoding on a CPU, close to float32)",
}


class MainWindow(QMainWindow):
    def __init__(
        self,
        client: WorkerClient,
        settings: QSettings,
        interactive: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client, self.settings = client, settings
        self.info: ModelInfo | None = None
        self._reopening = ""  # the last session's model, being reopened at launch
        self.errors = ErrorReporter(self, interactive)
        self.setWindowTitle("Transformer Playground")
        self.resize(*DEFAULT_SIZE)

        self.prompt_view = PromptView(client)
        self.attention_view = AttentionView(client)
        self.probability_view = ProbabilityView(client)
        self.fill_mask_view = FillMaskView(client)
        self.lens_view = LensView(client)
        self.attribution_view = AttributionView(client)
        self.steering_view = SteeringView(client)
        self.heads_view = HeadsView(client)
        self.head_types_view = HeadTypesView(client)
        self.neurons_view = NeuronsView(client)
        self.training_view = TrainingView(client)
        self.finetune_view = FinetuneView(client)
        self.compare_view = CompareView(client)
        self.positions_view = PositionsView()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.views: dict[str, QWidget] = {}
        for name, title, view in (
            ("prompt", "Prompt", self.prompt_view),
            ("attention", "Attention", self.attention_view),
            ("probabilities", "Probabilities", self.probability_view),
            ("lens", "Logit lens", self.lens_view),
            ("attribution", "Attribution", self.attribution_view),
            ("steering", "Steering", self.steering_view),
            ("heads", "Head effects", self.heads_view),
            ("head-types", "Head types", self.head_types_view),
            ("neurons", "Neurons", self.neurons_view),
            ("fill-mask", "Fill-mask (BERT)", self.fill_mask_view),
            ("training", "Training", self.training_view),
            ("finetune", "Fine-tune", self.finetune_view),
            ("compare", "Compare", self.compare_view),
            ("positions", "Positions", self.positions_view),
        ):
            self.add_view(name, title, view)
        self.setCentralWidget(self.tabs)
        self._build_status_bar()
        self._build_menus()

        w = client  # the facade relays every answer of the worker
        w.model_loaded.connect(self._on_model_loaded)
        w.errored.connect(self._on_errored)
        w.changed.connect(self._sync)
        w.progress_changed.connect(self._on_progress_changed)
        w.threads_changed.connect(self._on_threads_changed)
        self.prompt_view.run_finished.connect(self._on_run_finished)
        self.prompt_view.explain_requested.connect(self._on_explain_requested)
        views = (
            self.prompt_view,
            self.attention_view,
            self.probability_view,
            self.lens_view,
            self.attribution_view,
            self.steering_view,
            self.heads_view,
            self.head_types_view,
            self.neurons_view,
        )
        for view in (*views, self.training_view, self.finetune_view, self.compare_view, self.positions_view):
            view.failed.connect(self._on_errored)
            view.saved.connect(self._on_saved)
            if hasattr(view, "noted"):  # nothing went wrong, nothing to do: a status-bar word
                view.noted.connect(self.message.setText)
        self.finetune_view.compare_requested.connect(self._on_compare_requested)
        self.finetune_view.tuned.connect(self.compare_view.compare_after_tuning)
        self._recipe: Recipe | None = None  # a recipe being followed: open its model, knock its heads
        self._recipe_wait = (0, None)  # out, then draw; (request, what comes next when it is done)
        w.request_finished.connect(self._on_recipe_step_finished)
        self._precision_trial = (0, "")  # (the reopen a precision choice made, the one before it)
        w.request_finished.connect(self._on_precision_load_finished)
        self.heads_view.head_chosen.connect(self._on_head_chosen)
        self.head_types_view.head_chosen.connect(self._on_head_chosen)
        w.model_saved.connect(self._on_model_saved)
        self.attention_view.inspect_requested.connect(self._on_inspect_requested)
        self.fill_mask_view.attentions_ready.connect(self._on_attentions_ready)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._restore()
        self._sync()
        self._on_tab_changed()

    # ---- structure --------------------------------------------------------------------------
    def add_view(self, name: str, title: str, view: QWidget) -> None:
        """A tab; Ctrl+<n> switches to it. (The training view joins here.)"""
        self.views[name] = view
        self.tabs.addTab(view, title)

    def show_view(self, name: str) -> None:
        index = self.tabs.indexOf(self.views[name])
        if not self.tabs.isTabEnabled(index):  # a shortcut to a tab this model has no use of
            self.message.setText(f"{self.tabs.tabText(index)}: {self.tabs.tabToolTip(index)}")
            return
        self.tabs.setCurrentIndex(index)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.model_label = ElidedLabel("no model")
        self.activity = ElidedLabel("starting…")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop what the worker is doing")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.cancel_button.hide()
        self.message = ElidedLabel()
        self._close_poll = QTimer(self, interval=100)  # waits for a busy worker before closing
        self._close_poll.timeout.connect(self._on_close_poll)
        bar.addWidget(self.model_label)
        bar.addWidget(self.activity)
        bar.addWidget(self.message, 1)
        self.steering_label = ElidedLabel()  # said while a steering vector changes every view
        self.steering_label.setStyleSheet("color: #e0a030")
        self.steering_label.hide()
        self.client.steering_changed.connect(self._on_steering_changed)
        self.threads_label = ElidedLabel()
        self.threads_label.setToolTip("Threads PyTorch computes with (Settings ▸ Threads)")
        bar.addPermanentWidget(self.steering_label)
        bar.addPermanentWidget(self.threads_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _on_steering_changed(self, said: str) -> None:
        self.steering_label.setText(f"steered: {said}" if said else "")
        self.steering_label.setToolTip("Every view shows the model steered (Steering ▸ Steer every view)")
        self.steering_label.setVisible(bool(said))

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self.open_action = self._action(
            file, "&Open model folder…", self._on_open_triggered, QKeySequence.Open
        )
        self.gguf_action = self._action(
            file, "Open a &GGUF file…", self._on_open_gguf_triggered, "Ctrl+Alt+O"
        )
        self.hub_action = self._action(
            file, "Open a model you &have…", self._on_open_hub_triggered, "Ctrl+Shift+H"
        )
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        file.addSeparator()
        self.save_gguf_action = self._action(file, "Save model as GG&UF…", self._on_save_gguf_triggered)
        file.addSeparator()
        self._action(file, "&Export run JSON…", self.prompt_view.export_dialog, "Ctrl+E")
        self._action(file, "Export attention &PNG…", self.attention_view.export_png_dialog)
        self.recipe_action = self._action(
            file, "Open re&cipe…", self._on_open_recipe_triggered, "Ctrl+Shift+O"
        )
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.Quit)
        model = self.menuBar().addMenu("&Model")
        self.model_actions = (
            self.open_action,
            self.gguf_action,
            self.hub_action,
            self._action(model, "Built-in &GPT", self._on_builtin_gpt_triggered, "Ctrl+Shift+G"),
            self._action(model, "Built-in &BERT", self._on_builtin_bert_triggered, "Ctrl+Shift+B"),
        )
        model.addSeparator()
        self.precision_menu = model.addMenu("&Precision")
        self.precision_actions = QActionGroup(self)
        for key, title in PRECISION_TITLES.items():
            action = self.precision_menu.addAction(title)
            action.setCheckable(True)
            action.setData(key)
            self.precision_actions.addAction(action)
        self.precision_actions.triggered.connect(self._on_precision_triggered)
        training = self.menuBar().addMenu("&Training")
        for action in self.training_view.actions_:  # the view's own actions: one state, two places
            training.addAction(action)
        self.training_view.train_action.triggered.connect(self._on_train_triggered)
        training.addSeparator()
        for action in self.finetune_view.actions_:
            training.addAction(action)
        self.finetune_view.start_action.triggered.connect(self._on_finetune_triggered)
        self._build_settings_menu()
        view = self.menuBar().addMenu("&View")
        for i, name in enumerate(self.views):
            key = f"Ctrl+{(i + 1) % 10}" if i < 10 else None  # the tenth tab is Ctrl+0
            action = self._action(view, self.tabs.tabText(i), None, key)
            action.triggered.connect(lambda _=False, n=name: self.show_view(n))
        help_ = self.menuBar().addMenu("&Help")
        self._action(help_, "&Keyboard shortcuts", self._on_shortcuts_triggered, "F1")

    def _build_settings_menu(self) -> None:
        """Settings ▸ Threads: automatic (one per core, or OMP_NUM_THREADS) or a number."""
        from playground import threads

        settings_menu = self.menuBar().addMenu("&Settings")
        self.reopen_action = settings_menu.addAction("&Reopen the last model at launch")
        self.reopen_action.setCheckable(True)
        self.reopen_action.setToolTip("Off: every launch opens the built-in GPT, as the README says")
        self.reopen_action.setChecked(self.settings.value("models/reopen_last", False) in (True, "true"))
        self.reopen_action.toggled.connect(lambda on: self.settings.setValue("models/reopen_last", on))
        menu = settings_menu.addMenu("&Threads")
        self.thread_actions = QActionGroup(self)
        auto, why = threads.choose()
        for n in range(0, threads.cores() + 1):
            title = f"Automatic ({auto}, {why.replace('automatic', 'one per core')})" if n == 0 else str(n)
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setData(n)
            self.thread_actions.addAction(action)
        self.thread_actions.triggered.connect(self._on_threads_triggered)

    @property
    def threads_setting(self) -> int:
        """The threads models compute with (0: automatic), as the user last chose."""
        try:
            return int(self.settings.value("compute/threads", 0) or 0)
        except (TypeError, ValueError):
            return 0

    def _on_threads_triggered(self, action: QAction) -> None:
        self.settings.setValue("compute/threads", action.data())
        self.client.send(SetThreads(action.data()))

    def _on_threads_changed(self, count: int) -> None:
        self.threads_label.setText(f"{count} thread{'s' if count != 1 else ''}")
        for action in self.thread_actions.actions():
            action.setChecked(action.data() == self.threads_setting)

    def _on_compare_requested(self) -> None:
        self.show_view("compare")
        self.compare_view.compare_before_after()

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = menu.addAction(text)
        if slot is not None:
            action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        return action

    # ---- models ------------------------------------------------------------------------------
    def launch_source(self, requested: str | None) -> str:
        """What a launch opens: the model asked for, else the built-in GPT, or, when the user chose
        Settings ▸ Reopen the last model at launch, the last one opened."""
        last = str(self.settings.value("models/last", "") or "")
        if requested:
            return requested
        if self.reopen_action.isChecked() and last:
            self._reopening = last
            return last
        return "builtin:gpt"

    def open_model(self, source: str) -> None:
        """A folder or "builtin:gpt"/"builtin:bert", in the chosen precision. The current model
        stays until it loads."""
        if self.client.active(Train):
            self.message.setText("Training is running: stop it before opening another model.")
            return
        self.client.send(Load(source, self.precision))

    @property
    def precision(self) -> str:
        return str(self.settings.value("models/precision", "auto") or "auto")

    def set_precision(self, precision: str) -> None:
        """What models open in from now on (kept across sessions); the menu shows it."""
        self.settings.setValue("models/precision", precision)
        for action in self.precision_actions.actions():
            action.setChecked(action.data() == precision)

    def _on_precision_triggered(self, action: QAction) -> None:
        """Open the active model again in the chosen precision; one the device refuses is not kept
        (the menu goes back to the one in use)."""
        previous = self.precision
        self.set_precision(action.data())
        if self.info is not None and not self.client.active(Train):
            self._precision_trial = (self.client.send(Load(self.info.source, self.precision)), previous)

    def _on_precision_load_finished(self, request: int, status: str, _message: str) -> None:
        trial, previous = self._precision_trial
        if request == trial:
            self._precision_trial = (0, "")
            if status != "done":
                self.set_precision(previous)

    def _on_open_triggered(self) -> None:
        start = self.settings.value("paths/last_folder", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Open a model folder", str(start))
        if folder:
            self.settings.setValue("paths/last_folder", str(Path(folder).parent))
            self.open_model(folder)

    def _on_open_gguf_triggered(self) -> None:
        start = self.settings.value("paths/last_folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF file", str(start), "GGUF model (*.gguf)")
        if path:
            self.settings.setValue("paths/last_folder", str(Path(path).parent))
            self.open_model(path)

    def _on_open_hub_triggered(self) -> None:
        dialog = self.hub_dialog()
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.chosen:
            self.open_model(dialog.chosen)

    def hub_dialog(self) -> ModelBrowser:
        """The browser of the models the user has (a test shows it without its modal loop)."""
        return ModelBrowser(self.settings, self)

    def _on_save_gguf_triggered(self) -> None:
        if self.info is None:
            return
        start = (
            Path(self.settings.value("paths/last_folder", str(Path.home())))
            / f"{Path(self.info.name).stem}.gguf"
        )
        dialog = GGUFSaveDialog(str(start), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.save_gguf(dialog.path, dialog.kind)

    def save_gguf(self, path: str, kind: str) -> None:
        self.settings.setValue("paths/last_folder", str(Path(path).parent))
        self.client.send(SaveGGUF(path, kind))

    def _on_builtin_gpt_triggered(self) -> None:
        self.open_model("builtin:gpt")

    def _on_builtin_bert_triggered(self) -> None:
        self.open_model("builtin:bert")

    def recent_models(self) -> list[str]:
        value = self.settings.value("models/recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(x) for x in items if x]

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        for source in self.recent_models():
            action = self.recent_menu.addAction(BUILTINS.get(source, source))
            action.triggered.connect(lambda _=False, s=source: self.open_model(s))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.info = info
        self.model_label.setText(info.summary)
        self.model_label.setToolTip(
            f"{info.source}\n{info.n_layer} layers × {info.n_head} heads,"
            f" context {info.context}, vocabulary {info.vocab_size}"
        )
        note = f" — {info.note}" if info.note else ""
        if self._reopening == info.source:  # said once, with where the choice lives
            note += " (the last model you used: Settings ▸ Reopen the last model at launch)"
        self._reopening = ""
        self.message.setText(f"Opened {info.name}{note}")
        recent = [info.source] + [s for s in self.recent_models() if s != info.source]
        self.settings.setValue("models/recent", recent[:MAX_RECENT])
        self.settings.setValue("models/last", info.source)
        reset_views(self.views.values(), MODEL)  # until the new model's own results arrive
        caps = info.capabilities
        shown = self.tabs.currentWidget()
        self._enable_views(caps.one_stack)  # (Qt moves off a tab it disables: to the next one it finds)
        if caps.one_stack and not caps.causal:  # attributions and steering: a decoder's next tokens
            for view in (self.attribution_view, self.steering_view, self.neurons_view):
                index = self.tabs.indexOf(view)
                self.tabs.setTabEnabled(index, False)
                self.tabs.setTabToolTip(
                    index, "For decoders: a BERT does not predict each token from the ones before"
                )
        if caps.encoder_decoder:  # its prompt is a source: a held-out one of its own data, if known
            if info.example:  # (a folder without its run's data: the user types a source it reads)
                source = self.prompt_view.show_example(info.example)
                self.probability_view.show_example(source)
                self.attention_view.show_example(source)
                self.attribution_view.show_example(source)
            if not self.tabs.isTabEnabled(self.tabs.indexOf(shown)):
                self.show_view("prompt")
        elif caps.causal:
            text = self.prompt_view.typed_prompt() or "To be, or not to be"
            for view in (
                self.probability_view, self.lens_view, self.heads_view, self.attention_view,
                self.attribution_view, self.head_types_view, self.neurons_view,
            ):  # fmt: skip
                view.show_example(text)
            if self.tabs.currentWidget() is self.fill_mask_view:
                self.show_view("prompt")
        else:
            if self.tabs.currentWidget() is self.prompt_view:
                self.show_view("fill-mask")
            if info.can_fill_mask:
                self.fill_mask_view.fill_or_start("the cat sat on the [MASK].")
            else:
                self.attention_view.inspect(self.fill_mask_view.current_text() or "hello world")
        self._on_tab_changed()  # the tab in view (a lens left open last session) shows the new text

    def _enable_views(self, one_stack: bool) -> None:
        """The views that read one stack of heads (or fine-tune) are off for an encoder–decoder."""
        for name in ONE_STACK_VIEWS:
            index = self.tabs.indexOf(self.views[name])
            self.tabs.setTabEnabled(index, one_stack)
            self.tabs.setTabToolTip(
                index, "" if one_stack
                else "Not for encoder–decoder models: see Prompt, Attention (three kinds) and Probabilities",
            )  # fmt: skip

    # ---- recipes: an exported figure drawn again -----------------------------------------------
    RECIPE_VIEWS = (
        "prompt", "attention", "probabilities", "lens", "attribution", "steering", "heads", "head-types",
        "neurons", "fill-mask",
    )  # fmt: skip

    def _on_open_recipe_triggered(self) -> None:
        start = self.settings.value("paths/last_recipe_folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a figure's recipe", str(start), "Recipe (*.recipe.json)"
        )
        if path:
            self.settings.setValue("paths/last_recipe_folder", str(Path(path).parent))
            self.open_recipe(path)

    def open_recipe(self, path: str | Path) -> None:
        """Draw a figure again from its recipe: its model (opened if another is active), its
        knocked-out heads, then its view with its settings. A bad recipe changes nothing."""
        try:
            recipe = read_recipe(path, self.RECIPE_VIEWS)
        except RecipeError as e:
            self.errors.report(str(e), "")
            return
        if self.client.active(Train):
            self.errors.report(
                "Training is running: stop it before opening a recipe (it may need another model).", ""
            )
            return
        self._recipe = recipe
        info = self.client.info
        if info is None or info.source != recipe.model_source:
            opened = self.client.send(Load(recipe.model_source, self.precision))
            self._recipe_wait = (opened, self._recipe_model_ready)
        else:
            self._recipe_model_ready()

    def _recipe_model_ready(self) -> None:
        recipe, info = self._recipe, self.client.info
        if recipe.model_fingerprint and info.fingerprint != recipe.model_fingerprint:
            self.errors.report(
                f"The weights of {info.name} are not those the recipe was made with "
                f"(fingerprint {info.fingerprint}, the recipe's {recipe.model_fingerprint}): "
                "the figure is drawn again, but it may differ.",
                "",
            )
        heads, mode = self.client.ablation
        if (heads, mode if heads else "") != (
            recipe.ablation,
            recipe.ablation_mode if recipe.ablation else "",
        ):
            self._recipe_wait = (
                self.client.send(KnockOut(tuple(recipe.ablation), recipe.ablation_mode)),
                self._draw_recipe,
            )
        else:
            self._draw_recipe()

    def _draw_recipe(self) -> None:
        recipe, self._recipe = self._recipe, None
        if not self.tabs.isTabEnabled(self.tabs.indexOf(self.views[recipe.view])):
            self.show_view(recipe.view)  # says why this model has no such view
            return
        self.show_view(recipe.view)
        self.views[recipe.view].apply_recipe(recipe.settings)
        self.message.setText(f"Drawing {recipe.figure or 'the figure'} again from its recipe")

    def _on_recipe_step_finished(self, request: int, status: str, message: str) -> None:
        waiting, then = self._recipe_wait
        if request != waiting or then is None:
            return
        self._recipe_wait = (0, None)
        if status == "done":
            then()
        else:
            self._recipe = None
            self.message.setText(f"The recipe was not followed: {message or status}")

    # ---- worker state -------------------------------------------------------------------------
    def _on_errored(self, message: str, details: str) -> None:
        self.errors.report(message, details)

    def _sync(self) -> None:
        """The status bar and the menus follow the one state."""
        state = self.client.state
        self.activity.setText(state.label or ("ready" if not state.busy else state.activity))
        if state.busy == self.progress.isHidden():
            self.progress.setVisible(state.busy)
            self.progress.setRange(0, 0)  # indeterminate until progress arrives
        self.cancel_button.setVisible(bool(state.stoppable) and state.stoppable in self.client.outstanding)
        self.cancel_button.setEnabled(state.stoppable not in self.client.stopping)
        training = bool(self.client.active(Train))
        for action in self.model_actions:
            action.setEnabled(not training)
        self.recent_menu.setEnabled(not training)
        self.precision_menu.setEnabled(not training)

    def _on_cancel_clicked(self) -> None:
        self.client.stop(self.client.state.stoppable)

    def _on_train_triggered(self) -> None:
        self.show_view("training")  # F5 from any tab: watch the run it starts

    def _on_finetune_triggered(self) -> None:
        self.show_view("finetune")  # Ctrl+F5 from any tab: watch the fine-tune it starts

    def _on_tab_changed(self, _index: int = 0) -> None:
        # the prompt box takes the keys when its tab opens (Ctrl+Enter must work at launch)
        if self.tabs.currentWidget() is self.prompt_view:
            self.prompt_view.prompt.setFocus()
        if self.info is not None and hasattr(view := self.tabs.currentWidget(), "shown"):
            view.shown()  # a view shows the current text when it opens, without an extra click

    def _on_progress_changed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _on_run_finished(self, text: str) -> None:
        self.attention_view.finish_run(text)  # from the run's own steps when it holds them all
        self.probability_view.score(text)
        self.lens_view.set_text(text)
        self.heads_view.set_text(text)
        self.head_types_view.set_text(text)
        self.neurons_view.set_text(text)
        prompt = self.prompt_view.prompt_tokens
        causal = self.info is not None and self.info.capabilities.causal
        self.attribution_view.set_text(text, len(prompt) if causal and prompt is not None else 1)

    def _on_explain_requested(self, text: str, first: int, position: int) -> None:
        self.show_view("attribution")  # (opening it would explain the text: the token's row is asked first)
        self.attribution_view.explain_token(text, first, position)

    def _on_head_chosen(self, layer: int, head: int) -> None:
        self.attention_view.show_head(layer, head)
        self.show_view("attention")  # the click says it shows the head there: it does

    def _on_inspect_requested(self, text: str) -> None:
        self.probability_view.set_text(text)

    def _on_attentions_ready(self, tokens, attentions, text: str) -> None:
        self.attention_view.set_attentions(tokens, attentions, text)

    def _on_shortcuts_triggered(self) -> None:
        self.shortcut_sheet().show()

    def shortcut_sheet(self) -> ShortcutSheet:
        """F1's sheet, made from the actions and views as they are now (one at a time)."""
        titles = {name: self.tabs.tabText(self.tabs.indexOf(view)) for name, view in self.views.items()}
        if getattr(self, "_sheet", None) is not None:
            self._sheet.close()
        self._sheet = sheet = ShortcutSheet(gather(self, self.views, titles), self)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one at a time, none kept
        sheet.destroyed.connect(lambda: setattr(self, "_sheet", None) if self._sheet is sheet else None)
        return sheet

    # ---- persistence and closing ----------------------------------------------------------------
    def _restore(self) -> None:
        s = self.settings
        self.set_precision(self.precision)
        if (geometry := s.value("window/geometry")) is not None:
            self.restoreGeometry(geometry)
        if (state := s.value("window/state")) is not None:
            self.restoreState(state)
        self.attention_view.restore_state(s)
        self.prompt_view.restore_state(s)
        self.tabs.setCurrentIndex(int(s.value("window/tab", 0) or 0))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/tab", self.tabs.currentIndex())
        self.attention_view.save_state(s)
        self.prompt_view.save_state(s)
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        """Stop the worker's job, end its thread and wait: nothing is left running.

        A worker busy in one long step (a big model's forward pass) is not abandoned: the window
        says so, stays open and closes itself once the thread has ended.
        """
        if self._close_poll.isActive():
            event.ignore()  # already waiting for the worker
            return
        if self.training_view.running and not self._confirm_close_during_training():
            event.ignore()
            return
        self.save_settings()
        if self.errors.box is not None:
            self.errors.box.close()
        if not self.client.shutdown(SHUTDOWN_WAIT_MS):
            event.ignore()
            self.message.setText(
                "Closing: the model is still finishing its current step; the window closes as soon as it has."
            )
            self._close_poll.start()
            return
        event.accept()

    def _on_close_poll(self) -> None:
        if self.client.worker_thread.isFinished():
            self._close_poll.stop()
            self.close()

    def _confirm_close_during_training(self) -> bool:
        """Ask whether to keep a checkpoint of the run; False means: do not close."""
        if not self.errors.interactive:
            return True  # tests and --screenshot: the stop writes its checkpoint
        answer = QMessageBox.question(
            self,
            "Training is running",
            "Training is still running. Save a checkpoint of the last step before closing?\n"
            "(A saved run can be resumed from the Training tab.)",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        self.client.keep_checkpoint_on_stop(answer == QMessageBox.StandardButton.Save)
        return True

    def _on_model_saved(self, folder: str) -> None:
        self.message.setText(f"Saved the model to {folder}")

    def _on_saved(self, what: str) -> None:
        self.message.setText(what)


SHUTDOWN_WAIT_MS = 3000  # how long closing blocks before it says why and waits in the background
