"""The encoder–decoder against transformers' MarianMTModel holding the same weights, in one run.

    python tests/bench/bench_seq2seq.py [--rounds 5]

Training step: a batch of (source, target) pairs, forward + loss + backward + clip + AdamW.
Greedy generation: one source, 64 new tokens with the decoder's cache (ours: encode once, decode
token by token, as `models.inspect.translate` does; theirs: `generate`, greedy, no early stop), the
same tokens checked. Random weights at a Marian-like shape.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import torch
import torch.nn.functional as F
import transformers
from bench_training import timed  # one clock for every bench script

import models
from models.training.optimizer import make_optimizer
from models.training.settings import TrainConfig

SHAPE = dict(
    d_model=256, encoder_layers=3, decoder_layers=3, encoder_attention_heads=4, decoder_attention_heads=4,
    encoder_ffn_dim=1024, decoder_ffn_dim=1024, max_position_embeddings=256,
)  # fmt: skip
VOCAB, BATCH, SRC, TGT, NEW = 8000, 16, 32, 32, 64


def pair_models():
    cfg = transformers.MarianConfig(
        vocab_size=VOCAB, activation_function="swish", scale_embedding=True, pad_token_id=0,
        decoder_start_token_id=0, eos_token_id=1, dropout=0.0, **SHAPE,
    )  # fmt: skip
    torch.manual_seed(0)
    theirs = transformers.MarianMTModel(cfg)
    with tempfile.TemporaryDirectory() as d:
        theirs.save_pretrained(d)
        models.Tokenizer.train(["abc"], "char", specials=("<pad>", "</s>")).save(d)
        ours, _ = models.load(d)
    return ours, theirs


def train_step(model, optimizer, forward, y):
    def step() -> None:
        logits = forward(model)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


@torch.inference_mode()
def ours_greedy(model, src: torch.Tensor, n: int) -> list[int]:
    memory, _ = model.encode(src)
    cache = model.new_cache(1, n)
    token = torch.zeros(1, 1, dtype=torch.long)
    out = []
    for _ in range(n):
        token = (
            model.decode(token, memory, cache=cache, last_only=True).logits[:, -1].argmax(-1, keepdim=True)
        )
        out.append(int(token))
    return out


@torch.inference_mode()
def theirs_greedy(model, src: torch.Tensor, n: int) -> list[int]:
    ids = model.generate(
        input_ids=src,
        max_new_tokens=n,
        do_sample=False,
        num_beams=1,
        eos_token_id=None,
        forced_eos_token_id=None,
    )  # no stop and no forced end: n tokens, as ours
    return ids[0, 1:].tolist()  # after the decoder start token


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {threads} threads")
    ours, theirs = pair_models()
    print(f"shape {SHAPE}, vocab {VOCAB}: {sum(q.numel() for q in ours.parameters()) / 1e6:.1f} M parameters")
    g = torch.Generator().manual_seed(1)
    src = torch.randint(2, VOCAB, (BATCH, SRC), generator=g)
    dec = torch.randint(2, VOCAB, (BATCH, TGT), generator=g)
    y = torch.randint(2, VOCAB, (BATCH, TGT), generator=g)
    cfg = TrainConfig()
    ours.train()
    theirs.train()
    runs = {
        "ours": train_step(ours, make_optimizer(ours, cfg, torch.device("cpu")), lambda m: m(src, dec).logits, y),  # noqa: E501
        "transformers": train_step(
            theirs, make_optimizer(theirs, cfg, torch.device("cpu")),
            lambda m: m(input_ids=src, decoder_input_ids=dec).logits, y,
        ),
    }  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for k, fn in runs.items():
            times[k].append(timed(fn))
    best = {k: statistics.median(v) for k, v in times.items()}
    tokens = BATCH * TGT
    for k, s in best.items():
        shape = f"batch {BATCH} × {SRC} → {TGT}"
        print(f"training step, {shape}: {k:12s} {tokens / s:7,.0f} target tokens/s, {s * 1e3:.0f} ms")
    print(f"  ratio ours / transformers: {best['transformers'] / best['ours']:.2f}x")

    ours.eval()
    theirs.eval()
    one = src[:1]
    assert ours_greedy(ours, one, NEW) == theirs_greedy(theirs, one, NEW), "the greedy tokens differ"
    print(f"greedy generation: the same {NEW} tokens from both")
    gen = {"ours": [], "transformers": []}
    for _ in range(args.rounds):
        for k, fn in (("ours", ours_greedy), ("transformers", theirs_greedy)):
            t = time.perf_counter()
            fn(ours if k == "ours" else theirs, one, NEW)
            gen[k].append(NEW / (time.perf_counter() - t))
    rate = {k: statistics.median(v) for k, v in gen.items()}
    for k, r in rate.items():
        print(f"greedy generation, {SRC}-token source, {NEW} new tokens: {k:12s} {r:6.1f} tokens/s")
    print(f"  ratio ours / transformers: {rate['ours'] / rate['transformers']:.2f}x")


if __name__ == "__main__":
    main()
