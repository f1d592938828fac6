"""Fine-tuning BERT as a sequence classifier: labelled examples, their batches, loss and scores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models.errors import ModelError
from models.nn import Model
from models.results import Baseline, ClassEval
from models.text.labelled import Labelled, labelled_task, read_labelled
from models.text.tokenizer import Tokenizer
from models.training.batches import pad_rows
from models.training.objectives.base import Objective, evaluated
from models.training.settings import TrainConfig

DATA_FILE = "labelled.jsonl"  # a user's examples, kept with the run so resuming reads nothing else


def with_labels(model: Model, labels: tuple[str, ...]) -> Model:
    """A classifier of `labels` on this BERT's encoder. Its pooler and classifier start random
    (std 0.02, as `transformers` does when a masked-LM folder opens as a classifier); a model
    that already classifies these labels is returned as it is."""
    if not model.capabilities.encoder_only:
        raise ModelError(
            f"classification fine-tuning needs a BERT; this is a {model.config.label} "
            "(fine-tune it on text instead)"
        )
    if model.config.labels == tuple(labels):
        return model
    new = type(model)(replace(model.config, labels=tuple(labels), has_mlm_head=False))
    encoder = {
        k: v for k, v in model.state_dict().items() if not k.startswith(("head.", "pooler.", "classifier."))
    }
    new.load_state_dict(encoder, strict=False)
    return new.to(next(model.parameters()).device)


def encode_examples(
    tokenizer: Tokenizer, texts: tuple[str, ...], context: int
) -> tuple[list[list[int]], int]:
    """[CLS] text [SEP] ids of each text, cut to the context (keeping [SEP]); and how many were cut."""
    sep = tokenizer.token_id("[SEP]")
    cls = tokenizer.token_id("[CLS]")
    if cls is None or sep is None:
        raise ModelError("this tokenizer has no [CLS] or [SEP] token: a BERT classifier needs both")
    encodings = tokenizer.hf.encode_batch(list(texts), add_special_tokens=False)
    rows, cut = [], 0
    for e in encodings:
        body = e.ids[: context - 2]
        cut += len(e.ids) > context - 2
        rows.append([cls, *body, sep])
    return rows, cut


class Labels(Objective):
    """Labelled examples: batches of [CLS] text [SEP], cross-entropy on the labels, validation
    accuracy and a confusion matrix."""

    data_file = DATA_FILE

    def __init__(self, config: TrainConfig, data: Labelled, tokenizer: Tokenizer | None) -> None:
        super().__init__(config, data, tokenizer)
        if tokenizer is None:
            raise ModelError("fine-tuning needs the model's own tokenizer")
        if not isinstance(data, Labelled):
            raise ModelError("classification needs labelled examples (a CSV, TSV or JSON Lines file)")
        self.data, self.tokenizer = data, tokenizer
        self.train_data, self.val_data = data.split(config.val_fraction, config.seed)
        self.train_rows, cut_train = encode_examples(tokenizer, self.train_data.texts, config.context)
        self.val_rows, self.val_cut = encode_examples(tokenizer, self.val_data.texts, config.context)
        self.train_labels = torch.tensor(self.train_data.ids)
        self.probe_text = config.probe_text or self.val_data.texts[0]
        self.sample_prompt = ""
        cut = cut_train + self.val_cut
        self.notes = (
            (f"{cut} of {len(data)} examples are longer than the context ({config.context} tokens) "
             "and were truncated",) if cut else ()
        )  # fmt: skip
        self.last_eval: ClassEval | None = None

    def describe(self) -> str:
        return (
            f"{len(self.train_rows)} labelled examples to learn from, {len(self.val_rows)} held out, "
            f"{len(self.data.labels)} classes"
        )

    def model(self, given: Model | None, resuming: bool = False) -> Model:
        if given is None:
            raise ModelError("classification fine-tuning starts from a BERT: open one first")
        labels = tuple(getattr(given.config, "labels", ()))
        if resuming and labels != self.data.labels:  # a new head would be random
            raise ModelError(
                f"the examples' classes ({', '.join(self.data.labels)}) are not the ones this classifier "
                f"was trained on ({', '.join(labels)})"
            )
        classifier = with_labels(given, self.data.labels)
        self.pad = classifier.config.pad_token_id
        if self.config.context > classifier.config.context:
            raise ModelError(
                f"context {self.config.context} is longer than the model's ({classifier.config.context})"
            )
        return classifier

    # ---- a step -------------------------------------------------------------------------------
    def batch(self, gen: torch.Generator, device: torch.device):
        pick = torch.randint(len(self.train_rows), (self.config.batch_size,), generator=gen)
        ids, mask = pad_rows([self.train_rows[i] for i in pick.tolist()], self.pad)
        return (ids.to(device), mask.to(device)), self.train_labels[pick].to(device)

    def loss(self, net: torch.nn.Module, model: Model, x, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model.classify(*x).logits.float(), y)

    def tokens(self, x) -> int:
        return int(x[0].numel())  # (the ids; the mask is not read as tokens)

    # ---- what a validation step measures ------------------------------------------------------
    def evaluate(self, model: Model, device: torch.device, autocast) -> tuple[float, dict[str, Any]]:
        """The loss over every held-out example, and its scores (kept in `last_eval`)."""
        logits = []
        size = max(self.config.batch_size, 32)
        with evaluated(model), torch.inference_mode(), autocast:
            for start in range(0, len(self.val_rows), size):
                ids, mask = pad_rows(self.val_rows[start : start + size], model.config.pad_token_id)
                logits.append(model.classify(ids.to(device), mask.to(device)).logits.float().cpu())
        self.last_eval = class_eval(torch.cat(logits), self.val_data, self.val_cut)
        return self.last_eval.loss, {"classes": self.last_eval}

    def baseline(self, model: Model, evaluate) -> Baseline:
        loss = evaluate()
        return Baseline(val_loss=loss, classes=self.last_eval)

    def sample(self, model: Model, step: int) -> str:
        """One held-out example and the label the model gives it."""
        i = (step // max(1, self.config.sample_every or 1)) % len(self.val_rows)
        ids, mask = pad_rows([self.val_rows[i]], model.config.pad_token_id)
        device = next(model.parameters()).device
        with evaluated(model), torch.inference_mode():
            p = torch.softmax(model.classify(ids.to(device), mask.to(device)).logits[0].float(), -1)
        labels = self.data.labels
        guess, true = int(p.argmax()), self.val_data.ids[i]
        return f"{self.val_data.texts[i]} → {labels[guess]} {float(p[guess]):.2f} (true: {labels[true]})"

    # ---- keeping the data with the run --------------------------------------------------------
    @classmethod
    def saved_data(cls, folder: Path, saved: dict[str, Any], seed: int) -> Labelled:
        if saved["name"].startswith("task:"):
            return labelled_task(saved["name"], int(saved["examples"]), seed)
        if (folder / DATA_FILE).is_file():
            return read_labelled(folder / DATA_FILE, "text", "label")
        raise ModelError(f"{folder}: this checkpoint does not carry its labelled examples")


def class_eval(logits: torch.Tensor, data: Labelled, truncated: int = 0) -> ClassEval:
    """Accuracy, loss, confusion matrix and per-example predictions from class logits [N, C]."""
    true = torch.tensor(data.ids)
    prob = torch.softmax(logits, -1)
    predicted = prob.argmax(-1)
    C = len(data.labels)
    confusion = torch.bincount(true * C + predicted, minlength=C * C).reshape(C, C)
    return ClassEval(
        labels=data.labels,
        accuracy=float((predicted == true).float().mean()),
        loss=float(F.cross_entropy(logits, true)),
        confusion=confusion.numpy().astype(np.int64),
        texts=data.texts,
        true=true.numpy().astype(np.int64),
        predicted=predicted.numpy().astype(np.int64),
        prob=prob.max(-1).values.numpy().astype(np.float32),
        truncated=truncated,
    )
