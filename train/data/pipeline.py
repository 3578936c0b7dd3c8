"""The data pipeline: builds datatrove stages from a DataConfig and runs them resumably.

Layout of an output directory:

    OUTPUT/data/NNNNN.jsonl.gz   final shards: {"content", "lang", "path", "repo", "id", ...}
    OUTPUT/report.json           files/bytes in and out per step and language, time per step
    OUTPUT/dropped/              every file not in data/, with the reason: <step>/NNNNN.jsonl.gz
                                 (datatrove exclusion writers) and skipped.jsonl (never read)
    OUTPUT/_work/                plan, intermediate shards, dedup state, per-stage datatrove logs

Every stage is a datatrove executor whose tasks leave a completion marker; rerunning the same
command skips finished tasks (and finished stages), so a killed run resumes where it stopped.
`LocalPipelineExecutor` runs the tasks on this machine; the same step lists can be handed to
datatrove's Slurm or Ray executors to run on a cluster.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupCluster
from datatrove.pipeline.writers import JsonlWriter

from train.data.basic_filters import BasicFilter, LanguageFilter
from train.data.comments import CommentRatioFilter
from train.data.config import DataConfig
from train.data.decontaminate import DecontaminationFilter
from train.data.dedup import (
    CodeMinhashSignature,
    DuplicateFilter,
    ExactDuplicateFinder,
    ExactHashRecorder,
    minhash_config,
)
from train.data.fertility import FertilityFilter
from train.data.lifetime import DieWithRun, helpers_die_with_this_process
from train.data.pii import PiiRedactor
from train.data.report import build_report, format_report, write_report
from train.data.sources import (
    ShardFileReader,
    Skipped,
    UnitReader,
    build_plan,
    inputs_digest,
    load_plan,
    save_plan,
    save_skipped,
    skipped_counts,
)
from train.data.stars import StarsFilter
from train.data.steps import Measured, document_bytes
from train.shards import PIPELINE_DATA, PIPELINE_WORK

# Stages whose steps are `Measured`: the report is assembled from their per-task stats.
REPORTED_STAGES = ("filter", "finalize")
OUTPUT_FIELDS = ("lang", "path", "repo", "stars", "licenses")
DROPPED_DIR = "dropped"


@dataclass(frozen=True)
class Stage:
    name: str
    steps: list[PipelineStep]
    tasks: int


class WorkDir:
    """Paths under OUTPUT/_work (and the listing of dropped files), in one place."""

    def __init__(self, output: Path):
        self.dropped = output / DROPPED_DIR
        self.skipped = self.dropped / "skipped.jsonl"
        self.root = output / PIPELINE_WORK
        self.plan = self.root / "plan.json"
        self.fingerprint = self.root / "fingerprint"
        self.salt = self.root / "pii_salt"
        self.filtered = self.root / "filtered"
        self.exact_hashes = self.root / "exact" / "hashes"
        self.exact_remove = self.root / "exact" / "remove"
        self.signatures = self.root / "minhash" / "signatures"
        self.buckets = self.root / "minhash" / "buckets"
        self.near_remove = self.root / "minhash" / "remove"
        self.logs = self.root / "logs"


def output_record(writer: object, doc: Document) -> dict[str, Any]:
    """Shape of a line of the final shards (bound as a datatrove writer adapter)."""
    record = {"content": doc.text, "id": doc.id}
    record.update({key: doc.metadata[key] for key in OUTPUT_FIELDS if doc.metadata.get(key) is not None})
    return record


def dropped_record(writer: object, doc: Document) -> dict[str, Any]:
    """Shape of a line of the dropped-file listings: which file went and why, not its content
    (which would copy much of the corpus, e.g. every duplicate)."""
    meta = doc.metadata
    record = {key: meta.get(key) for key in ("path", "repo", "lang")}
    return {"id": doc.id, **record, "reason": meta.get("filter_reason"), "bytes": document_bytes(doc)}


def exclusion_writer(work: WorkDir, label: str) -> JsonlWriter:
    folder = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return JsonlWriter(str(work.dropped / folder), output_filename="${rank}.jsonl.gz", adapter=dropped_record)


def _measured(work: WorkDir, steps: list[tuple[str, PipelineStep | None]]) -> list[PipelineStep]:
    measured = []
    for label, step in steps:
        if step is None:
            continue
        # Filters (datatrove's BaseFilter) and the duplicate filters take an exclusion writer: give
        # one to each that has none, so that every dropped file is listed under its step.
        if getattr(step, "exclusion_writer", False) is None:
            step.exclusion_writer = exclusion_writer(work, label)
        measured.append(Measured(label, step))
    return measured


def filter_stage(cfg: DataConfig, work: WorkDir, tasks: int, extra: Sequence[PipelineStep]) -> Stage:
    steps = _measured(
        work,
        [
            ("read", UnitReader(str(work.plan))),
            ("language", LanguageFilter(cfg.languages)),
            ("basic filters", BasicFilter(cfg.basic)),
            ("comment ratio", CommentRatioFilter(cfg.comments) if cfg.comments.enabled else None),
            ("stars", StarsFilter(cfg.stars) if cfg.stars.min_stars is not None else None),
            ("fertility", FertilityFilter(cfg.fertility) if cfg.fertility.tokenizer_path else None),
            *((f"custom: {step.name}", step) for step in extra),
            ("decontamination", DecontaminationFilter(cfg.decontam) if cfg.decontam.enabled else None),
        ],
    )
    if cfg.dedup.exact:
        steps.append(ExactHashRecorder(str(work.exact_hashes)))
    steps.append(JsonlWriter(str(work.filtered), output_filename="${rank}.jsonl.gz"))
    return Stage("filter", steps, tasks)


def dedup_stages(cfg: DataConfig, work: WorkDir, tasks: int) -> list[Stage]:
    stages = []
    if cfg.dedup.exact:
        finder = ExactDuplicateFinder(str(work.exact_hashes), str(work.exact_remove), tasks)
        stages.append(Stage("exact-dedup", [finder], 1))
    if cfg.dedup.near:
        mh = minhash_config(cfg.dedup)
        read: list[PipelineStep] = [ShardFileReader(str(work.filtered))]
        if cfg.dedup.exact:  # signatures must index the same stream the final stage filters
            read.append(DuplicateFilter(str(work.exact_remove), "exact_duplicate"))
        signatures = CodeMinhashSignature(str(work.signatures), cfg.dedup)
        buckets = MinhashDedupBuckets(str(work.signatures), str(work.buckets), config=mh)
        cluster = MinhashDedupCluster(str(work.buckets), str(work.near_remove), config=mh)
        stages += [
            Stage("near-dedup-signatures", [*read, signatures], tasks),
            Stage("near-dedup-buckets", [buckets], mh.num_buckets),
            Stage("near-dedup-cluster", [cluster], 1),
        ]
    return stages


def finalize_stage(cfg: DataConfig, work: WorkDir, output: Path, tasks: int, salt: str) -> Stage:
    exact = DuplicateFilter(str(work.exact_remove), "exact_duplicate") if cfg.dedup.exact else None
    near = DuplicateFilter(str(work.near_remove), "near_duplicate") if cfg.dedup.near else None
    steps: list[PipelineStep] = [
        ShardFileReader(str(work.filtered)),
        *_measured(
            work,
            [
                ("exact dedup", exact),
                ("near dedup", near),
                ("pii redaction", PiiRedactor(salt) if cfg.pii.enabled else None),
            ],
        ),
        JsonlWriter(str(output / PIPELINE_DATA), output_filename="${rank}.jsonl.gz", adapter=output_record),
    ]
    return Stage("finalize", steps, tasks)


def _check_fingerprint(work: WorkDir, fingerprint: str) -> None:
    if work.fingerprint.exists():
        if work.fingerprint.read_text() != fingerprint:
            raise ValueError(
                f"{work.root.parent} holds a run with other inputs or settings; "
                "use a new --output directory (or delete this one) to start over"
            )
        return
    work.root.mkdir(parents=True, exist_ok=True)
    work.fingerprint.write_text(fingerprint)


def _read_or_create_salt(work: WorkDir) -> str:
    """The key of the PII placeholders' HMAC: a digest of every input file, made with the plan.

    The same inputs are then redacted alike on every run (a fine-tune's held-out text, and so its
    scores, do not change between reruns), while reversing a placeholder by hashing guesses needs
    the key, that is the inputs themselves, which hold the value anyway."""
    if not work.salt.exists():
        work.salt.write_text(inputs_digest(load_plan(work.plan)))
    return work.salt.read_text()


def run_stage(stage: Stage, work: WorkDir, workers: int) -> float:
    executor = LocalPipelineExecutor(
        [DieWithRun(), *stage.steps],
        tasks=stage.tasks,
        workers=max(1, min(workers, stage.tasks)),
        logging_dir=str(work.logs / stage.name),
    )
    pending = len(executor.get_incomplete_ranks())
    print(
        f"[santa-train data] {stage.name}: {stage.tasks - pending}/{stage.tasks} tasks already done",
        flush=True,
    )
    started = time.perf_counter()
    if pending:
        with helpers_die_with_this_process():
            executor.run()
    return time.perf_counter() - started


def run_pipeline(
    inputs: Sequence[str | Path],
    output: str | Path,
    config: DataConfig | None = None,
    workers: int = 1,
    extra_filters: Sequence[PipelineStep] = (),
) -> dict[str, Any]:
    """Runs (or resumes) the whole pipeline and returns the report, also saved as report.json.

    `extra_filters` are additional datatrove steps run after the built-in filters, e.g. a
    project-specific filter; they are not part of the resume fingerprint.
    """
    cfg = config or DataConfig()
    input_paths = [Path(p) for p in inputs]
    output_path = Path(output)
    work = WorkDir(output_path)
    _check_fingerprint(work, cfg.fingerprint(input_paths))
    if not work.plan.exists():
        skipped: list[Skipped] = []
        units = build_plan(input_paths, cfg.languages, cfg.shard_bytes, skipped)
        if not units:
            raise ValueError(f"no input files for languages {', '.join(cfg.languages)} in {inputs}")
        save_skipped(skipped, work.skipped)  # before the plan, whose presence means planning is done
        save_plan(units, work.plan)
    tasks = len(load_plan(work.plan))
    stages = [
        filter_stage(cfg, work, tasks, extra_filters),
        *dedup_stages(cfg, work, tasks),
        finalize_stage(cfg, work, output_path, tasks, _read_or_create_salt(work)),
    ]
    stage_seconds = {stage.name: run_stage(stage, work, workers) for stage in stages}
    report = build_report(
        [work.logs / name for name in REPORTED_STAGES], stage_seconds, skipped_counts(work.skipped), DROPPED_DIR
    )
    write_report(report, output_path / "report.json")
    print(format_report(report), flush=True)
    return report
