"""An encoder–decoder folder: the engine opens it, the app refuses it with the reason and keeps its model."""

from __future__ import annotations

import torch

import models
from models.nn.seq2seq import Seq2Seq, Seq2SeqConfig
from tests.models.helpers import char_tokenizer


def test_an_encoder_decoder_folder_is_refused_and_the_model_stays(qtbot, window, tmp_path, finish):
    tok = char_tokenizer()
    torch.manual_seed(0)
    models.save(
        Seq2Seq(Seq2SeqConfig(vocab_size=tok.vocab_size, d_model=16)).eval(), tok, tmp_path / "marian"
    )
    before = window.info
    status, message = finish(lambda: window.client.load(str(tmp_path / "marian")))
    assert status == "failed" and "encoder–decoder (Marian)" in message
    assert window.info == before  # the tiny GPT is still the active model
    assert (
        window.errors.last is not None
        and "do not show encoder–decoder models yet" in window.errors.last.message
    )
