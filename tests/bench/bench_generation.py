"""Generation speed: our KV-cache decoding vs `transformers` generate (greedy), same weights, one run.

    python tests/bench/bench_generation.py [--repeats 3]

Prints tokens/s for each and the ratios; also the cost of streaming top-k alternatives and attention rows,
and what the decoding layout of the weights gives (the same model with every weight laid out by rows).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import torch
import transformers

import models  # noqa: E402
from models import assets
from models.nn import layout
from models.text.tokenizer import Tokenizer  # noqa: E402

CORPUS = assets.path(assets.SHAKESPEARE)  # shipped in the repository and the wheel
PROMPT_TOKENS, NEW_TOKENS = 64, 128


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    text = CORPUS.read_text(encoding="utf-8")
    tok = Tokenizer.train([text[:200_000]], "bpe", vocab_size=2000)
    cfg = transformers.GPT2Config(
        n_layer=6, n_head=6, n_embd=384, n_positions=256, bos_token_id=None, eos_token_id=None
    )
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    with tempfile.TemporaryDirectory() as d:  # our model opens the very same weights
        hf.save_pretrained(d)
        tok.save(d)
        ours, tok = models.load(d)

    prompt_ids = tok.encode(text[5000:6000], special_tokens=False).ids[:PROMPT_TOKENS]
    prompt = tok.decode(prompt_ids)
    assert len(tok.encode(prompt, special_tokens=False)) == PROMPT_TOKENS

    by_rows = layout.for_training(copy.deepcopy(ours))  # as a model in training is laid out

    def run_ours(model=ours, **kw):
        gen = models.generate(model, tok, prompt, max_new_tokens=NEW_TOKENS, temperature=0, **kw)
        return [s.token_id for s in gen]

    def run_hf():
        ids = torch.tensor([list(prompt_ids)])
        with torch.inference_mode():
            out = hf.generate(
                ids,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )
        return out[0, PROMPT_TOKENS:].tolist()

    runs = {
        "transformers generate": run_hf,
        "ours, plain": lambda: run_ours(alternatives=0),
        "ours, top-10 + attention rows": lambda: run_ours(alternatives=10, attention=True),
        "ours, weights by rows": lambda: run_ours(by_rows, alternatives=0),
    }
    tokens = {name: fn() for name, fn in runs.items()}  # warm-up, and the outputs to compare
    same = len({tuple(t) for t in tokens.values()}) == 1
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):  # interleaved, so drift hits every contender alike
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    tps = {name: NEW_TOKENS / statistics.median(ts) for name, ts in times.items()}
    print(
        f"GPT-2 6x6x384, {PROMPT_TOKENS}-token prompt, {NEW_TOKENS} new tokens, greedy, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}"
    )
    for name, v in tps.items():
        print(f"  {name:32s} {v:8.1f} tokens/s")
    print(f"  identical greedy tokens: {same}")
    ref = tps["transformers generate"]
    print(f"ratio ours/transformers (plain):           {tps['ours, plain'] / ref:.2f}x  (target >= 1.0)")
    print(f"ratio ours/transformers (top-k+attention): {tps['ours, top-10 + attention rows'] / ref:.2f}x")
    print(
        "streaming cost (top-k+attention vs plain): "
        f"{tps['ours, plain'] / tps['ours, top-10 + attention rows']:.2f}x time per token"
    )
    by_layout = tps["ours, plain"] / tps["ours, weights by rows"]
    print(f"decoding layout (widening weights by columns vs rows): {by_layout:.2f}x")


if __name__ == "__main__":
    main()
