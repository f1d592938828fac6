"""A Marian (opus-mt) folder's SentencePiece tokenizer, read into one `tokenizers` Unigram model."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from models.errors import ModelError

FILES = ("source.spm", "vocab.json")  # what makes a folder a Marian tokenizer's
SPECIALS = ("</s>", "<unk>", "<pad>")
ABSENT = -100.0  # the score of a piece the source model lacks (a target-only piece): never preferred
UNKNOWN, CONTROL = 2, 3  # SentencePiece piece types


def is_marian(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES) and not (folder / "merges.txt").is_file()


def marian_tokenizer(folder: Path) -> HFTokenizer:
    """Encode as `MarianTokenizer` does: the source SentencePiece model splits the text (its own
    normalisation, a "▁" before each word), and vocab.json numbers the pieces. Decoding joins pieces,
    "▁" read as a space. A folder with two vocabularies (target_vocab.json) is refused."""
    if (folder / "target_vocab.json").is_file():
        raise ModelError(
            f"{folder}: this Marian model has separate source and target vocabularies (not supported)"
        )
    proto = _read_proto(folder / "source.spm")
    if proto.trainer_spec.model_type != 1:
        raise ModelError(f"{folder}/source.spm is not a unigram SentencePiece model")
    ids = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    if sorted(ids.values()) != list(range(len(ids))) or "<unk>" not in ids:
        raise ModelError(f"{folder}/vocab.json: ids must run 0 … {len(ids) - 1} and include <unk>")
    scores = {p.piece: p.score for p in proto.pieces if p.type not in (UNKNOWN, CONTROL)}
    pieces = sorted(ids, key=ids.get)
    hf = HFTokenizer(models.Unigram([(p, scores.get(p, ABSENT)) for p in pieces], ids["<unk>"], False))
    spec = proto.normalizer_spec
    steps = [normalizers.Precompiled(spec.precompiled_charsmap)] if spec.precompiled_charsmap else []
    if spec.remove_extra_whitespaces:  # SentencePiece trims the text and squeezes its spaces
        steps += [normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " ")]
    hf.normalizer = normalizers.Sequence(steps)
    scheme = "always" if spec.add_dummy_prefix else "never"
    hf.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)
    hf.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme)
    hf.add_special_tokens([AddedToken(t, special=True) for t in SPECIALS if t in ids])
    return hf


def _read_proto(path: Path):
    try:
        from sentencepiece import sentencepiece_model_pb2  # (needs protobuf)
    except ImportError as e:
        raise ModelError(
            f"reading {path.name} needs the sentencepiece and protobuf packages ({e}): "
            "pip install sentencepiece protobuf"
        ) from e
    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception as e:  # noqa: BLE001 — protobuf's DecodeError and friends
        raise ModelError(f"{path}: not a SentencePiece model ({e})") from e
    return proto
