"""scripts/device-train rehearsed on CPU (`--device cpu --tiny`): every stage, and what comes back
fits the device tool's limits and loads as a model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

import model
from train.device_train import MAX_FILE_BYTES, MAX_FILES, main, pack_extra_corpus

ROOT = Path(__file__).resolve().parent.parent

JAVA = """/** A counter that {tag}. */
public class Counter{n} {{
    // how many times {tag}
    private int count;

    public void add(int step) {{
        count += step * {n};
    }}

    public int get() {{
        return count;
    }}
}}
"""
JS = """// Helpers that {tag}.
function scale{n}(values, factor) {{
  // every value times the factor, {tag}
  return values.map((v) => v * factor + {n});
}}

module.exports = {{ scale{n} }};
"""


def carried_corpus(root: Path) -> Path:
    """A `santa-train corpus` folder with npm and Debian sources, as prepare takes it."""
    tags = ["counts clicks", "tracks pages", "sums totals", "tallies votes"]
    for n, tag in enumerate(tags):
        for registry, name, text in (("debian", f"Counter{n}.java", JAVA), ("npm", f"scale{n}.js", JS)):
            path = root / "files" / registry / f"pkg{n}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.format(n=n, tag=tag))
    sources = [
        {"registry": "npm", "name": "pkg", "version": "1.0", "license": "MIT", "files": 4, "bytes": 900},
        {"registry": "debian", "name": "pkg-java", "version": "upstream", "license": "Apache-2.0", "files": 4,
         "bytes": 1200},
        {"registry": "pypi", "name": "left-behind", "version": "1.0", "license": "MIT", "files": 1, "bytes": 9},
    ]  # fmt: skip
    (root / "MANIFEST.json").write_text(json.dumps({"sources": sources, "skipped": []}))
    return root


@pytest.mark.slow
def test_the_cpu_rehearsal_runs_every_stage_and_brings_back_a_model(tmp_path: Path) -> None:
    archive = tmp_path / "extra-corpus.tar.xz"
    pack_extra_corpus(carried_corpus(tmp_path / "corpus"), archive)
    out = tmp_path / "out"
    command = [
        sys.executable, str(ROOT / "scripts" / "device-train"), "--device", "cpu", "--tiny", "--minutes", "4",
        "--out", str(out), "--extra-corpus", str(archive), "--work", str(tmp_path),
    ]  # fmt: skip
    # The rehearsal stops training after 8 steps and is done in about a minute; the budget of 4
    # leaves the evaluations room on a busy machine (a deadline would stop them, and say so).
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    report = json.loads((out / "report.json").read_text())
    stages = report["stages"]
    assert {name: stage["status"] for name, stage in stages.items()} == dict.fromkeys(
        ("corpus", "data", "probe", "train", "eval", "output"), "ok"
    )
    assert set(stages["corpus"]["results"]["sources"]) == {"python-site", "npm", "debian"}
    trained = stages["train"]["results"]
    assert stages["probe"]["results"]["step_s"] > 0 and trained["steps"] >= 1
    assert trained["published_step"] == trained["steps"]  # the weights in OUT are the last step's
    for label in ("trained", "baseline"):
        (figures,) = stages["eval"]["results"][label].values()
        assert isinstance(figures, dict), figures
        assert {"humaneval_infill_psm", "humaneval_infill_spm", "fim_single_line_spm", "perplexity"} <= set(figures)

    # What comes back: few, small, plainly named files, no folders.
    files = list(out.iterdir())
    assert len(files) <= MAX_FILES and all(p.is_file() and p.stat().st_size <= MAX_FILE_BYTES for p in files)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in files)
    assert stages["output"]["results"]["problems"] == []

    # The weights and the bundle make a model directory that loads and infills.
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    for weights in out.glob("model*.safetensors*"):
        (unpacked / weights.name).write_bytes(weights.read_bytes())
    with tarfile.open(out / "bundle.tar.gz") as bundle:
        bundle.extractall(unpacked, filter="data")
    engine = model.load(unpacked, device="cpu")
    assert engine.net.transformer.wte.weight.dtype == torch.float32  # widened from fp16 for the CPU
    assert engine.infill("def f(x):\n    ", "\n", mode="spm", config=model.GenerationConfig(max_new_tokens=4))
    manifest = json.loads((unpacked / "CORPUS_MANIFEST.json").read_text())
    registries = {s["registry"] for s in manifest["sources"]}
    assert registries == {"python-site", "npm", "debian"}  # the carried pypi entry stays behind
    assert all(s["license"] for s in manifest["sources"]) and "built" in manifest
    log = [json.loads(line) for line in (unpacked / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, stages["train"]["results"]["steps"] + 1))
    for name in ("data-report.json", "recipe.json", "heldout-eval.jsonl.gz", "config.json", "tokenizer.json"):
        assert (unpacked / name).is_file(), name


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_asked_for_without_cuda_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_gpu_model_comes_back_in_three_shards_and_ships_under_50_mb(tmp_path: Path) -> None:
    """train/configs/device-model.toml's model, exported as the run exports it."""
    from model.tokenizer import load_tokenizer
    from train.device_train import RECIPE, TOKENIZER
    from train.export import export_model
    from train.modeling import fresh_network
    from train.recipe import load_recipe

    recipe = load_recipe(RECIPE)
    net = fresh_network(recipe.model, load_tokenizer(TOKENIZER).vocab_size, seed=0)
    out = export_model(net, TOKENIZER, tmp_path / "m", dtype=torch.float16, max_shard_bytes=MAX_FILE_BYTES)
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) == 3 and all(p.stat().st_size <= MAX_FILE_BYTES for p in shards)
    assert sum(p.stat().st_size for p in shards) < 50e6
    # With report.json, bundle.tar.gz, the index and the caller's run.log, one file is left for
    # the temporary copy that rewrites a file whole.
    assert len(shards) + 4 + 1 <= MAX_FILES


def test_prepare_packs_only_the_carried_registries(tmp_path: Path) -> None:
    archive = tmp_path / "extra.tar.xz"
    pack_extra_corpus(carried_corpus(tmp_path / "corpus"), archive)
    with tarfile.open(archive) as packed:
        names = packed.getnames()
        manifest = json.loads(packed.extractfile("MANIFEST.json").read())  # type: ignore[union-attr]
    assert {s["registry"] for s in manifest["sources"]} == {"npm", "debian"}
    assert "files/npm/pkg0/scale0.js" in names and "files/debian/pkg3/Counter3.java" in names
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "MANIFEST.json").write_text(json.dumps({"sources": [], "skipped": []}))
    with pytest.raises(ValueError, match="lists no npm or Debian sources"):
        pack_extra_corpus(empty, tmp_path / "x.tar.xz")


def test_help_gives_the_device_tool_call() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "device-train"), "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "carry" in done.stdout and "timeout_s" in done.stdout
