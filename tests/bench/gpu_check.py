"""CUDA check: training throughput (fp32, bf16), KV-cache generation vs transformers, bf16 decoding.

    python tests/bench/gpu_check.py                      # on a GPU, about a minute
    python tests/bench/gpu_check.py --device cpu --quick # smoke test of the script itself

(a) training steps: the Trainer itself (Trainer.advance: batch, forward, backward, clip, fused
AdamW, the per-step loss sync) at the `shakespeare` and `small` preset shapes, fp32 and bf16
autocast, tokens/s and peak memory; plus a bare step loop (forward, loss, backward, clip, AdamW,
no per-step sync) for our GPT and transformers' GPT2LMHeadModel on the same weights, so the ratio
compares models, not loops. (b) greedy generation, GPT-2 6x6x384, a 64-token prompt + 128 new
tokens: models.generate (KV cache) vs GPT2LMHeadModel.generate, the same weights (as
bench_generation.py builds them), tokens/s and whether the tokens are identical. (c) the same
generation with our model cast to bf16, and under bf16 autocast; fill-mask and probe on the
device. Prints a table; writes every number to $OUT/gpu_check.json when $OUT is set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from bench_training import flops_per_token, gpt2  # noqa: E402
from checkout import ROOT  # noqa: E402  (the repository on sys.path, models.assets mapped)

import models  # noqa: E402
from models.text.tokenizer import Tokenizer  # noqa: E402
from models.training.optimizer import make_optimizer  # noqa: E402
from models.training.settings import preset  # noqa: E402
from models.training.trainer import Trainer  # noqa: E402

PROMPT_TOKENS, NEW_TOKENS = 64, 128
transformers.utils.logging.disable_progress_bar()  # save_pretrained's shard bar
RESULTS: dict = {}


def corpus_path() -> Path:
    from models import assets

    return assets.path(assets.SHAKESPEARE)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def timed_steps(step, device: torch.device, seconds: float, warmup: int) -> tuple[float, int]:
    """Seconds per call: `warmup` calls off the clock, then as many as fit in `seconds`."""
    for _ in range(warmup):
        step()
    sync(device)
    t = time.perf_counter()
    step()
    sync(device)
    one = max(time.perf_counter() - t, 1e-6)
    n = max(5, int(seconds / one))
    t = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    return (time.perf_counter() - t) / n, n


def attempt(name: str, fn):
    """Run one check; a failure is recorded (with its traceback) and the script goes on."""
    if RESULTS.get("timed_out"):
        return None
    try:
        return fn()
    except Exception as e:
        RESULTS.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"
        print(f"!! {name} failed: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()
        return None


# ---- (a) training ----------------------------------------------------------------------------
def train_checks(device: torch.device, text: str, quick: bool, seconds: float) -> None:
    char_tok = Tokenizer.train(text.splitlines(keepends=True), "char")
    shapes = {"shakespeare": {}, "small": {}}
    if quick:
        shapes = {"shakespeare": dict(n_layer=2, n_embd=64, batch_size=4)}
    rows = RESULTS.setdefault("training", [])
    print(f"\n(a) training steps on {device}, char vocab {char_tok.vocab_size}", flush=True)
    print(f"  {'shape':34s} {'what':28s} {'tokens/s':>11s} {'ms/step':>8s} {'peak MiB':>9s}")
    for name, over in shapes.items():
        for precision in ("fp32", "bf16"):

            def trainer_row(name=name, over=over, precision=precision) -> None:
                reset_peak(device)
                cfg = preset(
                    name,
                    device=device.type,
                    precision=precision,
                    steps=1_000_000,
                    warmup_steps=100,
                    eval_every=0,
                    sample_every=0,
                    probe_every=0,
                    checkpoint_every=0,
                    **over,
                )
                tr = Trainer(cfg, corpus_path(), None, tokenizer=char_tok)
                s, n = timed_steps(tr.advance, device, seconds, warmup=5 if quick else 20)
                shape = f"{name} {cfg.n_layer}x{cfg.n_head}x{cfg.n_embd} T{cfg.context} B{cfg.batch_size}"
                tokens = cfg.batch_size * cfg.context
                row = dict(
                    shape=shape,
                    what=f"Trainer.advance {precision}",
                    tokens_per_s=tokens / s,
                    ms_per_step=s * 1e3,
                    steps_timed=n,
                    peak_mib=peak_mib(device),
                    amp_dtype=str(tr.amp_dtype),
                    loss=tr.losses[-1],
                )
                rows.append(row)
                _print_row(row)
                # the same shape as a bare loop, ours vs transformers on the same weights
                L, H, C, T, B = cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context, cfg.batch_size
                for r in bare_rows(device, L, H, C, T, B, char_tok.vocab_size, precision, seconds, quick):
                    r["shape"] = shape
                    rows.append(r)
                    _print_row(r)
                del tr

            attempt(f"training {name} {precision}", trainer_row)


def bare_rows(device, L, H, C, T, B, V, precision, seconds, quick) -> list[dict]:
    torch.manual_seed(0)
    hf = gpt2(L, H, C, T, V)
    with tempfile.TemporaryDirectory() as d:  # the very same weights in our model
        hf.save_pretrained(d)
        Tokenizer.train(["abc"], "char").save(d)
        ours, _ = models.load(d)
    cfg = preset("shakespeare")
    x = torch.randint(V, (B, T), device=device)
    y = torch.randint(V, (B, T), device=device)
    amp = torch.bfloat16 if precision == "bf16" else None
    out = []
    times = {}
    for label, model in (("ours", ours), ("transformers", hf)):
        model.to(device).train()
        opt = make_optimizer(model, cfg, device)

        def step(model=model, opt=opt) -> None:
            ctx = torch.autocast(device.type, dtype=amp) if amp else nullcontext()
            with ctx:
                logits = model(x).logits
            loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        reset_peak(device)
        s, n = timed_steps(step, device, seconds / 2, warmup=3 if quick else 10)
        times[label] = s
        fpt = flops_per_token(ours, L, C, T)
        out.append(
            dict(
                what=f"bare loop {label} {precision}",
                tokens_per_s=B * T / s,
                ms_per_step=s * 1e3,
                steps_timed=n,
                peak_mib=peak_mib(device),
                tflops=fpt * B * T / s / 1e12,
            )
        )
    out[0]["ratio_vs_transformers"] = times["transformers"] / times["ours"]
    return out


def _print_row(r: dict) -> None:
    pk = f"{r['peak_mib']:9.1f}" if r.get("peak_mib") is not None else f"{'-':>9s}"
    extra = f"  ours/transformers {r['ratio_vs_transformers']:.2f}x" if "ratio_vs_transformers" in r else ""
    print(
        f"  {r['shape']:34s} {r['what']:28s} {r['tokens_per_s']:11,.0f} {r['ms_per_step']:8.2f} {pk}{extra}",
        flush=True,
    )


# ---- (b) and (c) generation ------------------------------------------------------------------
def generation_checks(device: torch.device, text: str, quick: bool, repeats: int) -> None:
    L, H, C = (2, 2, 64) if quick else (6, 6, 384)
    new = 16 if quick else NEW_TOKENS
    tok = Tokenizer.train([text[:200_000]], "bpe", vocab_size=2000)
    cfg = transformers.GPT2Config(
        n_layer=L, n_head=H, n_embd=C, n_positions=256, bos_token_id=None, eos_token_id=None
    )
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    with tempfile.TemporaryDirectory() as d:  # our model opens the very same weights
        hf.save_pretrained(d)
        tok.save(d)
        ours, tok = models.load(d, device=device)
        ours16, _ = models.load(d, device=device)
    ours16 = ours16.to(torch.bfloat16)
    hf = hf.to(device)
    prompt_ids = tok.encode(text[5000:6000], special_tokens=False).ids[:PROMPT_TOKENS]
    prompt = tok.decode(prompt_ids)
    assert len(tok.encode(prompt, special_tokens=False)) == PROMPT_TOKENS

    def run_ours(model=ours, **kw):
        gen = models.generate(model, tok, prompt, max_new_tokens=new, temperature=0, **kw)
        return [s.token_id for s in gen]

    def run_hf():
        ids = torch.tensor([list(prompt_ids)], device=device)
        with torch.inference_mode():
            out = hf.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )
        return out[0, PROMPT_TOKENS:].tolist()

    def run_autocast():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return run_ours()

    runs = {
        "transformers generate fp32": run_hf,
        "ours fp32 (KV cache)": lambda: run_ours(alternatives=0),
        "ours fp32 top-10 + attention": lambda: run_ours(alternatives=10, attention=True),
        "ours bf16 weights": lambda: run_ours(ours16, alternatives=0),
        "ours fp32 under bf16 autocast": run_autocast,
    }
    tokens: dict[str, list[int]] = {}
    for name, fn in list(runs.items()):  # warm-up, and the outputs to compare
        t = attempt(f"generation {name}", fn)
        if t is None:
            del runs[name]
        else:
            tokens[name] = t
    times: dict[str, list[float]] = {n: [] for n in runs}
    for _ in range(repeats):  # interleaved, so drift hits every contender alike
        for name, fn in runs.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    ref = tokens.get("transformers generate fp32")
    gen = RESULTS["generation"] = {
        "shape": f"GPT-2 {L}x{H}x{C}, bpe 2000",
        "prompt_tokens": PROMPT_TOKENS,
        "new_tokens": new,
        "repeats": repeats,
        "runs": {},
    }
    print(f"\n(b, c) greedy generation on {device}: {gen['shape']}, {PROMPT_TOKENS}-token prompt + {new}")
    print(f"  {'run':32s} {'tokens/s':>9s} {'same tokens as transformers':>28s}")
    for name, ts in times.items():
        tps = new / statistics.median(ts)
        same = first_diff = None
        if ref is not None:
            same = tokens[name] == ref
            diffs = [i for i, (a, b) in enumerate(zip(tokens[name], ref, strict=False)) if a != b]
            first_diff = diffs[0] if diffs else None
        gen["runs"][name] = dict(
            tokens_per_s=tps, identical_to_transformers=same, first_difference=first_diff
        )
        shown = "-" if same is None else ("yes" if same else f"no (from token {first_diff})")
        print(f"  {name:32s} {tps:9.1f} {shown:>28s}", flush=True)
    r = gen["runs"]
    if "transformers generate fp32" in r and "ours fp32 (KV cache)" in r:
        gen["ratio_ours_vs_transformers"] = (
            r["ours fp32 (KV cache)"]["tokens_per_s"] / r["transformers generate fp32"]["tokens_per_s"]
        )
        print(f"  ratio ours / transformers (fp32, plain): {gen['ratio_ours_vs_transformers']:.2f}x")


def api_checks(device: torch.device) -> None:
    """probe, fill-mask and save on the device; fills compared with the CPU's."""
    out = RESULTS.setdefault("api", {})
    bert_dir = ROOT / "assets" / "default-bert"
    gpt_dir = ROOT / "assets" / "default-gpt"
    sentence = "the king is [MASK] of england."

    def fill() -> None:
        cpu_model, tok = models.load(bert_dir)
        dev_model, _ = models.load(bert_dir, device=device)
        a = models.fill_mask(cpu_model, tok, sentence, k=5).fills[0].top_texts
        b = models.fill_mask(dev_model, tok, sentence, k=5).fills[0].top_texts
        c = models.fill_mask(dev_model.to(torch.bfloat16), tok, sentence, k=5).fills[0].top_texts
        out["fill_mask"] = dict(cpu=list(a), device=list(b), device_bf16=list(c), same=a == b)
        print(f"  fill-mask '{sentence}': cpu {list(a)}, {device} {list(b)}, bf16 {list(c)}")

    def probe() -> None:
        model, tok = models.load(gpt_dir, device=device)
        p = models.probe(model, tok, "To be, or not to be")
        out["probe_attention_shape"] = list(p.attentions.shape)
        out["probe_perplexity"] = float(p.perplexity)
        print(f"  probe on {device}: attentions {tuple(p.attentions.shape)}, perplexity {p.perplexity:.2f}")

    def save() -> None:
        model, tok = models.load(gpt_dir, device=device)
        with tempfile.TemporaryDirectory() as d:
            models.save(model, tok, d)
            back, _ = models.load(d)
        same = all(
            torch.equal(a.cpu(), b)
            for a, b in zip(model.state_dict().values(), back.state_dict().values(), strict=True)
        )
        out["save_from_device_roundtrip"] = same
        print(f"  save from {device} and load back: identical weights {same}")

    print(f"\n(c) the API on {device}")
    for name, fn in (("fill_mask", fill), ("probe", probe), ("save", save)):
        attempt(f"api {name}", fn)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke test)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-s", type=int, default=150, help="stop the checks after this many seconds")
    ap.add_argument("--seconds", type=float, default=1.5, help="timed seconds per training row")
    args = ap.parse_args()
    t0 = time.perf_counter()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU is visible to PyTorch", file=sys.stderr)
        return 2
    RESULTS.update(
        device=str(device),
        gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        transformers=transformers.__version__,
        bf16_supported=torch.cuda.is_bf16_supported() if device.type == "cuda" else None,
        tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
        python=platform.python_version(),
    )
    print(
        f"{RESULTS['gpu']} | torch {torch.__version__} (CUDA {torch.version.cuda}) | "
        f"transformers {transformers.__version__} | python {RESULTS['python']}"
    )
    text = corpus_path().read_text(encoding="utf-8")
    seconds = 0.3 if args.quick else args.seconds
    repeats = 1 if args.quick else args.repeats

    def too_long(*_) -> None:  # a hang must not hold up the next script on the same machine
        RESULTS["timed_out"] = True
        raise TimeoutError(f"gpu_check ran past {args.max_s} s")

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(args.max_s)
    sections = (
        ("training", lambda: train_checks(device, text, args.quick, seconds)),
        ("generation", lambda: generation_checks(device, text, args.quick, repeats)),
        ("api", lambda: api_checks(device)),
    )
    for name, fn in sections:
        attempt(name, fn)
    signal.alarm(0)
    RESULTS["total_s"] = round(time.perf_counter() - t0, 1)
    print(f"\n{len(RESULTS.get('errors', {}))} failed checks; {RESULTS['total_s']} s")
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "gpu_check.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(RESULTS, indent=2, default=str))
        print(f"results: {path}")
    return 0  # failed checks are in the output and the JSON; the next script still runs


if __name__ == "__main__":
    sys.exit(main())
