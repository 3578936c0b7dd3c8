"""Training throughput: our loop versus transformers' GPTBigCodeForCausalLM, same data, same run.

    python -m bench.training                 # small config on this repository's own Python files
    python -m bench.training --n-embd 512 --n-layer 8 --seq-len 512 --steps 10

Both sides start from the same weights, see the same batches and use the same AdamW settings
and gradient clipping; ours runs the real `Trainer.optimizer_step` (data stream, FIM,
accelerate), theirs a minimal loop over pre-built batches. Steps alternate between the two so
that load from other processes on a shared machine hits both alike; the median step counts.
transformers is a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from train.dataset import IGNORE_INDEX, Batch
from train.loop import Trainer
from train.recipe import recipe_from_dict

REPO = Path(__file__).resolve().parents[1]


def write_corpus(directory: Path) -> Path:
    """This repository's Python sources as one jsonl shard (a real, if small, code corpus)."""
    files = sorted(p for pkg in ("model", "train", "santa_lsp") for p in (REPO / pkg).rglob("*.py"))
    path = directory / "corpus.jsonl"
    rows = ({"content": p.read_text(encoding="utf-8"), "path": str(p.relative_to(REPO))} for p in files)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_trainer(args: argparse.Namespace, work: Path) -> Trainer:
    from train.tokenizer_train import iter_corpus, train_tokenizer

    corpus = write_corpus(work)
    train_tokenizer(iter_corpus([corpus]), vocab_size=args.vocab, out_dir=work / "tok")
    recipe = recipe_from_dict({
        "model": {"n_embd": args.n_embd, "n_layer": args.n_layer, "n_head": args.n_head,
                  "n_positions": args.seq_len, "dropout": 0.0},
        "data": {"train": [str(corpus)], "tokenizer": str(work / "tok"), "seq_len": args.seq_len},
        "train": {"output": str(work / "run"), "steps": 10**6, "batch_size": args.batch_size,
                  "threads": args.threads, "lr": 1e-4, "compile": args.compile, "precision": args.precision},
    })  # fmt: skip
    return Trainer(recipe, progress=False)


def hf_model(ours: torch.nn.Module) -> torch.nn.Module:
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    c = ours.config
    config = GPTBigCodeConfig(
        vocab_size=c.vocab_size, n_positions=c.n_positions, n_embd=c.n_embd, n_layer=c.n_layer,
        n_head=c.n_head, n_inner=c.n_inner, multi_query=c.multi_query, activation_function=c.activation_function,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="sdpa", bos_token_id=None,
        eos_token_id=None,
    )  # fmt: skip
    hf = GPTBigCodeForCausalLM(config)
    hf.load_state_dict(ours.state_dict())
    return hf.train()


def hf_step(hf: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Batch, precision: str) -> float:
    # What accelerate's mixed precision does for ours: the forward under autocast, fp32 weights.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits = hf(input_ids=batch.inputs).logits
    loss = F.cross_entropy(logits.float().flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE_INDEX)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def step_seconds(step: Any) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(args, Path(tmp))
        net = trainer.model
        hf = hf_model(net)
        hf_opt = torch.optim.AdamW(
            hf.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, fused=args.hf_fused
        )
        # The same batches for transformers, drawn from a copy of the stream ahead of time.
        data = trainer.recipe.data
        stream = trainer.stream_for(data.train, data.seed, data.shuffle_window)
        batches = iter([stream.next_batch(args.batch_size) for _ in range(args.warmup + args.steps)])

        def their_step() -> float:
            return hf_step(hf, hf_opt, next(batches), args.precision)

        first = (trainer.optimizer_step()[0], their_step())
        for _ in range(args.warmup - 1):
            trainer.optimizer_step()
            their_step()
        # Steps alternate one by one: a burst of load from elsewhere slows both sides alike.
        ours, theirs = [], []
        for _ in range(args.steps):
            ours.append(step_seconds(trainer.optimizer_step))
            theirs.append(step_seconds(their_step))
    tokens = args.batch_size * args.seq_len
    ours_tps, theirs_tps = tokens / statistics.median(ours), tokens / statistics.median(theirs)
    return {
        "config": {k: getattr(args, k) for k in ("n_embd", "n_layer", "n_head", "seq_len", "batch_size", "vocab")},
        "threads": torch.get_num_threads(),
        "params_m": sum(p.numel() for p in net.parameters()) / 1e6,
        "first_step_loss": {"ours": first[0], "transformers": first[1]},
        "steps": args.steps,
        "transformers_optimizer": "AdamW fused" if args.hf_fused else "AdamW (torch default)",
        "ours_compiled": args.compile,
        "precision": args.precision,
        "tokens_per_s": {"ours": ours_tps, "transformers": theirs_tps},
        # The fastest step is the least disturbed by other processes on a shared machine.
        "tokens_per_s_best_step": {"ours": tokens / min(ours), "transformers": tokens / min(theirs)},
        "mean_step_s": {"ours": statistics.mean(ours), "transformers": statistics.mean(theirs)},
        "speedup": ours_tps / theirs_tps,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.training", description=__doc__.split("\n")[0])
    parser.add_argument("--n-embd", type=int, default=256)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=4096, help="BPE entries of the benchmark tokenizer")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--hf-fused", action="store_true", help="give transformers' loop the fused AdamW that ours uses"
    )
    parser.add_argument("--compile", action="store_true", help="train ours with [train] compile = true")
    parser.add_argument(
        "--precision", choices=["no", "bf16"], default="no",
        help="bf16: both sides under bf16 autocast (ours through accelerate), as the shipped model's run",
    )  # fmt: skip
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side (and compilation)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side (alternating)")
    return parser


def main(argv: list[str] | None = None) -> int:
    result = run(build_parser().parse_args(argv))
    tps = result["tokens_per_s"]
    print(f"ours {tps['ours']:.0f} tok/s, transformers {tps['transformers']:.0f} tok/s, x{result['speedup']:.2f}")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
