"""Runtime benchmark: ours against transformers on the same weights, in one run.

    python -m model.bench --make-random small --tokenizer DIR --out bench-models/small
    python -m model.bench --model bench-models/small --dtypes fp32,bf16,int8

Prints prefill latency, decode speed, the latency of one appended character on a
1500-token prompt (with and without the prefix cache), and the memory-bandwidth limit of
decoding (weight bytes read per token over the bandwidth measured in the same run).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

import model
from model import GenerationConfig
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.gpt_bigcode import GPTBigCode, init_weights
from model.quantize import Int8Linear
from model.tokenizer import load_tokenizer

SHAPES = {
    "small": dict(n_layer=8, n_embd=512, n_head=8, n_inner=2048),
    "santacoder": dict(n_layer=24, n_embd=2048, n_head=16, n_inner=8192),
}
PREFILLS = (1024, 1536)
APPEND_LENGTH = 1500
DECODE_TOKENS = 32


def make_random(shape: str, tokenizer_dir: Path, out: Path, seed: int = 0) -> Path:
    """A random SantaCoder-format model of `shape` with a real tokenizer, saved in fp16."""
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).get_vocab_size()
    config = ModelConfig(vocab_size=vocab + (-vocab % 128), n_positions=2048, **SHAPES[shape])
    net = GPTBigCode(config)
    init_weights(net, seed=seed)
    save_checkpoint(out, config, net.half().state_dict(), tokenizer_dir)
    return out


def sample_text() -> str:
    """Real code for prompts: this machine's Python standard library."""
    import argparse as source_module

    return Path(source_module.__file__).read_text(encoding="utf-8")


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` runs: the least disturbed by whatever else the machine does."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def bench_ours(engine: model.Engine, ids: list[int], repeats: int) -> dict[str, float]:
    one = GenerationConfig(max_new_tokens=1, use_prefix_cache=False)
    results = {f"prefill_{n}_ms": best_ms(lambda n=n: engine.generate(ids[:n], one), repeats) for n in PREFILLS}
    results["decode_tok_s"] = max(decode_tok_s(engine, ids[:128]) for _ in range(repeats))
    text = engine.tokenizer.decode(ids[:APPEND_LENGTH])
    cached = GenerationConfig(max_new_tokens=1)
    engine.generate(text, cached)  # the prompt as it was one keystroke ago
    # Each repeat types one more character, as a user would.
    appended = iter(range(1000))
    type_one_more = lambda: engine.generate(text + "x" * next(appended), cached)  # noqa: E731
    results["append_cached_ms"] = best_ms(type_one_more, repeats)
    results["append_uncached_ms"] = best_ms(lambda: engine.generate(text + "y", one), repeats)
    return results


def decode_tok_s(engine: model.Engine, prompt: list[int]) -> float:
    """One greedy run's decode rate, timed from the first token to the last."""
    run = engine.generate(prompt, GenerationConfig(max_new_tokens=DECODE_TOKENS + 1, use_prefix_cache=False))
    return (len(run.token_ids) - 1) / (run.elapsed_s - (run.first_token_s or 0))


def interleaved_decode(directory: str, dtypes: list[str], rounds: int) -> dict[str, list[float]]:
    """Decode rates of several dtypes measured in alternation, one run of each per round.

    The host's memory bandwidth drifts by 10-15% over minutes; runs taken back to back in a
    round see the same machine, so the per-round ratios compare dtypes fairly.
    """
    engines = {dtype: model.load(directory, device="cpu", dtype=dtype) for dtype in dtypes}
    prompt = next(iter(engines.values())).tokenizer.encode(sample_text())[:128]
    rates: dict[str, list[float]] = {dtype: [] for dtype in dtypes}
    for _ in range(rounds + 1):  # the first round warms every engine up and is dropped
        for dtype, engine in engines.items():
            rates[dtype].append(decode_tok_s(engine, prompt))
    return {dtype: runs[1:] for dtype, runs in rates.items()}


def print_interleaved(rates: dict[str, list[float]]) -> None:
    print(f"\n== decode, {len(next(iter(rates.values())))} interleaved rounds (median tokens/s) ==")
    for dtype, runs in rates.items():
        print(f"{dtype:6} {statistics.median(runs):8.1f}   runs: {' '.join(f'{r:.1f}' for r in runs)}")
    for a, b in [("bf16", "fp32"), ("int8", "bf16"), ("int8", "fp32")]:
        if a in rates and b in rates:
            ratios = [x / y for x, y in zip(rates[a], rates[b], strict=True)]
            print(f"{a} / {b}: median of per-round ratios {statistics.median(ratios):.2f}x")


def bench_transformers(directory: Path, dtype: torch.dtype, ids: list[int], repeats: int) -> dict[str, float]:
    from transformers import GPTBigCodeForCausalLM

    net = GPTBigCodeForCausalLM.from_pretrained(directory, dtype=dtype).eval()

    def generate(prompt: list[int], new: int) -> torch.Tensor:
        with torch.inference_mode():
            return net.generate(
                torch.tensor([prompt]), max_new_tokens=new, min_new_tokens=new, do_sample=False,
                pad_token_id=0,
            )  # fmt: skip

    results = {f"prefill_{n}_ms": best_ms(lambda n=n: generate(ids[:n], 1), repeats) for n in PREFILLS}
    short = ids[:128]
    total = best_ms(lambda: generate(short, DECODE_TOKENS + 1), repeats)
    results["decode_tok_s"] = 1000 * DECODE_TOKENS / (total - best_ms(lambda: generate(short, 1), repeats))
    # transformers keeps no cache across calls: one more character costs a full prefill.
    results["append_uncached_ms"] = best_ms(lambda: generate(ids[: APPEND_LENGTH + 1], 1), repeats)
    return results


def bench_ctranslate2(directory: Path, ids: list[int], repeats: int) -> dict[str, float]:
    """CTranslate2's int8 CPU generator on the same weights (converted once, kept beside them)."""
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    converted = directory / "ctranslate2-int8"
    if not (converted / "model.bin").exists():
        TransformersConverter(str(directory)).convert(str(converted), quantization="int8", force=True)
    generator = ctranslate2.Generator(
        str(converted), device="cpu", compute_type="int8", intra_threads=torch.get_num_threads()
    )
    tokenizer = load_tokenizer(directory)  # CT2 takes token strings, not ids

    def generate(prompt: list[int], new: int) -> object:
        tokens = [tokenizer.id_to_token(i) for i in prompt]
        return generator.generate_batch(
            [tokens], max_length=new, min_length=new, sampling_topk=1, include_prompt_in_result=False
        )

    results = {f"prefill_{n}_ms": best_ms(lambda n=n: generate(ids[:n], 1), repeats) for n in PREFILLS}
    total = best_ms(lambda: generate(ids[:128], DECODE_TOKENS + 1), repeats)
    results["decode_tok_s"] = 1000 * DECODE_TOKENS / (total - best_ms(lambda: generate(ids[:128], 1), repeats))
    results["append_uncached_ms"] = best_ms(lambda: generate(ids[: APPEND_LENGTH + 1], 1), repeats)
    return results


# llama.cpp's converter identifies a tokenizer's pre-tokenizer by hashing its output, and
# SantaCoder's is not in its list: it is declared StarCoder's (the same family's byte-level BPE).
# Only the GGUF's tokenizer metadata depends on it; llama-bench times random token ids.
LLAMA_CPP_CONVERT = """
import runpy, sys
tree = sys.argv.pop(1)
sys.path[:0] = [tree, tree + "/gguf-py"]
from conversion.base import TextModel
TextModel.get_vocab_base_pre = lambda self, tokenizer: "starcoder"
sys.argv[0] = tree + "/convert_hf_to_gguf.py"
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def bench_llama_cpp(directory: Path, llama_cpp: Path, repeats: int) -> dict[str, float]:
    """llama.cpp q8_0 on the same weights: its own converter, then `llama-bench` (which feeds
    random tokens, so only the prompt lengths matter). `llama_cpp` is a built llama.cpp tree."""
    gguf = directory / "llama-cpp-q8_0.gguf"
    if not gguf.exists():
        convert = [sys.executable, "-c", LLAMA_CPP_CONVERT, str(llama_cpp), str(directory)]
        subprocess.run([*convert, "--outtype", "q8_0", "--outfile", str(gguf)], check=True, capture_output=True)
    lengths = ",".join(map(str, PREFILLS))
    command = [
        str(llama_cpp / "build" / "bin" / "llama-bench"), "-m", str(gguf), "-p", lengths, "-n", str(DECODE_TOKENS),
        "-t", str(torch.get_num_threads()), "-r", str(repeats), "-o", "json",
    ]  # fmt: skip
    rows = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    results = {f"prefill_{r['n_prompt']}_ms": 1000 * r["n_prompt"] / r["avg_ts"] for r in rows if r["n_prompt"]}
    results["decode_tok_s"] = next(r["avg_ts"] for r in rows if r["n_gen"])
    return results


def memory_bandwidth_gb_s(repeats: int = 5) -> float:
    """Read bandwidth: summing 1 GiB that is not in any cache."""
    data = torch.ones(2**28, dtype=torch.float32)
    seconds = best_ms(data.sum, repeats) / 1000
    return data.numel() * 4 / seconds / 1e9


def weight_bytes_per_token(engine: model.Engine) -> int:
    """Bytes decoding one token reads: every weight except the position table (one row)."""
    int8 = [m for m in engine.net.modules() if isinstance(m, Int8Linear)]
    seen: set[int] = set()
    total = sum(layer.weight_bytes for layer in int8)
    for name, tensor in [*engine.net.named_parameters(), *engine.net.named_buffers()]:
        if name.endswith("wpe.weight") or id(tensor) in seen or tensor is None:
            continue
        seen.add(id(tensor))
        total += tensor.numel() * tensor.element_size()
    if int8:
        wte = engine.net.transformer.wte.weight  # the lm_head is an int8 copy: wte is looked up
        total -= wte.numel() * wte.element_size()
    return total


def real_prompts(engine: model.Engine, count: int = 4, length: int = 256) -> list[list[int]]:
    ids = engine.tokenizer.encode(sample_text())
    return [ids[i * length : (i + 1) * length] for i in range(count)]


def min_cosine(engine: model.Engine, reference: list[torch.Tensor]) -> float:
    """The worst agreement, over every position of every prompt, with the fp32 logits."""
    pairs = zip(real_prompts(engine), reference, strict=True)
    return min(float(torch.cosine_similarity(engine.logits(p), ref, dim=-1).min()) for p, ref in pairs)


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    report: dict[str, dict[str, float]] = {}
    bandwidth = memory_bandwidth_gb_s()
    print(f"memory read bandwidth: {bandwidth:.1f} GB/s, torch threads: {torch.get_num_threads()}")
    reference: list[torch.Tensor] = []
    for dtype in args.dtypes.split(","):
        engine = model.load(args.model, device="cpu", dtype=dtype)
        ids = engine.tokenizer.encode(sample_text())[: max(PREFILLS) + 1]
        if dtype == "fp32":
            reference = [engine.logits(p) for p in real_prompts(engine)]
        ours = bench_ours(engine, ids, args.repeats)
        if reference:
            ours["logits_min_cosine_vs_fp32"] = min_cosine(engine, reference)
        limit = bandwidth * 1e9 / weight_bytes_per_token(engine)
        ours["bandwidth_limit_tok_s"] = limit
        ours["decode_pct_of_limit"] = 100 * ours["decode_tok_s"] / limit
        report[f"ours_{dtype}"] = ours
        del engine
        gc.collect()
        if dtype in ("fp32", "bf16") and not args.no_transformers:
            report[f"transformers_{dtype}"] = bench_transformers(
                Path(args.model), model.DTYPES[dtype], ids, args.repeats
            )
        if dtype == "int8" and args.peers:
            report["ctranslate2_int8"] = bench_ctranslate2(Path(args.model), ids, args.repeats)
        if dtype == "int8" and args.llama_cpp:
            report["llama_cpp_q8_0"] = bench_llama_cpp(Path(args.model), args.llama_cpp, args.repeats)
        print_table(report, dtype)
    print_summary(report)
    if args.interleave:
        rates = interleaved_decode(args.model, args.dtypes.split(","), args.interleave)
        print_interleaved(rates)
        report["interleaved_decode_tok_s"] = {dtype: statistics.median(runs) for dtype, runs in rates.items()}
    return report


ROWS = [
    ("prefill_1024_ms", "prefill 1024 tokens (ms)", False),
    ("prefill_1536_ms", "prefill 1536 tokens (ms)", False),
    ("decode_tok_s", "decode (tokens/s)", True),
    ("append_cached_ms", f"+1 char on {APPEND_LENGTH} tokens, prefix cache (ms)", False),
    ("append_uncached_ms", f"+1 char on {APPEND_LENGTH} tokens, no cache (ms)", False),
]


# Peers compared with each of our dtypes (the names of their report entries).
BASELINES = {
    "fp32": ["transformers_fp32"],
    "bf16": ["transformers_bf16"],
    "int8": ["ctranslate2_int8", "llama_cpp_q8_0"],
}


def print_table(report: dict[str, dict[str, float]], dtype: str) -> None:
    ours = report[f"ours_{dtype}"]
    baselines = [name for name in BASELINES.get(dtype, []) if name in report]
    print(f"\n== {dtype} ==")
    print(f"{'':48} {'ours':>10}" + "".join(f" {name:>17} {'speed-up':>9}" for name in baselines))
    for key, label, higher_is_better in ROWS:
        mine, cells = ours.get(key), ""
        for name in baselines:
            # The baselines keep no cache across requests: their "+1 char" is always the uncached figure.
            base = report[name].get("append_uncached_ms" if "append" in key else key)
            ratio = "" if mine is None or base is None else f"{(mine / base) ** (1 if higher_is_better else -1):.2f}x"
            cells += f" {_fmt(base):>17} {ratio:>9}"
        print(f"{label:48} {_fmt(mine):>10}{cells}")
    print(
        f"{'decode bandwidth limit (tokens/s)':48} {_fmt(ours['bandwidth_limit_tok_s']):>10}"
        f"   ours at {ours['decode_pct_of_limit']:.0f}% of it"
    )
    if "logits_min_cosine_vs_fp32" in ours:
        print(f"{'logits cosine vs fp32, worst position':48} {ours['logits_min_cosine_vs_fp32']:>10.4f}")
    if "append_cached_ms" in ours:
        gain = ours["append_uncached_ms"] / ours["append_cached_ms"]
        print(f"{'prefix cache: cold / cached latency':48} {gain:>9.1f}x")


def print_summary(report: dict[str, dict[str, float]]) -> None:
    pairs = [("bf16", "fp32"), ("int8", "bf16"), ("int8", "fp32")]
    lines = [
        f"decode {a} / {b}: {report[f'ours_{a}']['decode_tok_s'] / report[f'ours_{b}']['decode_tok_s']:.2f}x"
        for a, b in pairs
        if f"ours_{a}" in report and f"ours_{b}" in report
    ]
    if lines:
        print("\n" + "\n".join(lines))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory to benchmark")
    parser.add_argument("--make-random", choices=sorted(SHAPES), help="first write a random model")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer directory for --make-random")
    parser.add_argument("--out", type=Path, help="where --make-random writes the model")
    parser.add_argument("--dtypes", default="fp32,bf16,int8", help="comma-separated: fp32,bf16,fp16,int8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--interleave", type=int, default=0, metavar="ROUNDS",
        help="also measure decode of every dtype in alternation for ROUNDS rounds (fair ratios on a drifting host)",
    )  # fmt: skip
    parser.add_argument("--no-transformers", action="store_true", help="skip the transformers baseline")
    parser.add_argument("--peers", action="store_true", help="also CTranslate2 int8 (pip install ctranslate2)")
    parser.add_argument(
        "--llama-cpp", type=Path, metavar="DIR",
        help="also llama.cpp q8_0: a llama.cpp source tree with llama-bench built in DIR/build/bin",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.make_random:
        if not (args.tokenizer and args.out):
            parser.error("--make-random needs --tokenizer and --out")
        args.model = str(make_random(args.make_random, args.tokenizer, args.out))
        print(f"wrote a random {args.make_random}-shaped model to {args.out}")
    if not args.model:
        parser.error("--model (or --make-random) is required")
    try:
        report = run(args)
    except model.LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
