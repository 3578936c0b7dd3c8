"""`scripts/device-check`: the CUDA tests, then the runtime benchmark, into one output directory.

    scripts/device-check --out device-check/             # a CUDA machine: fp16, SantaCoder's shape
    scripts/device-check --device cpu --tiny --out tmp/  # the CPU rehearsal (CI runs it)

Steps, each recorded in `report.json` and `report.md` as soon as it ends (a failed step is
recorded with its error and the next one runs, so a run cut short still leaves its figures):
1. pytest on the tests marked `cuda` (tests/test_model_cuda.py): pass/fail counts and the log;
2. a random SantaCoder-shaped model written once (the shipped model's tokenizer), so that our
   runtime and transformers' GPTBigCodeForCausalLM read the same weights;
3. the device's memory bandwidth, from a large copy (CPU: a large sum);
4. our runtime: prefill of 1024 and 1536 tokens, decode tokens/s at batch 1 and 8, and one
   keystroke: a character typed at the end of a 1500-token prompt, then a 16-token line, with
   the prefix cache; once per decode mode (model/decoding.py: on CUDA eager, graph and compile,
   compile last as it spends a minute or more compiling; on CPU eager and static);
5. transformers' `generate` on the same figures (it keeps no cache across calls, so its
   keystroke is a full prefill).
The decode rate is also given against the bandwidth limit: weight bytes read per token over
the bandwidth measured in step 3.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

import model
from bench.runtime import memory_bandwidth_gb_s, sample_text, weight_bytes_per_token
from model import GenerationConfig
from model.checkpoint import save_checkpoint
from model.config import ModelConfig
from model.gpt_bigcode import GPTBigCode, init_weights
from model.tokenizer import load_tokenizer

ROOT = Path(__file__).resolve().parent.parent
CUDA_TESTS = "tests/test_model_cuda.py"
TOKENIZER = ROOT / "model" / "default_model"  # any real code tokenizer: the weights are random


@dataclass(frozen=True)
class Shape:
    n_layer: int
    n_embd: int
    n_head: int
    n_inner: int
    vocab_size: int
    n_positions: int = 2048


# SantaCoder 1.1B: its published shape (MQA), the vocabulary padded to a multiple of 128.
SANTACODER = Shape(n_layer=24, n_embd=2048, n_head=16, n_inner=8192, vocab_size=49280)
TINY = Shape(n_layer=2, n_embd=64, n_head=4, n_inner=256, vocab_size=8320)


@dataclass(frozen=True)
class Sizes:
    """What is measured: sized so the whole check ends well within 5 minutes on an H200."""

    prefills: tuple[int, ...] = (1024, 1536)
    decode_prompt: int = 128
    decode_tokens: int = 64
    batch: int = 8
    keystroke_prompt: int = 1500
    line_tokens: int = 16
    repeats: int = 5


FULL_SIZES = Sizes(repeats=3)
TINY_SIZES = Sizes(decode_tokens=16, repeats=2)
VARIANTS = {"cuda": ("eager", "graph", "compile"), "cpu": ("eager", "static")}
# A step is started only while this much of --budget-s is left: a compile can take minutes.
STEP_RESERVE_S = {"compile": 120.0}
GPU_COPY_BYTES = 4 * 2**30  # far beyond any cache (an H200 has 60 MB of L2)

# (key, label, higher is better): the rows of the table, ours and transformers alike.
ROWS = [
    ("prefill_1024_ms", "prefill 1024 tokens (ms)", False),
    ("prefill_1536_ms", "prefill 1536 tokens (ms)", False),
    ("decode_b1_tok_s", "decode, batch 1 (tokens/s)", True),
    ("decode_b8_tok_s", "decode, batch 8 (tokens/s, all rows)", True),
    ("keystroke_line_ms", "keystroke: +1 char on 1500 tokens, then a 16-token line (ms)", False),
    ("keystroke_first_token_ms", "keystroke: first token (ms)", False),
]
# The targets on the H200, checked in the table when the full shape ran on CUDA.
TARGET_DECODE_VS_TRANSFORMERS = 3.0
TARGET_PCT_OF_LIMIT = 40.0
TARGET_KEYSTROKE_MS = 50.0


class Report:
    """report.json and report.md in the output directory, rewritten whenever a figure lands."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out = out
        self.data: dict[str, Any] = {"meta": meta, "steps": {}}
        out.mkdir(parents=True, exist_ok=True)
        self.write()

    @contextmanager
    def step(self, name: str) -> Iterator[Figures]:
        """Run one step: its figures, its status and, if it failed, its error are recorded."""
        figures = Figures(self)
        entry: dict[str, Any] = {"status": "running", "results": figures}
        self.data["steps"][name] = entry
        self.write()
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            yield figures
            entry["status"] = "ok"
        except Exception as error:  # a failed step is a result: record it and go on
            entry["status"] = "failed"
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = traceback.format_exc()
            print(f"{name} failed: {entry['error']}", file=sys.stderr, flush=True)
        finally:
            entry["seconds"] = round(time.perf_counter() - started, 1)
            self.write()

    def skip(self, name: str, reason: str) -> None:
        self.data["steps"][name] = {"status": "skipped", "reason": reason, "results": {}}
        self.write()

    def results(self, name: str) -> dict[str, Any]:
        return self.data["steps"].get(name, {}).get("results", {})

    @property
    def all_ok(self) -> bool:
        steps = self.data["steps"].values()
        return all(s["status"] in ("ok", "skipped") for s in steps) and not self.results("cuda_tests").get("failed")

    def write(self) -> None:
        for name, text in (("report.json", json.dumps(self.data, indent=2)), ("report.md", render(self.data))):
            partial = self.out / f"{name}.tmp"
            partial.write_text(text + "\n", encoding="utf-8")
            partial.replace(self.out / name)  # whole files only, even if the run is killed


class Figures(dict[str, Any]):
    """A step's results; each one is written to disk as soon as it is measured."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self._report = report

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        print(f"   {key}: {value}", flush=True)
        self._report.write()


# --- step 1: the tests marked cuda -----------------------------------------------------------


def run_cuda_tests(out: Path, timeout_s: float, figures: Figures) -> None:
    junit = out / "cuda-tests.xml"
    command = [
        # --noconftest: the suite's conftest imports the server's test support (pygls), which a GPU
        # machine lacks; the file skips without CUDA on its own.
        sys.executable, "-m", "pytest", "-m", "cuda", CUDA_TESTS, "--noconftest", "-p", "no:cacheprovider", "-rfEs",
        f"--junitxml={junit}",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        log, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        log, code = f"{_text(expired.stdout)}{_text(expired.stderr)}\ntimed out after {timeout_s:.0f} s", None
    (out / "cuda-tests.log").write_text(log, encoding="utf-8")
    figures["exit_code"] = code
    if not junit.is_file():
        raise RuntimeError(f"pytest wrote no report (exit code {code}); see cuda-tests.log")
    figures.update(junit_counts(junit))
    figures["log"] = "cuda-tests.log"


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def junit_counts(path: Path) -> dict[str, Any]:
    """Passed, failed (errors included) and skipped counts, and the failed tests' names."""
    cases = ElementTree.parse(path).getroot().iter("testcase")
    outcome = {"passed": [], "failed": [], "skipped": []}
    for case in cases:
        name = f"{case.get('classname')}.{case.get('name')}"
        kinds = {child.tag for child in case}
        kind = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        outcome[kind].append(name)
    return {
        "passed": len(outcome["passed"]), "failed": len(outcome["failed"]), "skipped": len(outcome["skipped"]),
        "failed_tests": outcome["failed"],
    }  # fmt: skip


# --- step 2: the random model ----------------------------------------------------------------


def make_random_model(directory: Path, shape: Shape, seed: int = 0) -> int:
    """Write a random model of `shape` in fp16 with the shipped tokenizer; its parameter count."""
    config = ModelConfig(**asdict(shape))
    with torch.device("meta"):  # no default initialisation of a billion weights to overwrite
        net = GPTBigCode(config)
    net.to_empty(device="cpu")
    net.lm_head.weight = net.transformer.wte.weight
    init_weights(net, seed=seed)
    save_checkpoint(directory, config, net.half().state_dict(), TOKENIZER)
    return sum(p.numel() for p in net.parameters())


# --- step 3: bandwidth -----------------------------------------------------------------------


def bandwidth_gb_s(device: torch.device) -> float:
    """Bytes moved per second: a large device-to-device copy (read + write), or a CPU sum."""
    if device.type == "cpu":
        return memory_bandwidth_gb_s()
    source = torch.empty(GPU_COPY_BYTES, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    copies, start, end = 10, torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(copies):
        target.copy_(source)
    end.record()
    torch.cuda.synchronize(device)
    seconds = start.elapsed_time(end) / 1000
    del source, target
    torch.cuda.empty_cache()
    return 2 * GPU_COPY_BYTES * copies / seconds / 1e9


# --- steps 4 and 5: the runtime benchmark ----------------------------------------------------


def best_ms(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """The fastest of `repeats` runs after one warm-up, the device synchronised around each."""
    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def bench_ours(engine: model.Engine, ids: list[int], sizes: Sizes, sync: Callable[[], None], figures: Figures) -> None:
    cold = GenerationConfig(max_new_tokens=1, use_prefix_cache=False)
    started = time.perf_counter()  # the first decode captures or compiles the step
    engine.candidates(ids[: sizes.decode_prompt], GenerationConfig(max_new_tokens=2, candidates=sizes.batch))
    engine.generate(ids[: sizes.decode_prompt], GenerationConfig(max_new_tokens=2))
    figures["first_calls_s"] = time.perf_counter() - started
    for n in sizes.prefills:
        figures[f"prefill_{n}_ms"] = best_ms(lambda n=n: engine.generate(ids[:n], cold), sizes.repeats, sync)
    prompt = ids[: sizes.decode_prompt]
    figures["decode_b1_tok_s"] = max(decode_tok_s(engine, prompt, sizes.decode_tokens) for _ in range(sizes.repeats))
    figures["decode_b8_tok_s"] = max(
        batch_decode_tok_s(engine, prompt, sizes.batch, sizes.decode_tokens) for _ in range(sizes.repeats)
    )
    text = engine.tokenizer.decode(ids[: sizes.keystroke_prompt])
    line = GenerationConfig(max_new_tokens=sizes.line_tokens)
    typed, runs = iter(range(1, 1000)), []
    # The prompt as it was a keystroke ago is cached by the warm-up; each run types one more character.
    keystroke = lambda: runs.append(engine.generate(text + "x" * next(typed), line))  # noqa: E731
    figures["keystroke_line_ms"] = best_ms(keystroke, sizes.repeats, sync)
    figures["keystroke_first_token_ms"] = 1000 * min(run.first_token_s or 0.0 for run in runs[1:])
    figures["keystroke_reused_tokens"] = runs[-1].reused_tokens
    figures["keystroke_prompt_tokens"] = runs[-1].prompt_tokens


def decode_tok_s(engine: model.Engine, prompt: list[int], tokens: int) -> float:
    """One greedy run's decode rate, from its first token to its last."""
    run = engine.generate(prompt, GenerationConfig(max_new_tokens=tokens + 1, use_prefix_cache=False))
    return (len(run.token_ids) - 1) / (run.elapsed_s - (run.first_token_s or 0.0))


def batch_decode_tok_s(engine: model.Engine, prompt: list[int], batch: int, tokens: int) -> float:
    """`batch` greedy candidates of one prompt decoded together: tokens/s over all rows."""
    config = GenerationConfig(max_new_tokens=tokens + 1, use_prefix_cache=False, candidates=batch)
    runs = engine.candidates(prompt, config)
    steps = max(len(run.token_ids) for run in runs) - 1  # every row is fed until the last stops
    return batch * steps / (runs[0].elapsed_s - (runs[0].first_token_s or 0.0))


def bench_transformers(
    directory: Path, device: torch.device, dtype: torch.dtype, ids: list[int], sizes: Sizes,
    sync: Callable[[], None], figures: Figures,
) -> None:  # fmt: skip
    from transformers import GPTBigCodeForCausalLM

    net = GPTBigCodeForCausalLM.from_pretrained(directory, dtype=dtype).to(device).eval()

    def generate(prompt: list[int], batch: int, new: int) -> None:
        tensor = torch.tensor([prompt] * batch, device=device)
        with torch.inference_mode():
            net.generate(
                tensor, attention_mask=torch.ones_like(tensor), max_new_tokens=new, min_new_tokens=new,
                do_sample=False, pad_token_id=0,
            )  # fmt: skip

    def ms(prompt: list[int], batch: int, new: int) -> float:
        return best_ms(lambda: generate(prompt, batch, new), sizes.repeats, sync)

    for n in sizes.prefills:
        figures[f"prefill_{n}_ms"] = ms(ids[:n], 1, 1)
    prompt = ids[: sizes.decode_prompt]
    for batch in (1, sizes.batch):
        decode_ms = ms(prompt, batch, sizes.decode_tokens + 1) - ms(prompt, batch, 1)
        figures[f"decode_b{batch}_tok_s"] = 1000 * batch * sizes.decode_tokens / decode_ms
    keystroke = ids[: sizes.keystroke_prompt + 1]
    figures["keystroke_line_ms"] = ms(keystroke, 1, sizes.line_tokens)
    figures["keystroke_first_token_ms"] = ms(keystroke, 1, 1)


# --- the report ------------------------------------------------------------------------------


def render(data: dict[str, Any]) -> str:
    """The markdown report: what ran where, the tests, the table, every step's status."""
    meta, steps = data["meta"], data["steps"]
    lines = ["# device-check", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    tests = steps.get("cuda_tests", {}).get("results", {})
    if "passed" in tests:
        lines.append(
            f"- tests marked cuda: {tests['passed']} passed, {tests['failed']} failed, {tests['skipped']} skipped"
            + "".join(f"\n  - failed: {name}" for name in tests["failed_tests"])
        )
    bandwidth = steps.get("bandwidth", {}).get("results", {}).get("gb_s")
    if bandwidth:
        lines.append(f"- memory bandwidth measured: {bandwidth:.0f} GB/s")
    for name, step in steps.items():
        first, fallback = step["results"].get("first_calls_s"), step["results"].get("fallback")
        if first is not None:
            lines.append(f"- {name}: first decode calls (capture or compile included) {first:.1f} s")
        if fallback:
            lines.append(f"- {name}: {fallback}")
    lines += ["", *render_table(steps, bandwidth), "", "| step | status | seconds | note |", "|---|---|---|---|"]
    for name, step in steps.items():
        note = step.get("error") or step.get("reason") or ""
        lines.append(f"| {name} | {step['status']} | {step.get('seconds', '')} | {note.replace('|', '/')} |")
    return "\n".join(lines)


def render_table(steps: dict[str, Any], bandwidth: float | None) -> list[str]:
    ours = {name: step["results"] for name, step in steps.items() if name.startswith("ours")}
    theirs = steps.get("transformers", {}).get("results", {})
    if not ours and not theirs:
        return []
    header = "| figure | " + " | ".join(f"{name} | {name} / transformers" for name in ours) + " | transformers |"
    lines = [header, "|---" * (2 * len(ours) + 2) + "|"]
    for key, label, higher_is_better in ROWS:
        cells = []
        for figures in ours.values():
            cells += [_fmt(figures.get(key)), _ratio(figures.get(key), theirs.get(key), higher_is_better)]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_fmt(theirs.get(key))} |")
    weight_bytes = steps.get("model", {}).get("results", {}).get("weight_bytes_per_token")
    if bandwidth and weight_bytes:
        limit = bandwidth * 1e9 / weight_bytes
        for batch in (1, 8):
            rates = [figures.get(f"decode_b{batch}_tok_s") for figures in ours.values()]
            cells = [f"{100 * rate / (batch * limit):.0f}%" if rate else "-" for rate in rates]
            cells = [c for cell in cells for c in (cell, "")]
            label = f"decode batch {batch}, % of the bandwidth limit ({batch * limit:.0f} tokens/s)"
            lines.append(f"| {label} | " + " | ".join(cells) + " | - |")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(mine: float | None, base: float | None, higher_is_better: bool) -> str:
    if not mine or not base:
        return "-"
    return f"{(mine / base) ** (1 if higher_is_better else -1):.2f}x"


def machine(device: torch.device, shape: Shape, dtype: str) -> dict[str, Any]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    versions = {package: _version(package) for package in ("torch", "transformers")}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "device": f"{device.type}: {name}",
        "cpu threads": torch.get_num_threads(),
        "python": platform.python_version(),
        **versions,
        "commit": _commit(),
        "model": f"random, {shape.n_layer} layers, hidden {shape.n_embd}, {shape.n_head} heads (MQA), "
        f"vocabulary {shape.vocab_size}, context {shape.n_positions}; {dtype}",
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown (no git checkout)"


# --- the command -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/device-check", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for report.json, report.md and logs")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--dtype", choices=("fp16", "bf16", "fp32"), help="default: fp16 on cuda, fp32 on cpu")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model: the whole check in seconds on CPU")
    parser.add_argument("--no-tests", action="store_true", help="skip the tests marked cuda")
    parser.add_argument("--tests-timeout", type=float, default=150.0, metavar="S", help="seconds for the tests")
    parser.add_argument(
        "--variants", help="decode modes of ours, comma-separated (default: cuda eager,graph,compile; cpu eager,static)"
    )
    parser.add_argument(
        "--budget-s", type=float, default=270.0, metavar="S",
        help="seconds the whole check may take: a step that needs more than is left is skipped (default 270)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but CUDA is not available here (use --device cpu --tiny)", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    dtype = args.dtype or ("fp16" if device.type == "cuda" else "fp32")
    shape, sizes = (TINY, TINY_SIZES) if args.tiny else (SANTACODER, FULL_SIZES)
    variants = args.variants.split(",") if args.variants else list(VARIANTS[device.type])
    report = Report(args.out, machine(device, shape, dtype))
    deadline = time.monotonic() + args.budget_s
    if args.no_tests:
        report.skip("cuda_tests", "--no-tests")
    else:
        with report.step("cuda_tests") as figures:
            run_cuda_tests(args.out, args.tests_timeout, figures)
    with tempfile.TemporaryDirectory(prefix="device-check-") as work:
        run_benchmark(report, Path(work) / "model", device, dtype, shape, sizes, variants, deadline)
    print(f"\n{render(report.data)}\n\nwritten to {args.out}")
    return 0 if report.all_ok else 1


def run_benchmark(
    report: Report, directory: Path, device: torch.device, dtype: str, shape: Shape, sizes: Sizes,
    variants: list[str], deadline: float,
) -> None:  # fmt: skip
    """Steps 2 to 5."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    with report.step("model") as figures:
        figures["parameters"] = make_random_model(directory, shape)
    with report.step("bandwidth") as figures:
        figures["gb_s"] = bandwidth_gb_s(device)
    ids = load_tokenizer(directory).encode(sample_text())
    ids = ids[: max(*sizes.prefills, sizes.keystroke_prompt) + 1]
    # transformers after our variants, but before one that compiles: a compile can take minutes.
    order = (
        [mode for mode in variants if mode != "compile"] + ["transformers"] + (["compile"] * ("compile" in variants))
    )
    for runner in order:
        name = runner if runner == "transformers" else f"ours_{runner}"
        reserve = STEP_RESERVE_S.get(runner, 20.0)
        if time.monotonic() > deadline - reserve:
            report.skip(name, f"less than {reserve:.0f} s of --budget-s left")
            continue
        with report.step(name) as figures:
            if runner == "transformers":
                bench_transformers(directory, device, model.DTYPES[dtype], ids, sizes, sync, figures)
            else:
                bench_variant(report, directory, device, dtype, runner, ids, sizes, sync, figures)


def bench_variant(
    report: Report, directory: Path, device: torch.device, dtype: str, mode: str, ids: list[int], sizes: Sizes,
    sync: Callable[[], None], figures: Figures,
) -> None:  # fmt: skip
    engine = model.load(directory, device=device.type, dtype=dtype, decode=mode)
    report.results("model")["weight_bytes_per_token"] = weight_bytes_per_token(engine)
    bench_ours(engine, ids, sizes, sync, figures)
    if engine.decoder.fallback:
        figures["fallback"] = engine.decoder.fallback
