"""Fine-tuning: does pre-training help, and is our classifier step as fast as transformers'?

    python tests/bench/bench_finetune.py claim [--seeds 0 1 2] [--steps 300]   # pre-trained vs scratch
    python tests/bench/bench_finetune.py throughput [--rounds 5]               # ours vs transformers
    python tests/bench/bench_finetune.py masked                                # the built-in BERT's accuracy

claim: the built-in word-order task (a held-out Shakespeare line, in order or with its words
shuffled), 200 labelled examples to learn from and 500 to score on. The built-in pre-trained BERT
and the same architecture from random weights are fine-tuned with the same settings, examples and
steps (the classify preset); validation accuracy per seed and the curves (written as JSON to
--out). throughput: a full classifier training step (forward, loss, backward, clip, AdamW) of our
BERT and of `BertForSequenceClassification` holding the same weights, same batch, interleaved in
one run. masked: the built-in BERT's held-out masked-token accuracy (tests/bench/bert_recipe.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import checkout  # noqa: F401  (the repository on sys.path, as from any folder)
import torch
import torch.nn.functional as F
import transformers
from bench_training import timed  # one clock for every bench script

import models
from models import assets
from models.text.labelled import labelled_task
from models.training.batches import pad_rows as pad
from models.training.finetune import finetune_config, finetuner
from models.training.optimizer import make_optimizer
from models.training.settings import TrainConfig

TRAIN, HELD_OUT = 200, 500
SHAPES = {  # name: (layers, heads, width, context, batch, vocab)
    "built-in BERT": (4, 4, 256, 64, 16, 1000),
    "BERT-small shape": (4, 8, 512, 128, 16, 30522),
}


def run(pretrained: bool, seed: int, steps: int) -> tuple[list[tuple[int, float]], float]:
    """Validation accuracy curve and the seconds it took."""
    bert, tok = models.load(assets.builtin_model("bert"))
    if not pretrained:
        torch.manual_seed(seed)
        bert = models.Bert(bert.config)  # the same architecture and tokenizer, random weights
    data = labelled_task("word-order", TRAIN + HELD_OUT, seed=seed)
    config = finetune_config(
        bert, "classify", steps=steps, seed=seed, val_fraction=HELD_OUT / (TRAIN + HELD_OUT),
        eval_every=max(1, steps // 10), probe_every=0, sample_every=0, checkpoint_every=0,
    )  # fmt: skip
    trainer = finetuner(bert, tok, data, config)
    assert len(trainer.objective.train_rows) == TRAIN, len(trainer.objective.train_rows)
    t0 = time.perf_counter()
    curve = []
    for r in trainer:
        if r.before is not None:  # the untrained head: where both curves start
            curve.append((0, r.before.classes.accuracy))
        if r.classes is not None:
            curve.append((r.step, r.classes.accuracy))
    return curve, time.perf_counter() - t0


def claim(seeds: list[int], steps: int, out: Path | None) -> None:
    rows, curves = [], {}
    for seed in seeds:
        result = {}
        for pretrained in (True, False):
            curve, seconds = run(pretrained, seed, steps)
            key = "pre-trained" if pretrained else "from scratch"
            curves[f"{key} seed {seed}"] = curve
            result[key] = curve[-1][1]
            print(f"seed {seed} {key:12s}: accuracy {curve[-1][1]:.1%} after {steps} steps ({seconds:.0f} s)")
        rows.append(result)
    pre = statistics.mean(r["pre-trained"] for r in rows)
    scratch = statistics.mean(r["from scratch"] for r in rows)
    print("\n| seed | pre-trained | from scratch | difference |\n| --- | --- | --- | --- |")
    for seed, r in zip(seeds, rows, strict=True):
        diff = r["pre-trained"] - r["from scratch"]
        print(f"| {seed} | {r['pre-trained']:.1%} | {r['from scratch']:.1%} | {100 * diff:+.1f} points |")
    print(f"| mean | {pre:.1%} | {scratch:.1%} | **{100 * (pre - scratch):+.1f} points** |")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "finetune_claim.json").write_text(json.dumps(curves, indent=1))


def throughput(rounds: int) -> None:
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {threads} threads")
    for name, (L, H, C, T, B, V) in SHAPES.items():
        hf_config = transformers.BertConfig(
            vocab_size=V, hidden_size=C, num_hidden_layers=L, num_attention_heads=H, intermediate_size=4 * C,
            max_position_embeddings=T, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1}, attn_implementation="sdpa",
        )  # fmt: skip
        torch.manual_seed(0)
        theirs = transformers.BertForSequenceClassification(hf_config).train()
        with tempfile.TemporaryDirectory() as d:  # the very same weights in our model
            theirs.save_pretrained(d)
            models.Tokenizer.train(["a b c"], "wordpiece", vocab_size=64).save(d)
            ours, _ = models.load(d)
        ours.train()
        lengths = torch.randint(T // 2, T + 1, (B,), generator=torch.Generator().manual_seed(0))
        ids, mask = pad([torch.randint(5, V, (int(n),)).tolist() for n in lengths], 0)
        y = torch.randint(2, (B,))
        runs = {
            "ours": step_fn(ours, y, lambda m, i=ids, k=mask: m.classify(i, k).logits),
            "transformers": step_fn(
                theirs, y, lambda m, i=ids, k=mask: m(input_ids=i, attention_mask=k).logits
            ),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(rounds):  # interleaved, so other load hits both alike
            for k, fn in runs.items():
                times[k].append(timed(fn))
        best = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"\n{name}: {L} layers, {H} heads, width {C}, padded length {ids.shape[1]}, batch {B}, vocab {V}"
        )
        for k, s in best.items():
            print(f"  {k:14s} {B / s:8.1f} examples/s  {s * 1e3:7.2f} ms/step")
        print(f"  ratio ours / transformers: {best['transformers'] / best['ours']:.2f}x")


def step_fn(model, y, forward):
    """One full training step of a classifier: forward, loss, backward, clip, AdamW."""
    optimizer = make_optimizer(model, TrainConfig(), torch.device("cpu"))

    def step() -> None:
        loss = F.cross_entropy(forward(model), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def masked() -> None:
    from bert_recipe import evaluate, print_eval

    print_eval(evaluate(assets.builtin_model("bert")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("claim")
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--steps", type=int, default=300)
    c.add_argument("--out", type=Path, default=None)
    t = sub.add_parser("throughput")
    t.add_argument("--rounds", type=int, default=5)
    sub.add_parser("masked")
    args = p.parse_args()
    if args.what == "claim":
        claim(args.seeds, args.steps, args.out)
    elif args.what == "throughput":
        throughput(args.rounds)
    else:
        masked()


if __name__ == "__main__":
    main()
