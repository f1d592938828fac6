"""The one worker: owns model, tokenizer and device on its own QThread; its slots are the requests."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot

from playground.info import ModelInfo
from playground.worker.jobs import Job, JobRunner

FALLBACK_MODEL = "builtin:gpt"  # opened when a launch's --model cannot be


class Worker(JobRunner):
    """Lives on the worker thread. Requests are slots reached through queued signals."""

    def __init__(
        self, assets: Path | None = None, data_dir: Path | None = None, device: str | None = None
    ) -> None:
        super().__init__()
        self._assets, self._data_dir, self._device_choice = assets, data_dir, device
        self.model: Any = None
        self.tokenizer: Any = None
        self.info: ModelInfo | None = None
        self.training_run: Any = None  # the current or last in-app TrainingRun
        self.last_checkpoint = ""  # folder of the last training checkpoint
        self._probes: dict[str, str] = {}  # tag -> newest text (older requests are superseded)

    @Slot()
    def close(self) -> None:
        """Worker thread, as it ends: finish the running job so nothing is left open."""
        self._stop.set()
        self._end_job("stopped")

    # ---- requests ----------------------------------------------------------------------------
    @Slot(str)
    def load(self, source: str) -> None:
        """Open a folder or "builtin:gpt"/"builtin:bert"; on failure the old model stays.

        With no model yet (a bad --model at launch), the built-in GPT opens instead, and says why.
        """
        with self._guard(f"opening {source}"):
            self._end_job("stopped")
            self._set_busy(f"opening {_short(source)}…")
            from models import ModelError  # torch is imported below, off the GUI thread

            try:
                model, tok, info = self._open(source)
            except ModelError as e:
                if self.model is not None or source == FALLBACK_MODEL:
                    raise
                self._report(e, f"opening {source}")
                self._set_busy(f"opening {_short(FALLBACK_MODEL)}…")
                model, tok, info = self._open(FALLBACK_MODEL)
                info = replace(
                    info, note=f"{source} could not be opened ({e}); the built-in GPT opened instead"
                )
            self.model, self.tokenizer, self.info = model, tok, info
            self.model_loaded.emit(info)
            self._set_busy("")

    def _open(self, source: str):
        if "torch" not in sys.modules:  # seconds on a warm disk, a minute on a cold one
            self._set_busy("loading PyTorch…")
        from playground import loading

        self._stop.clear()
        return loading.open_model(
            source, self._device(), self._assets, self._data_dir, self._stop.is_set, self._set_busy
        )

    @Slot(str, object)
    def generate(self, prompt: str, settings: Any) -> None:
        with self._guard("generating"):
            self._refuse_during_training("generating")
            self._end_job("stopped")
            self._need_model()
            import models

            gen = models.generate(self.model, self.tokenizer, prompt, settings)
            self.prompt_tokenized.emit(gen.prompt)
            self.start_job(
                Job(
                    "generating…",
                    iter(gen),
                    self.tokens_generated.emit,
                    self._on_generation_done,
                    gen.cancel,
                    settings.max_new_tokens,
                )
            )

    @Slot(str, str)
    def probe(self, tag: str, text: str) -> None:
        """Run later, newest text per tag wins: typing fast queues one probe, not fifty."""
        fresh = tag not in self._probes
        self._probes[tag] = text
        if fresh:
            self._chunk_scheduled.emit()

    @Slot(str, object)
    def fill_mask(self, text: str, positions: Any) -> None:
        with self._guard("filling masks"):
            self._need_model()
            import models

            result = models.fill_mask(
                self.model, self.tokenizer, text, k=10, mask_positions=tuple(positions), attentions=True
            )
            self.mask_filled.emit(result)

    @Slot(object)
    def train(self, request: Any) -> None:
        """Start (or resume) a training run as a chunked job; its model becomes active at the end."""
        self._end_job("stopped")
        self._set_busy("preparing the corpus and tokenizer…")
        try:
            from playground.loading import DEFAULT_DATA_DIR
            from playground.training_session import TrainingRun

            if request.config is not None and request.config.device == "auto":
                request = replace(request, config=request.config.replace(device=self._device()))
            run = TrainingRun(request, (self._data_dir or DEFAULT_DATA_DIR) / "runs")
        except Exception as e:  # noqa: BLE001 — bad corpus or settings: say so, keep serving
            self._report(e, "preparing the training run")
            self._set_busy("")
            self.training_finished.emit("failed", str(e))
            return
        self.training_run = run
        self.training_started.emit(run.started)
        trainer = run.trainer
        self.start_job(
            Job(
                "training…",
                run.updates,
                self.training_updated.emit,
                self._on_training_done,
                None,
                trainer.config.steps - trainer.step,
            )
        )

    def _on_training_done(self, reason: str) -> None:
        run = self.training_run
        try:
            status, message, last = run.finish(reason)
        except Exception as e:  # noqa: BLE001 — the view must hear that the run ended, whatever broke
            self._report(e, "ending the training run")
            self.training_finished.emit("failed", f"the run ended with an error: {e}")
            return
        if last:
            self.training_updated.emit(last)
        if run.trainer.save_error and status != "failed":  # a failed run reports it below
            self.errored.emit(f"Training stopped, but {run.trainer.save_error}", "")
        self.last_checkpoint = str(run.trainer.last_checkpoint or "")
        if status == "failed":
            if reason != "failed":  # an exception was reported already
                self.errored.emit(message, "")
        else:  # the trained model is now the one to prompt and inspect, without reloading
            from playground.info import model_info

            trainer = run.trainer
            self.model, self.tokenizer = trainer.model.eval(), trainer.tokenizer
            name = f"trained {trainer.config.arch.upper()} ({trainer.corpus.name})"
            self.info = model_info(self.model, name, self.last_checkpoint, trainer.device.type)
            self.model_loaded.emit(self.info)
        self.training_finished.emit(status, message)

    @Slot(str)
    def save_model(self, folder: str) -> None:
        """Write the active model; a trained one keeps its training state, so it can resume."""
        with self._guard(f"saving to {folder}"):
            self._need_model()
            self._set_busy("saving…")
            run = self.training_run
            if run is not None and run.trainer.model is self.model:
                run.trainer.save(folder)
            else:
                import models

                models.save(self.model, self.tokenizer, folder)
            self._set_busy(self.job.name if self.job else "")
            self.model_saved.emit(folder)

    def _refuse_during_training(self, doing: str) -> None:
        if self.job is not None and self.job.name.startswith("training"):
            from models import ModelError

            raise ModelError(
                f"training is running: stop it before {doing} (the trained model then becomes active)"
            )

    def _on_generation_done(self, reason: str) -> None:
        self.generation_finished.emit(reason if reason in ("stopped", "failed") else "done")

    def _between_chunks(self) -> None:  # probes are served between chunks of a job
        while self._probes:
            tag = next(iter(self._probes))
            text = self._probes.pop(tag)
            self._set_busy("inspecting…")
            with self._guard("inspecting"):
                self._need_model()
                import models

                self.probed.emit(tag, models.probe(self.model, self.tokenizer, text, k=10))
            self._set_busy(self.job.name if self.job else "")

    # ---- helpers -----------------------------------------------------------------------------
    def _device(self) -> str:
        from models.device import pick_device  # the engine's one device choice

        return pick_device(self._device_choice or "auto").type

    def _need_model(self) -> None:
        if self.model is None:
            from models import ModelError

            raise ModelError("no model is loaded yet")


def _short(source: str) -> str:
    return source.split(":", 1)[1].upper() if source.startswith("builtin:") else Path(source).name
