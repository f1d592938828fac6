"""Tokenizers (char-level, byte-level BPE, WordPiece) built on the `tokenizers` library."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np
from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers import Tokenizer as HFTokenizer
from tokenizers.decoders import DecodeStream

from models.errors import ModelError
from models.results import TokenizedText

KINDS = ("char", "bpe", "wordpiece")
CHAR_UNK = "<unk>"
GPT_EOS = "<|endoftext|>"
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class Tokenizer:
    """A `tokenizers.Tokenizer` plus what the app needs: display texts, unknown notes, streaming."""

    def __init__(
        self,
        hf: HFTokenizer,
        bos_prefix: int | None = None,
        chat_template: str | None = None,
        special_texts: dict[str, str] | None = None,
    ) -> None:
        self.hf = hf
        self.kind = {"WordLevel": "char", "BPE": "bpe", "WordPiece": "wordpiece", "Unigram": "unigram"}.get(
            type(hf.model).__name__, "bpe"
        )
        self.bos_prefix = bos_prefix  # a token a decoder's text starts with (Llama's <s>), if any
        self.chat_template = chat_template  # the Jinja template instruct models wrap prompts in
        self.special_texts = special_texts or {}  # bos_token, eos_token… as tokenizer_config names them

    # ---- building -------------------------------------------------------------------------
    @classmethod
    def train(
        cls, texts: Iterable[str], kind: str, vocab_size: int = 1000, specials: tuple[str, ...] = ()
    ) -> Tokenizer:
        """Learn a tokenizer of `kind` from texts (an iterable of strings). A char tokenizer may
        start with `specials` (ids 0, 1, …: an encoder–decoder's "<pad>" and "</s>")."""
        if kind == "char":
            chars = sorted(set("".join(texts)) - set(specials))
            names = [*specials, CHAR_UNK, *chars]
            hf = _char_tokenizer({name: i for i, name in enumerate(names)})
            if specials:  # whole tokens, never split into characters, and left out of decoded text
                hf.add_special_tokens(list(specials))
            return cls(hf)
        if kind == "bpe":
            hf = _bpe_tokenizer(models.BPE())
            trainer = trainers.BpeTrainer(
                vocab_size=vocab_size,
                special_tokens=[GPT_EOS],
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                show_progress=False,
            )
        elif kind == "wordpiece":
            hf = _wordpiece_tokenizer(models.WordPiece(unk_token="[UNK]"), lowercase=True)
            trainer = trainers.WordPieceTrainer(
                vocab_size=vocab_size, special_tokens=BERT_SPECIALS, show_progress=False
            )
        else:
            raise ModelError(f"unknown tokenizer '{kind}' (choose from {', '.join(KINDS)})")
        hf.train_from_iterator(texts, trainer=trainer)
        if kind == "wordpiece":
            hf.post_processor = _bert_post_processor(hf)
        return cls(hf)

    @classmethod
    def load(cls, folder: str | Path) -> Tokenizer:
        """tokenizer.json, else GPT-2 vocab.json + merges.txt, else Marian source.spm + vocab.json,
        else BERT vocab.txt."""
        from models.text.marian import is_marian, marian_tokenizer

        folder = Path(folder)
        try:
            if (folder / "tokenizer.json").is_file():
                hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
                bos, template, specials = _decoder_settings(hf, _read_json(folder / "tokenizer_config.json"))
                if template is None and (folder / "chat_template.jinja").is_file():  # newer folders
                    template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
                return cls(hf, bos, template, specials)
            if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
                bpe = models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt"))
                return cls(_bpe_tokenizer(bpe))
            if is_marian(folder):
                return cls(marian_tokenizer(folder))
            if (folder / "vocab.txt").is_file():
                lower = _read_json(folder / "tokenizer_config.json").get("do_lower_case", True)
                wp = models.WordPiece.from_file(str(folder / "vocab.txt"), unk_token="[UNK]")
                hf = _wordpiece_tokenizer(wp, lowercase=bool(lower))
                # so that "[MASK]" typed in a text stays one token
                hf.add_special_tokens([t for t in BERT_SPECIALS if hf.token_to_id(t) is not None])
                hf.post_processor = _bert_post_processor(hf)
                return cls(hf)
        except ModelError:
            raise
        except Exception as e:  # tokenizers raises plain Exceptions for malformed files
            raise ModelError(f"{folder}: the tokenizer files could not be read ({e})") from e
        raise ModelError(
            f"{folder}: no tokenizer found (expected tokenizer.json, vocab.json + merges.txt, "
            "source.spm + vocab.json, or vocab.txt)"
        )

    def save(self, folder: str | Path) -> None:
        self.hf.save(str(Path(folder) / "tokenizer.json"))

    # ---- vocabulary -----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    def token_id(self, token: str) -> int | None:
        return self.hf.token_to_id(token)

    @property
    def unk_id(self) -> int | None:
        return next((i for t in (CHAR_UNK, "[UNK]", "<unk>") if (i := self.token_id(t)) is not None), None)

    @property
    def mask_id(self) -> int | None:
        return next((i for t in ("[MASK]", "<mask>") if (i := self.token_id(t)) is not None), None)

    @property
    def eos_id(self) -> int | None:
        return self.token_id(GPT_EOS)

    @property
    def mask_token(self) -> str:
        return "[MASK]" if self.token_id("[MASK]") is not None else "<mask>"

    # ---- text <-> ids ---------------------------------------------------------------------
    def encode(self, text: str, special_tokens: bool = True) -> TokenizedText:
        enc = self.hf.encode(text, add_special_tokens=special_tokens)
        offsets = np.array(enc.offsets, dtype=np.int64).reshape(-1, 2)
        # byte-level pieces read best as the input text they cover; WordPiece keeps its "##"
        texts = tuple(
            text[s:e] if e > s and self.kind != "wordpiece" and not special else tok
            for tok, (s, e), special in zip(enc.tokens, enc.offsets, enc.special_tokens_mask, strict=True)
        )
        notes = ()
        unk = self.unk_id
        if unk is not None:
            unknown = sorted(
                {text[s:e] for i, (s, e) in zip(enc.ids, enc.offsets, strict=True) if i == unk and e > s}
            )
            if unknown:
                notes = (
                    f"{len(unknown)} character(s) unknown to the tokenizer, shown as "
                    f"{self.hf.id_to_token(unk)}: {' '.join(map(repr, unknown))}",
                )
        return TokenizedText(np.array(enc.ids, dtype=np.int64), texts, offsets, notes)

    def encode_for_decoder(self, text: str) -> TokenizedText:
        """A decoder's view of a text: its tokens, after the start token its tokenizer_config asks
        for (add_bos_token), which the text itself may already hold (a chat template's)."""
        tokens = self.encode(text, special_tokens=False)
        bos = self.bos_prefix
        if bos is None or (len(tokens) and tokens.ids[0] == bos):
            return tokens
        return TokenizedText(
            np.concatenate([[bos], tokens.ids]).astype(np.int64),
            (self.hf.id_to_token(bos) or "", *tokens.texts),
            np.concatenate([np.zeros((1, 2), np.int64), tokens.offsets]),
            tokens.notes,
        )

    def apply_chat(self, text: str) -> str:
        """`text` as the user's turn in the model's own chat template, ready for the reply
        (rendered with Jinja in a sandbox, as `transformers` does)."""
        if not self.chat_template:
            raise ModelError("this model has no chat template: turn chat off to prompt it directly")
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str):
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)  # Llama 3.2's date
        env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(x, indent=indent, ensure_ascii=False)
        try:
            return env.from_string(self.chat_template).render(
                messages=[{"role": "user", "content": text}],
                add_generation_prompt=True,
                tools=None,  # defined, as transformers defines them: "is not none" tests must fail
                documents=None,
                **{"bos_token": "", "eos_token": ""} | self.special_texts,
            )
        except TemplateError as e:
            raise ModelError(f"the model's chat template failed: {e}") from e

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=skip_special)

    def token_text(self, token_id: int) -> str:
        """One token as text on its own (byte-level pieces may show a replacement character)."""
        if self.kind == "wordpiece":
            return self.hf.id_to_token(int(token_id)) or ""
        return self.decode([token_id])

    def stream(self) -> StreamDecoder:
        return StreamDecoder(self.hf)


class StreamDecoder:
    """Incremental decoding: never shows half of a multi-byte character."""

    def __init__(self, hf: HFTokenizer) -> None:
        self._hf = hf
        self._stream: DecodeStream | None = DecodeStream(skip_special_tokens=False)
        self._ids: list[int] = []
        self._shown = ""

    def step(self, token_id: int) -> str:
        self._ids.append(int(token_id))
        if self._stream is not None:
            try:
                piece = self._stream.step(self._hf, int(token_id)) or ""
                self._shown += piece
                return piece
            except Exception:  # tokenizers' stream gives up on some byte-fallback runs (bytes that are
                self._stream = None  # no UTF-8): from here on, the whole text is decoded each step
        text = self._hf.decode(self._ids, skip_special_tokens=False)
        if text.endswith("\ufffd") or not text.startswith(self._shown):
            return ""  # half a character, or a start the decoder rewrote: wait for more
        piece, self._shown = text[len(self._shown) :], text
        return piece


def _char_tokenizer(vocab: dict[str, int]) -> HFTokenizer:
    hf = HFTokenizer(models.WordLevel(vocab, unk_token=CHAR_UNK))
    hf.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every char
    hf.decoder = decoders.Fuse()  # join characters without spaces
    return hf


def _bpe_tokenizer(model: models.BPE) -> HFTokenizer:
    hf = HFTokenizer(model)
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.post_processor = processors.ByteLevel(trim_offsets=False)
    return hf


def _wordpiece_tokenizer(model: models.WordPiece, lowercase: bool) -> HFTokenizer:
    hf = HFTokenizer(model)
    hf.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    hf.decoder = decoders.WordPiece(prefix="##")
    return hf


def _bert_post_processor(hf: HFTokenizer) -> processors.TemplateProcessing:
    cls_id, sep_id = hf.token_to_id("[CLS]"), hf.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ModelError("the WordPiece vocabulary has no [CLS] or [SEP] token")
    return processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )


def _decoder_settings(hf: HFTokenizer, config: dict) -> tuple[int | None, str | None, dict[str, str]]:
    """(start-token id, chat template, special token texts) from tokenizer_config.json."""
    specials = {}
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = config.get(name)
        value = value.get("content") if isinstance(value, dict) else value  # {"content": "<s>", …}
        if isinstance(value, str):
            specials[name] = value
    bos = specials.get("bos_token")
    bos_id = hf.token_to_id(bos) if bos else None
    if "add_bos_token" in config:
        bos_id = bos_id if config["add_bos_token"] else None
    else:  # as transformers: the tokenizer.json post-processor decides (Llama 3 adds its BOS there)
        added = hf.encode("", add_special_tokens=True).ids
        bos_id = bos_id if bos_id is not None and added[:1] == [bos_id] else None
    template = config.get("chat_template")
    if isinstance(template, list):  # several named templates: the default one
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    return bos_id, template if isinstance(template, str) else None, specials


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: not valid JSON ({e})") from e
