"""Token attributions of a 64-token generation on the built-in GPT: ours vs captum one token at a time.

    python tests/bench/bench_attribution.py [--steps 32]

The built-in GPT continues a Shakespeare prompt by 64 tokens; every generated token is explained by
the tokens before it (the full generated × input matrix). Ours (`models.attribute`: 8 targets a
batch) against the plain way with captum on `transformers`' GPT2LMHeadModel holding the same
weights (one target at a time), for input × gradient and integrated gradients; attention rollout
alone. The issue's budget: input × gradient's matrix in ≤ 10 s.
"""

from __future__ import annotations

import argparse
import time

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import numpy as np
import torch
import transformers
from captum.attr import InputXGradient, IntegratedGradients

import models
from models import assets
from models.inspect.attribution import neutral_token

PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?\n"


def theirs_one_at_a_time(hf, ids: torch.Tensor, targets, method: str, steps: int, neutral: int) -> np.ndarray:
    """The reference: captum on transformers' model, one explained token per call."""
    layer = hf.transformer.drop  # after GPT-2's token and position embeddings, as ours
    rows = []
    for t in targets:
        x = ids[:t]
        seen: list[torch.Tensor] = []
        handle = layer.register_forward_hook(lambda _m, _a, out, seen=seen: seen.append(out))
        with torch.no_grad():
            hf(x[None])
            hf(torch.full_like(x, neutral)[None])
        handle.remove()

        def f(e, t=t, x=x):
            handle = layer.register_forward_hook(lambda _m, _a, _o: e)
            try:
                logits = hf(x.expand(e.shape[0], -1)).logits
            finally:
                handle.remove()
            return torch.log_softmax(logits[:, t - 1], -1)[:, ids[t]]

        inputs = seen[0].detach().clone().requires_grad_(True)
        if method == "input_x_gradient":
            a = InputXGradient(f).attribute(inputs)
        else:
            a = IntegratedGradients(f).attribute(inputs, baselines=seen[1].detach(), n_steps=steps)
        rows.append(a.sum(-1)[0].detach().numpy())
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=32)
    args = ap.parse_args()
    folder = assets.builtin_model("gpt")
    ours, tok = models.load(folder)
    hf = transformers.GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").eval()
    steps = list(models.generate(ours, tok, PROMPT, max_new_tokens=64, temperature=0.8, seed=1))
    text = PROMPT + "".join(s.text for s in steps)
    ids = torch.tensor(tok.encode_for_decoder(text).ids)
    targets = list(range(len(ids) - 64, len(ids)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(targets)} generated tokens "
          f"over {len(ids)} tokens")  # fmt: skip
    for method in ("input_x_gradient", "integrated_gradients", "rollout"):
        t0 = time.perf_counter()
        result = list(models.attribute(ours, tok, text, method, targets=targets, steps=args.steps))[-1]
        mine = time.perf_counter() - t0
        if method == "rollout":
            print(f"attention rollout: {mine:.2f} s")
            continue
        t0 = time.perf_counter()
        rows = theirs_one_at_a_time(hf, ids, targets, method, args.steps, neutral_token(tok))
        reference = time.perf_counter() - t0
        worst = max(float(np.abs(result.scores[g, : len(r)] - r).max()) for g, r in enumerate(rows))
        extra = ""
        if result.delta is not None:
            size = np.abs(result.delta)
            extra = f", |delta| median {np.median(size):.4f}, max {size.max():.4f}"
        name = models.inspect.attribution.METHODS[method] + (f" ({args.steps} steps)" if result.steps else "")
        print(f"{name}: ours {mine:.2f} s vs captum one token at a time {reference:.2f} s: "
              f"{mine / reference:.2f}x (largest difference {worst:.1e}{extra})")  # fmt: skip


if __name__ == "__main__":
    main()
