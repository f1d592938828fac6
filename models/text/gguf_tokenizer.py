"""A GGUF file's tokenizer (its `tokenizer.ggml.*` metadata) built as a `tokenizers` tokenizer.

Two kinds cover the families we open: byte-level BPE ("gpt2": GPT-2, Llama 3, Qwen, SmolLM,
OLMo) and SentencePiece BPE ("llama": Llama 2, TinyLlama, Mistral, Phi-3, Gemma). Each is built as
`transformers` builds it from the same file, which the tests hold it to.
"""

from __future__ import annotations

from typing import Any

from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from models.errors import ModelError
from models.text.tokenizer import Tokenizer

CONTROL, USER_DEFINED, UNUSED = 3, 4, 5  # llama.cpp's token types

# how each `tokenizer.ggml.pre` splits text before its merges (the regexes of the models' own
# tokenizer.json files); others use GPT-2's
_LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPLITS = {
    "llama3": _LLAMA3, "llama-v3": _LLAMA3, "llama-bpe": _LLAMA3, "smaug-bpe": _LLAMA3, "dbrx": _LLAMA3,
    "qwen2": _QWEN2, "deepseek-r1-qwen": _QWEN2,
}  # fmt: skip


def gguf_tokenizer(meta: dict[str, Any], architecture: str, source: str) -> Tokenizer:
    """The tokenizer the metadata describes; a ModelError naming `source` if it describes none."""
    kind = meta.get("tokenizer.ggml.model")
    tokens = meta.get("tokenizer.ggml.tokens")
    if not tokens:
        raise ModelError(f"{source}: the file has no tokenizer (no tokenizer.ggml.tokens in its metadata)")
    types = list(meta.get("tokenizer.ggml.token_type") or [])
    if kind == "gpt2":
        hf = _byte_level(meta, tokens)
    elif kind == "llama":
        hf = _sentencepiece(meta, tokens, architecture)
    else:
        raise ModelError(
            f"{source}: tokenizer model '{kind}' is not supported "
            "(byte-level 'gpt2' and SentencePiece 'llama' are)"
        )
    byte_alphabet = set(pre_tokenizers.ByteLevel.alphabet()) if kind == "gpt2" else None
    control = [
        AddedToken(t, normalized=False, special=True)
        for t, kind_of in zip(tokens, types, strict=False)
        if kind_of == CONTROL and (byte_alphabet is None or set(t) <= byte_alphabet)
    ]
    hf.add_special_tokens(control)
    vocab = hf.get_vocab()
    hf.add_tokens(
        [
            AddedToken(t, normalized=False, special=False)
            for t, kind_of in zip(tokens, types, strict=False)
            if kind_of == USER_DEFINED and t in vocab
        ]
    )
    bos = meta.get("tokenizer.ggml.bos_token_id")
    add_bos = meta.get(
        "tokenizer.ggml.add_bos_token", kind == "llama"
    )  # llama.cpp's default for SentencePiece
    named = {
        name: tokens[i]
        for name, key in (
            ("bos_token", "bos"),
            ("eos_token", "eos"),
            ("unk_token", "unknown"),
            ("pad_token", "padding"),
        )
        if isinstance(i := meta.get(f"tokenizer.ggml.{key}_token_id"), int) and 0 <= i < len(tokens)
    }
    template = meta.get("tokenizer.chat_template")
    bos_prefix = bos if add_bos and isinstance(bos, int) and 0 <= bos < len(tokens) else None
    return Tokenizer(hf, bos_prefix, template if isinstance(template, str) else None, named)


def _byte_level(meta: dict[str, Any], tokens: list[str]) -> HFTokenizer:
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges") or []]
    hf = HFTokenizer(models.BPE(vocab, merges, fuse_unk=False, byte_fallback=False))
    split = SPLITS.get(meta.get("tokenizer.ggml.pre", ""))
    if split is None:
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        hf.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(split), "isolated"), pre_tokenizers.ByteLevel(False, use_regex=False)]
        )
    hf.decoder = decoders.ByteLevel()
    return hf


def _sentencepiece(meta: dict[str, Any], tokens: list[str], architecture: str) -> HFTokenizer:
    """SentencePiece as BPE with byte fallback: merges from the file, or rebuilt from the scores
    (Gemma's from the tokens' order: its scores do not follow its merges)."""
    if architecture.startswith("gemma"):  # a run of spaces is stored as spaces, looked up as ▁▁
        tokens = ["▁" * len(t) if " " in t and not t.strip() else t for t in tokens]
    vocab = {t: i for i, t in enumerate(tokens)}
    if meta.get("tokenizer.ggml.merges"):
        merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    else:
        scores = meta.get("tokenizer.ggml.scores") or [0.0] * len(tokens)
        rank = (
            {t: -i for i, t in enumerate(tokens)}
            if architecture.startswith("gemma")
            else dict(zip(tokens, scores, strict=False))
        )
        merges = _merges_from_scores(vocab, rank)
    unk = meta.get("tokenizer.ggml.unknown_token_id")
    unk_token = tokens[unk] if isinstance(unk, int) and 0 <= unk < len(tokens) else None
    hf = HFTokenizer(models.BPE(vocab, merges, unk_token=unk_token, fuse_unk=True, byte_fallback=True))
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    if architecture.startswith("gemma"):  # no space is added in front: none is taken away
        hf.normalizer = normalizers.Replace(" ", "▁")
        hf.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    elif architecture == "phi3":  # the prefix space comes from a normaliser, not from Metaspace
        hf.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        steps.append(decoders.Strip(" ", 1, 0))
    else:
        hf.pre_tokenizer = pre_tokenizers.Metaspace("▁", prepend_scheme="first", split=False)
        steps.append(decoders.Strip(" ", 1, 0))
    hf.decoder = decoders.Sequence(steps)
    return hf


def _merges_from_scores(vocab: dict[str, int], scores: dict[str, float]) -> list[tuple[str, str]]:
    """Every split of a token into two tokens, best-scored merged token first (ties: shorter left
    part), as `transformers` rebuilds SentencePiece merges."""
    merges = []
    for token, score in scores.items():
        local = [
            (token[:i], token[i:], score)
            for i in range(1, len(token))
            if token[:i] in vocab and token[i:] in vocab
        ]
        merges.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [(a, b) for a, b, _ in merges]
