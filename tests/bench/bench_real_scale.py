"""Real models at real sizes: every view's figure against its budget on random weights of real shapes.

    python tests/bench/bench_real_scale.py [--shape smollm2|qwen-0.5b|llama-1b] [--long 2048]

Makes a folder of the shape (random bf16 weights, as the real ones are stored, and a BPE tokenizer
trained here), then measures, each in this process with its peak memory above what was held before
it (the kernel's high-water mark, reset first):
- opening the folder (ours) against `from_pretrained` (each in a fresh process);
- a probe of 512 tokens (and --long) as the attention view asks (a layer at a time, the overview
  pooled, one layer kept), one more layer read, a probe keeping every head; the logit lens of 512
  tokens (its first block and the whole), 270-head sweeps of 64 tokens (knock-out and patching);
- greedy decoding in float32 and bfloat16, ours against `transformers` `generate` at the same
  precision, and the share of the memory bus's limit (bytes of weights per token at 16.5 GB/s).
The last lines print each figure against its budget (DESIGN.md, issue 28).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections import deque
from pathlib import Path

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import numpy as np
import torch
import transformers
from bench_decoder import load_in_fresh_process  # noqa: E402  (one way to time a fresh open)

import models  # noqa: E402
from models import assets  # noqa: E402
from models.text.tokenizer import Tokenizer  # noqa: E402

SHAPES = {
    "smollm2": dict(  # SmolLM2-135M
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048, rope_theta=100000.0,
        tie_word_embeddings=True,
    ),
    "qwen-0.5b": dict(  # Qwen2.5-0.5B
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rope_theta=1000000.0, tie_word_embeddings=True,
    ),
    "llama-1b": dict(  # Llama-3.2-1B
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072,
        rope_theta=500000.0, tie_word_embeddings=True,
    ),
}  # fmt: skip
CONFIG = {"smollm2": transformers.LlamaConfig, "qwen-0.5b": transformers.Qwen2Config,
          "llama-1b": transformers.LlamaConfig}  # fmt: skip


def _status(field: str) -> float:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def measured(fn):
    """(result, seconds, peak MiB above what the process held before)."""
    gc.collect()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark restarts here
    t0 = time.perf_counter()
    result = fn()
    took = time.perf_counter() - t0
    return result, took, _status("VmHWM") - before


def make_folder(shape: str, folder: Path) -> Tokenizer:
    torch.manual_seed(0)
    cfg = CONFIG[shape](**SHAPES[shape])
    with torch.device("meta"):
        skeleton = transformers.AutoModelForCausalLM.from_config(cfg)
    theirs = skeleton.to_empty(device="cpu").to(torch.bfloat16)
    theirs.lm_head.weight = theirs.model.embed_tokens.weight
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, 0.02)
        for name, p in theirs.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
    theirs.tie_weights()  # (the head is the embedding, as the config says)
    theirs.save_pretrained(folder)
    text = assets.path(assets.SHAKESPEARE).read_text(encoding="utf-8")
    tok = Tokenizer.train([text[:300_000]], "bpe", vocab_size=4000)
    tok.save(folder)
    return tok


def text_of(tok: Tokenizer, n: int) -> str:
    words = assets.path(assets.SHAKESPEARE).read_text(encoding="utf-8")[20_000:]
    ids = tok.encode(words[: n * 8], special_tokens=False).ids[:n]
    return tok.decode(ids)


def decode_rate(model, tok, prompt: str, n: int) -> tuple[float, list[int]]:
    list(models.generate(model, tok, prompt, max_new_tokens=4, temperature=0, alternatives=0))  # warm
    t0 = time.perf_counter()
    ids = [s.token_id for s in models.generate(model, tok, prompt, max_new_tokens=n, temperature=0)]
    return len(ids) / (time.perf_counter() - t0), ids


def their_rate(theirs, ids: list[int], n: int) -> tuple[float, list[int]]:
    x = torch.tensor([ids])
    kwargs = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
    with torch.inference_mode():
        theirs.generate(x, **(kwargs | {"max_new_tokens": 4, "min_new_tokens": 4}))
        t0 = time.perf_counter()
        out = theirs.generate(x, **kwargs)
    return n / (time.perf_counter() - t0), out[0, len(ids) :].tolist()


class Report:
    """Each figure said as it is measured, and the whole table against the budgets at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def __call__(self, what: str, got: str, budget: str = "—") -> None:
        print(f"{what}: {got}", flush=True)
        self.rows.append((what, got, budget))

    def table(self) -> None:
        width = max(len(r[0]) for r in self.rows)
        print()
        for what, got, budget in self.rows:
            print(f"{what:<{width}}  {got:<52}  budget {budget}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=SHAPES, default="smollm2")
    ap.add_argument("--long", type=int, default=2048, help="a long text's tokens (0: skip)")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--skip", default="", help="comma-separated: load,probe,lens,sweeps,decode,stream")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    report = Report()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, shape {args.shape}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / args.shape
        tok = make_folder(args.shape, folder)
        if "load" not in skip:
            (t_a, m_a), (t_b, m_b) = (load_in_fresh_process(who, folder) for who in ("ours", "hf"))
            report("open as float32 (fresh process)", f"{t_a:.2f} s, +{m_a:.0f} MiB",
                   f"≤ from_pretrained's {t_b:.2f} s, +{m_b:.0f} MiB")  # fmt: skip
        model, tok = models.load(folder)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{n_params / 1e6:.0f}M parameters", flush=True)
        lengths = [512] + ([args.long] if args.long else [])
        if "probe" not in skip:
            for n in lengths:
                probes(report, model, tok, text_of(tok, n), n)
        if "lens" not in skip:
            for n in lengths:
                lens(report, model, tok, text_of(tok, n), n)
        if "sweeps" not in skip:
            sweeps(report, model, tok)
        if "decode" not in skip:
            decode(report, model, tok, folder, args.new_tokens)
        if "stream" not in skip:
            streamed_attention(report, model.config.n_layer, model.config.n_head)
    report.table()


def probes(report: Report, model, tok, text: str, n: int) -> None:
    """The probe as the attention view asks for it (a long text on a big model: read a layer at a
    time, the overview pooled in automatic's two scales, one layer kept whole), one more layer
    read from the kept streams, and, at 512 tokens, a probe keeping every head (Compare, head
    scores), with the attention view's overview pooled from it."""
    from playground.overview import OverviewPooler, build_mosaic

    def as_the_view_asks():
        pooler = OverviewPooler("auto", 0)
        probe = models.probe(model, tok, text, each_layer=pooler)
        return probe, pooler, pooler.result()

    runs = [measured(as_the_view_asks) for _ in range(3)]
    took, peak = sorted(t for _, t, _ in runs)[1], sorted(m for *_, m in runs)[1]  # medians
    probe, pooler, pooled = runs[0][0]
    kept = "every head" if probe.attentions.size else f"overview + layer {pooled.layer}"
    report(f"probe as the attention view asks, {n} tokens ({kept}; median of 3)",
           f"{took:.2f} s, +{peak:.0f} MiB", "≤ 1.5 s" if n == 512 else "—")  # fmt: skip
    if pooler.streams:
        middle = len(pooler.streams) // 2
        _, t, m = measured(lambda: models.layer_attention(model, middle, pooler.streams[middle]))
        report(f"one more layer of it, {n} tokens", f"{t:.2f} s, +{m:.0f} MiB", "walking layers")
    runs = probe = pooler = pooled = None  # (let go before the probe keeping every head)
    if n != 512:
        return
    runs = [measured(lambda: models.probe(model, tok, text)) for _ in range(3)]
    took, peak = sorted(t for _, t, _ in runs)[1], sorted(m for *_, m in runs)[1]
    report(f"probe keeping every head, {n} tokens (median of 3)", f"{took:.2f} s, +{peak:.0f} MiB", "—")
    whole = runs[0][0]
    took = {
        s: measured(lambda s=s: build_mosaic(whole.attentions, scale=s))[1] for s in ("linear", "no-first")
    }
    report(
        f"its overview, {n} tokens: linear / first token left out",
        f"{took['linear']:.2f} s / {took['no-first']:.2f} s",
        "pooled during the probe above",
    )


def streamed_attention(report: Report, L: int, H: int, prompt: int = 256, new: int = 256) -> None:
    """A streamed run's attention view at this shape: the whole picture rebuilt at a redraw (as it
    was, every 200 ms) against rows grown as tokens come (random rows of the real shapes)."""
    from types import SimpleNamespace

    from models.inspect.run_attention import GrowingAttention, run_attention

    rng = np.random.default_rng(0)

    def step(width: int, block: bool = False):
        rows = rng.random((L, H, width), dtype=np.float32)
        first = rng.random((L, H, prompt, prompt), dtype=np.float32) if block else None
        return SimpleNamespace(
            prompt_attention=first, cross_attention=None, attention=rows, final_attention=None
        )

    steps = [step(prompt, block=True)] + [step(prompt + i) for i in range(1, new)]
    T = prompt + new - 1
    run_attention(steps, complete=False)  # (a warm-up: the pages are touched once)
    start = time.perf_counter()
    run_attention(steps, complete=False)
    per_redraw = time.perf_counter() - start
    grown = GrowingAttention(new)
    grown.add(steps[:1])
    start = time.perf_counter()
    grown.add(steps[1:])
    per_token = (time.perf_counter() - start) / (new - 1)
    size = L * H * T * T * 4 / 2**20
    report(f"streamed attention, {T} tokens: a redraw", f"rebuilt {per_redraw * 1000:.0f} ms, {size:.0f} MiB",
           f"grown: {per_token * 1000:.2f} ms a token, 0 at a redraw")  # fmt: skip


def lens(report: Report, model, tok, text: str, n: int) -> None:
    from models.inspect.lens import lens_blocks

    blocks = []
    _, first, peak_first = measured(
        lambda: blocks.append(lens_blocks(model, tok, text, k=10)) or next(blocks[0])
    )
    # each block's map is dropped for the next, as the view does (a list of them all was 1.4 GB)
    _, rest, peak = measured(lambda: deque(blocks[0], maxlen=1))
    report(
        f"logit lens, {n} tokens: first rows / whole",
        f"{first:.2f} s / {first + rest:.2f} s, +{max(peak, peak_first):.0f} MiB",
        "≤ 1 s / ≤ 10 s, ≤ 512 MB" if n == 512 else "—",
    )


def sweeps(report: Report, model, tok) -> None:
    text = text_of(tok, 64)
    heads = model.config.n_layer * model.config.n_head
    _, took, peak = measured(lambda: list(models.ablation_sweep(model, tok, text)))
    report(f"{heads}-head knock-out sweep, 64 tokens", f"{took:.1f} s, +{peak:.0f} MiB", "≤ 20 s")
    ids = list(tok.encode(text, special_tokens=False).ids)
    corrupted = tok.decode([*ids[:-4], *reversed(ids[-4:])])  # as many tokens, the end changed
    if len(tok.encode(corrupted, special_tokens=False)) == len(ids):
        _, took, peak = measured(lambda: list(models.patching_sweep(model, tok, text, corrupted)))
        report(f"{heads}-head patching sweep, 64 tokens", f"{took:.1f} s, +{peak:.0f} MiB", "≤ 20 s")


def bytes_per_token(model) -> int:
    """What one decoding step reads: every weight but the embedding's rows (an untied or int8 head
    is read whole; a tied float head is the embedding itself)."""
    from models.nn.quantized import Int8Linear

    head = model.lm_head
    if isinstance(head, Int8Linear):
        read = [m.weight_int8 for m in model.modules() if isinstance(m, Int8Linear)]
        read += [m.scale for m in model.modules() if isinstance(m, Int8Linear)]
        read += [p for n, p in model.named_parameters() if "embed" not in n]
    else:
        read = list(model.parameters())
    return sum(t.numel() * t.element_size() for t in read)


def bus_rate(total_bytes: int = 1536 * 2**20) -> float:
    """Bytes per second float32 matrix–vector products stream from memory here, measured now over
    more weights than the caches hold (this machine's L3 is 480 MB): a decoding step's limit."""
    weights = [torch.randn(4096, 4096) for _ in range(total_bytes // (4096 * 4096 * 4))]
    x = torch.randn(4096)
    for w in weights:
        torch.mv(w, x)
    t0, rounds = time.perf_counter(), 0
    while time.perf_counter() - t0 < 2.0:
        for w in weights:
            torch.mv(w, x)
        rounds += 1
    return rounds * sum(w.numel() * 4 for w in weights) / (time.perf_counter() - t0)


DECODE_PAIRS = 3  # ours then theirs, medians


def decode(report: Report, model, tok, folder: Path, n: int) -> None:
    bus = bus_rate()
    report("memory bus, fp32 matrix–vector products", f"{bus / 1e9:.1f} GB/s (measured now)")
    prompt = text_of(tok, 64)
    ids = list(tok.encode(prompt, special_tokens=False).ids)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    for precision in ("fp32", "bf16", "int8"):
        ours = model if precision == "fp32" else models.load(folder, precision=precision)[0]
        if precision == "int8":  # transformers' own CPU int8: torch's dynamic quantization
            theirs = torch.ao.quantization.quantize_dynamic(theirs.float(), {torch.nn.Linear}, torch.qint8)
        else:
            theirs = theirs.to(torch.float32 if precision == "fp32" else torch.bfloat16)
        per_token = bytes_per_token(ours)
        limit = bus / per_token
        rates, theirs_rates = [], []
        for _ in range(DECODE_PAIRS):  # interleaved: this machine's pace drifts within minutes
            rate, got = decode_rate(ours, tok, prompt, n)
            their, expected = their_rate(theirs, ids, n)
            rates.append(rate)
            theirs_rates.append(their)
        rate, their = float(np.median(rates)), float(np.median(theirs_rates))
        ratios = sorted(a / b for a, b in zip(rates, theirs_rates, strict=True))
        same = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), len(got))
        report(
            f"greedy decoding, {precision}",
            f"{rate:.1f} tok/s = {rate / limit:.0%} of the bus, {rate / their:.2f}x transformers "
            f"({their:.1f}; pairs {', '.join(f'{r:.2f}' for r in ratios)}); the same first {same} tokens",
            "≥ 60% of the bus, ≥ 1.2x",
        )


if __name__ == "__main__":
    main()
