"""Runtime benchmark: ours against transformers on the same weights, in one run.

    python -m bench.runtime --make-random small --tokenizer DIR --out bench-models/small
    python -m bench.runtime --model bench-models/small --dtypes fp32,bf16,int8
    python -m bench.runtime --model bench-models/small --dtypes int8,int8:fp32 --interleave 3 --interleave-only

A dtype `int8:PATH` forces how the int8 model multiplies prompts (model/quantize.py: int8, fp32,
bf16); plain `int8` lets the load-time probe choose, and its choice is printed.
Prints prefill latency, decode speed, the latency of one appended character on a
1500-token prompt (with and without the prefix cache), and the memory-bandwidth limit of
decoding (weight bytes read per token over the bandwidth measured in the same run).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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
IDLE_BETWEEN_RUNS_S = 1.0


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


# One token after a prompt, with nothing reused: a cold prefill.
COLD_ONE_TOKEN = GenerationConfig(max_new_tokens=1, use_prefix_cache=False)


def prefill_ms(engine: model.Engine, prompt: str | list[int], repeats: int) -> float:
    return best_ms(lambda: engine.generate(prompt, COLD_ONE_TOKEN), repeats)


def bench_ours(engine: model.Engine, ids: list[int], repeats: int) -> dict[str, float]:
    results = {f"prefill_{n}_ms": prefill_ms(engine, ids[:n], repeats) for n in PREFILLS}
    results["decode_tok_s"] = max(decode_tok_s(engine, ids[:128]) for _ in range(repeats))
    text = engine.tokenizer.decode(ids[:APPEND_LENGTH])
    cached = GenerationConfig(max_new_tokens=1)
    engine.generate(text, cached)  # the prompt as it was one keystroke ago
    # Each repeat types one more character, as a user would.
    appended = iter(range(1000))
    type_one_more = lambda: engine.generate(text + "x" * next(appended), cached)  # noqa: E731
    results["append_cached_ms"] = best_ms(type_one_more, repeats)
    results["append_uncached_ms"] = prefill_ms(engine, text + "y", repeats)
    return results


def decode_tok_s(engine: model.Engine, prompt: list[int]) -> float:
    """One greedy run's decode rate, timed from the first token to the last."""
    run = engine.generate(prompt, GenerationConfig(max_new_tokens=DECODE_TOKENS + 1, use_prefix_cache=False))
    return (len(run.token_ids) - 1) / (run.elapsed_s - (run.first_token_s or 0))


def ours_round(engine: model.Engine, ids: list[int]) -> dict[str, float]:
    """One interleaved round of ours: a cold 1024-token prefill and a decode run."""
    prefill = prefill_ms(engine, ids[: PREFILLS[0]], 1)
    return {"prefill_1024_ms": prefill, "decode_tok_s": decode_tok_s(engine, ids[:128])}


def interleaved(rounds: int, runners: dict[str, Callable[[], dict[str, float]]]) -> dict[str, list[dict[str, float]]]:
    """Every runner once per round, in turn.

    The host's memory bandwidth drifts by 10-15% over minutes; runs taken back to back in a
    round see the same machine, so per-round ratios compare fairly. The first round warms
    everything up and is dropped.
    """
    results: dict[str, list[dict[str, float]]] = {name: [] for name in runners}
    for _ in range(rounds + 1):
        for name, runner in runners.items():
            # Let the previous runner's idle threads stop spinning (OpenMP pools spin-wait
            # after their work): they would take this runner's cores.
            time.sleep(IDLE_BETWEEN_RUNS_S)
            results[name].append(runner())
    return {name: runs[1:] for name, runs in results.items()}


# (a, b) pairs whose per-round ratio a/b is printed, when both were measured.
RATIO_PAIRS = [
    ("bf16", "fp32"), ("int8", "bf16"), ("int8", "fp32"), ("int8", "ctranslate2_int8"), ("int8", "llama_cpp_q8_0"),
    ("int8", "int8:int8"), ("int8:fp32", "int8:int8"), ("int8:bf16", "int8:int8"),
]  # fmt: skip


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def print_interleaved(results: dict[str, list[dict[str, float]]]) -> None:
    rounds = len(next(iter(results.values())))
    for key, label, higher_is_better in (row for row in ROWS if row[0] in ("prefill_1024_ms", "decode_tok_s")):
        series = {name: [run[key] for run in runs] for name, runs in results.items()}
        print(f"\n== {label}, {rounds} interleaved rounds (median) ==")
        for name, values in series.items():
            print(f"{name:18} {statistics.median(values):9.1f}   runs: {' '.join(f'{v:.1f}' for v in values)}")
        for a, b in RATIO_PAIRS:
            if a in series and b in series:
                ratios = [(x / y) ** (1 if higher_is_better else -1) for x, y in zip(series[a], series[b], strict=True)]
                print(f"{a} / {b}: median of per-round speed-ups {statistics.median(ratios):.2f}x")


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


@functools.cache
def ctranslate2_generator(directory: Path) -> Callable[[list[int], int], object]:
    """CTranslate2's int8 CPU generator on the same weights (converted once, kept beside them):
    a function of prompt ids and a number of new tokens that generates greedily."""
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

    return generate


def ctranslate2_decode_tok_s(generate: Callable[[list[int], int], object], ids: list[int], repeats: int) -> float:
    total = best_ms(lambda: generate(ids[:128], DECODE_TOKENS + 1), repeats)
    return 1000 * DECODE_TOKENS / (total - best_ms(lambda: generate(ids[:128], 1), repeats))


def bench_ctranslate2(directory: Path, ids: list[int], repeats: int) -> dict[str, float]:
    generate = ctranslate2_generator(directory)
    results = {f"prefill_{n}_ms": best_ms(lambda n=n: generate(ids[:n], 1), repeats) for n in PREFILLS}
    results["decode_tok_s"] = ctranslate2_decode_tok_s(generate, ids, repeats)
    results["append_uncached_ms"] = best_ms(lambda: generate(ids[: APPEND_LENGTH + 1], 1), repeats)
    return results


def ctranslate2_round(directory: Path, ids: list[int]) -> dict[str, float]:
    generate = ctranslate2_generator(directory)
    prefill_ms = best_ms(lambda: generate(ids[: PREFILLS[0]], 1), 1)
    return {"prefill_1024_ms": prefill_ms, "decode_tok_s": ctranslate2_decode_tok_s(generate, ids, 1)}


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


def bench_llama_cpp(
    directory: Path, llama_cpp: Path, repeats: int, prompts: tuple[int, ...] = PREFILLS
) -> dict[str, float]:
    """llama.cpp q8_0 on the same weights: its own converter, then `llama-bench` (which feeds
    random tokens, so only the prompt lengths matter). `llama_cpp` is a built llama.cpp tree."""
    gguf = directory / "llama-cpp-q8_0.gguf"
    if not gguf.exists():
        convert = [sys.executable, "-c", LLAMA_CPP_CONVERT, str(llama_cpp), str(directory)]
        subprocess.run([*convert, "--outtype", "q8_0", "--outfile", str(gguf)], check=True, capture_output=True)
    lengths = ",".join(map(str, prompts))
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


def load_arm(directory: str | Path, spec: str) -> model.Engine:
    """The engine for a `--dtypes` entry: a dtype, or `int8:PATH` to force int8's prefill path."""
    dtype, _, prefill = spec.partition(":")
    engine = model.load(directory, device="cpu", dtype=dtype, int8_prefill=prefill or "auto")
    if engine.int8_prefill is not None:
        print(f"{spec}: {engine.int8_prefill.describe()}")
    return engine


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    # CTranslate2 runs in a process of its own: loaded into ours, its thread pool halved our
    # small-model decode rate, even between its own runs.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as peer_process:
        return run_all(args, peer_process)


def run_all(args: argparse.Namespace, peer_process: ProcessPoolExecutor) -> dict[str, dict[str, float]]:
    report: dict[str, dict[str, float]] = {}
    bandwidth = memory_bandwidth_gb_s()
    print(f"memory read bandwidth: {bandwidth:.1f} GB/s, torch threads: {torch.get_num_threads()}")
    reference: list[torch.Tensor] = []
    for dtype in [] if args.interleave_only else args.dtypes.split(","):
        engine = load_arm(args.model, dtype)
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
            ctranslate2 = peer_process.submit(bench_ctranslate2, Path(args.model), ids, args.repeats)
            report["ctranslate2_int8"] = ctranslate2.result()
        if dtype == "int8" and args.llama_cpp:
            report["llama_cpp_q8_0"] = bench_llama_cpp(Path(args.model), args.llama_cpp, args.repeats)
        print_table(report, dtype)
    print_summary(report)
    if args.interleave:
        results = interleaved(args.interleave, interleaved_runners(args, peer_process))
        print_interleaved(results)
        report["interleaved_medians"] = {name: medians(runs) for name, runs in results.items()}
    return report


def interleaved_runners(
    args: argparse.Namespace, peer_process: ProcessPoolExecutor
) -> dict[str, Callable[[], dict[str, float]]]:
    """Our dtypes and, next to int8, the peers asked for: what `--interleave` alternates."""
    directory, dtypes = Path(args.model), args.dtypes.split(",")
    engines = {dtype: load_arm(directory, dtype) for dtype in dtypes}
    ids = next(iter(engines.values())).tokenizer.encode(sample_text())
    runners: dict[str, Callable[[], dict[str, float]]] = {
        dtype: functools.partial(ours_round, engine, ids) for dtype, engine in engines.items()
    }
    if "int8" in dtypes and args.peers:
        runners["ctranslate2_int8"] = lambda: peer_process.submit(ctranslate2_round, directory, ids).result()
    if "int8" in dtypes and args.llama_cpp:
        runners["llama_cpp_q8_0"] = functools.partial(bench_llama_cpp, directory, args.llama_cpp, 1, PREFILLS[:1])
    return runners


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
    parser = argparse.ArgumentParser(prog="python -m bench.runtime", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory to benchmark")
    parser.add_argument("--make-random", choices=sorted(SHAPES), help="first write a random model")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer directory for --make-random")
    parser.add_argument("--out", type=Path, help="where --make-random writes the model")
    parser.add_argument("--dtypes", default="fp32,bf16,int8", help="comma-separated: fp32,bf16,fp16,int8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--interleave", type=int, default=0, metavar="ROUNDS",
        help="then measure 1024-token prefill and decode of every dtype (and peer) in alternation for ROUNDS "
        "rounds: fair ratios on a drifting host",
    )  # fmt: skip
    parser.add_argument("--interleave-only", action="store_true", help="only the interleaved rounds (for large models)")
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
